"""Forged and mutated click/open tokens: only what the workspace's key signed ever verifies.

`test_tokens.py` checks single-character changes and truncation of a genuine
token; here every kind of forgery an attacker can write by hand is generated:
bit flips and byte insertions anywhere, base64 padding and alphabet tricks,
percent-encoding, tokens signed with another workspace's key or with the
fixed development key, and payloads that carry `javascript:`, `data:`,
`//evil` or CR/LF destinations. The only documented refusal is `TokenError`
(`UnknownKeyError` is one: the click path reloads its keys, then refuses).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linktrack.core.tokens import ClickToken, KeyRing, OpenToken, SigningKey, TokenError
from linktrack.entrypoints.cli.compose import DEV_SECRET
from linktrack.entrypoints.http.responses import location

FUZZ = settings(max_examples=150, deadline=None)
WORKSPACE = SigningKey("ws-a", b"workspace a's secret")
OTHER = SigningKey("ws-b", b"workspace b's secret")
DEV = SigningKey("dev", DEV_SECRET.encode())
REDIRECTABLE = ("https://", "http://", "mailto:", "tel:", "sms:")

# Destinations an attacker wants a redirect to; and strings around them.
EVIL = st.sampled_from(
    [
        "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
        "\tjavascript:alert(1)", "java\nscript:alert(1)", "data:text/html,<script>1</script>",
        "DATA:text/html;base64,PHNjcmlwdD4=", "//evil.example/", "\\\\evil.example",
        "/\\evil.example", "https:evil.example", "http:/evil.example", "vbscript:x",
        "https://ok.example/\r\nSet-Cookie: a=b", "\r\nLocation: https://evil.example/",
        "https://ok.example/\x00", "ftp://evil.example/", "https\u200b://evil.example",
        "\u0130ttps://evil.example", "file:///etc/passwd", "",
    ]
)  # fmt: skip
HREFS = EVIL | st.builds("".join, st.lists(EVIL | st.text(max_size=12), max_size=3))
GOOD_HREFS = st.sampled_from(
    ["https://shop.example/a?b=1", "http://x.example/", "mailto:a@b.example", "tel:+1555"]
) | st.text(max_size=40).map(lambda t: "https://site.example/" + t)


def _path(key: SigningKey, data: Any) -> tuple[str, str]:
    """(payload, signature) as `Signer` writes them, for any JSON and any key."""
    payload = base64.urlsafe_b64encode(json.dumps(data, ensure_ascii=False).encode()).rstrip(b"=")
    signature = hmac.new(key.secret, payload, hashlib.sha256).hexdigest()
    return payload.decode("ascii"), signature


def _click_data(kid: object, href: object) -> dict[str, Any]:
    return {"k": kid, "d": "dlv-1", "h": href, "l": 3, "p": 1}


def _outcome(ring: KeyRing, payload: str, signature: str) -> ClickToken | OpenToken | None:
    """What a click (or, for an open payload, the pixel) gets: a token, or None if refused.

    Any exception other than TokenError fails the test.
    """
    try:
        return ring.verify_click(payload, signature)
    except TokenError:
        pass
    try:
        return ring.verify_open(payload, signature)
    except TokenError:
        return None


def _workspace_ring() -> KeyRing:
    """The server's keys: this workspace's, and one retired before (never verifies)."""
    ring = KeyRing([WORKSPACE])
    ring.add(SigningKey("ws-a-old", b"retired", retired=True))
    return ring


@FUZZ
@given(
    key=st.sampled_from([OTHER, DEV, SigningKey("ws-a", b"a guess"), SigningKey("ws-a", b"")]),
    kid=st.sampled_from(["ws-a", "ws-b", "dev", "ws-a-old", ""]) | st.text(max_size=8),
    href=HREFS | GOOD_HREFS,
)
def test_a_token_signed_with_any_other_key_never_verifies(
    key: SigningKey, kid: str, href: str
) -> None:
    payload, signature = _path(key, _click_data(kid, href))
    assert _outcome(_workspace_ring(), payload, signature) is None
    open_payload, open_signature = _path(key, {"k": kid, "d": "dlv-1", "o": 1})
    assert _outcome(_workspace_ring(), open_payload, open_signature) is None


@FUZZ
@given(href=HREFS, key=st.sampled_from([WORKSPACE, DEV]))
def test_a_signed_destination_that_is_not_a_web_or_contact_link_is_refused(
    href: str, key: SigningKey
) -> None:
    """Even the workspace's (or the dev CLI's) own key cannot make a `javascript:` redirect."""
    ring = KeyRing([key])
    payload, signature = _path(key, _click_data(key.kid, href))
    token = _outcome(ring, payload, signature)
    if href.lower().startswith(REDIRECTABLE):
        assert isinstance(token, ClickToken) and token.href == href
    else:
        assert token is None


@FUZZ
@given(href=HREFS | GOOD_HREFS)
def test_the_location_of_any_signed_destination_is_one_header_value(href: str) -> None:
    """CR, LF and other controls never reach the header: no response splitting."""
    value = location("https://ok.example/" + href)
    assert value.isascii() and all(32 <= byte < 127 for byte in value)
    assert value.startswith(b"https://ok.example/")


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def _mutated(draw: st.DrawFn, token: str) -> str:
    """`payload/signature` changed the way a forger (or a broken mail client) changes it."""
    kind = draw(
        st.sampled_from(
            ["flip", "insert", "delete", "cut", "pad", "std-alphabet", "percent", "case", "splice"]
        )
    )
    at = draw(st.integers(0, len(token) - 1))
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        return token[:at] + chr(ord(token[at]) ^ (1 << bit)) + token[at + 1 :]
    if kind == "insert":
        extra = draw(st.sampled_from(["=", "\n", " ", "+", "/", "%", "\x00", "é", "A", "0"]))
        return token[:at] + extra + token[at:]
    if kind == "delete":
        return token[:at] + token[at + 1 :]
    if kind == "cut":
        return token[:at]
    if kind == "pad":
        payload, _, signature = token.partition("/")
        return f"{payload}{'=' * draw(st.integers(1, 3))}/{signature}"
    if kind == "std-alphabet":
        return token.replace("-", "+").replace("_", "/", token.count("_"))
    if kind == "percent":
        return token[:at] + f"%{ord(token[at]):02X}" + token[at + 1 :]
    if kind == "case":
        return token[:at] + token[at:].swapcase()
    # splice: another genuine token's tail (another link of the same delivery).
    other = draw(st.text(alphabet=_B64, min_size=1, max_size=40))
    return token[:at] + other


@FUZZ
@given(data=st.data(), href=GOOD_HREFS, is_open=st.booleans())
def test_a_changed_token_is_refused(data: st.DataObject, href: str, is_open: bool) -> None:
    ring = _workspace_ring()
    signer = ring.signer()
    path = signer.open_path("dlv-1") if is_open else signer.click_path("dlv-1", href, 3, 1)
    token = path[len("/e/c/") :]
    mutated = data.draw(_mutated(token))
    assume(mutated != token)
    payload, _, signature = mutated.partition("/")
    assert _outcome(ring, payload, signature) is None


@FUZZ
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
        max_leaves=8,
    ),
    fields=st.dictionaries(st.sampled_from(["k", "d", "h", "l", "p", "o"]), st.just(0)),
)
def test_any_json_payload_under_a_foreign_key_is_refused(
    body: object, fields: dict[str, int]
) -> None:
    """Parsing comes before the signature check: no JSON shape may escape as another error."""
    data = {**body, **fields, "k": "ws-a"} if isinstance(body, dict) else body
    payload, signature = _path(OTHER, data)
    assert _outcome(_workspace_ring(), payload, signature) is None
    raw = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    assert _outcome(_workspace_ring(), raw, "0" * 64) is None


@pytest.mark.parametrize("size", [8191, 8192, 8193, 20000])
def test_a_payload_around_the_length_limit_is_refused_quickly(size: int) -> None:
    ring = _workspace_ring()
    payload = ("eyJrIjoid3MtYSJ9" * (size // 16 + 1))[:size]
    assert _outcome(ring, payload, "0" * 64) is None
