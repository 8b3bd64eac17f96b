"""Signed tracking tokens: round trip, rotation, tamper rejection."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linktrack.core.tokens import KeyRing, SigningKey, TokenError, split_path


def ring(*kids: str) -> KeyRing:
    return KeyRing([SigningKey(kid, f"secret-{kid}".encode()) for kid in kids])


def parts(path: str) -> tuple[str, str]:
    _, payload, signature = split_path(path)
    return payload, signature


def test_click_round_trip() -> None:
    keys = ring("a")
    path = keys.signer().click_path("dlv1", "https://example.com/?a=1&b=ü", 7, 3)
    assert path.startswith("/e/c/")
    payload, signature = parts(path)
    assert "=" not in payload and len(signature) == 64
    token = keys.verify_click(payload, signature)
    assert (token.delivery_id, token.href, token.link_id, token.position) == (
        "dlv1",
        "https://example.com/?a=1&b=ü",
        7,
        3,
    )
    data = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    assert data["k"] == "a"


def test_open_round_trip_and_kinds_do_not_mix() -> None:
    keys = ring("a")
    payload, signature = parts(keys.signer().open_path("dlv9"))
    assert keys.verify_open(payload, signature).delivery_id == "dlv9"
    with pytest.raises(TokenError):
        keys.verify_click(payload, signature)
    click_payload, click_sig = parts(keys.signer().click_path("d", "https://x.com", 1, 1))
    with pytest.raises(TokenError):
        keys.verify_open(click_payload, click_sig)


def test_rotation_signs_with_newest_and_verifies_older_until_retired() -> None:
    keys = ring("old")
    old_path = keys.signer().click_path("d", "https://x.com", 1, 1)
    keys.add(SigningKey("new", b"secret-new"))
    new_path = keys.signer().click_path("d", "https://x.com", 1, 1)
    assert keys.signer().kid == "new"
    keys.verify_click(*parts(old_path))
    keys.verify_click(*parts(new_path))
    keys.retire("old")
    with pytest.raises(TokenError):
        keys.verify_click(*parts(old_path))
    keys.verify_click(*parts(new_path))


def test_wrong_key_rejected() -> None:
    path = ring("a").signer().click_path("d", "https://x.com", 1, 1)
    other = KeyRing([SigningKey("a", b"another secret")])
    with pytest.raises(TokenError):
        other.verify_click(*parts(path))


@pytest.mark.parametrize(
    "payload,signature",
    [
        ("", "0" * 64),
        ("!!!!", "0" * 64),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="), "0" * 64),
        (base64.urlsafe_b64encode(b"not json").decode().rstrip("="), "0" * 64),
        (base64.urlsafe_b64encode(b"[1,2]").decode().rstrip("="), "0" * 64),
        ("eyJrIjoiYSJ9", "XYZ"),
        ("eyJrIjoiYSJ9", "G" * 64),
        ("a" * 10000, "0" * 64),
    ],
)
def test_garbage_is_a_token_error(payload: str, signature: str) -> None:
    with pytest.raises(TokenError):
        ring("a").verify_click(payload, signature)


def test_non_http_destination_is_refused_even_if_signed() -> None:
    keys = ring("a")
    path = keys.signer().click_path("d", "javascript:alert(1)", 1, 1)
    with pytest.raises(TokenError):
        keys.verify_click(*parts(path))


def test_mailto_destination_signed_through_cio_link_verifies() -> None:
    keys = ring("a")
    path = keys.signer().click_path("d", "mailto:hi@example.com", 1, 0)
    assert keys.verify_click(*parts(path)).href == "mailto:hi@example.com"


@pytest.mark.parametrize("path", ["/e/x/a/b", "/e/c/a", "/e/c/a/b/c", "e/c/a/b", "/f/c/a/b"])
def test_split_path_rejects_other_paths(path: str) -> None:
    with pytest.raises(TokenError):
        split_path(path)


urls = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True),
    st.text(max_size=60),
)


@given(
    delivery=st.text(min_size=1, max_size=40),
    href=urls,
    link_id=st.integers(0, 2**53),
    position=st.integers(0, 10_000),
)
def test_property_round_trip(delivery: str, href: str, link_id: int, position: int) -> None:
    keys = ring("k1", "k2")
    token = keys.verify_click(*parts(keys.signer().click_path(delivery, href, link_id, position)))
    assert (token.delivery_id, token.href, token.link_id, token.position) == (
        delivery,
        href,
        link_id,
        position,
    )


@given(data=st.data(), href=urls)
def test_property_any_single_change_is_rejected(data: st.DataObject, href: str) -> None:
    keys = ring("k1")
    payload, signature = parts(keys.signer().click_path("dlv", href, 1, 1))
    token = payload + "/" + signature
    index = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/"
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[index]))
    mutated = token[:index] + replacement + token[index + 1 :]
    cut = data.draw(st.integers(1, len(token) - 1))
    for candidate in (mutated, token[:cut]):
        bits = candidate.split("/")
        if len(bits) != 2:
            continue
        with pytest.raises(TokenError):
            keys.verify_click(bits[0], bits[1])
