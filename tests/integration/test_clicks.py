"""The click rules both HTTP paths call: which links verify, and the events they record."""

from __future__ import annotations

import asyncio
import time

from linktrack.adapters import store
from linktrack.core.events import decode
from linktrack.core.tokens import ClickToken, KeyRing, OpenToken
from linktrack.service.clicks import RELOAD, ClickRules, peer_of
from linktrack.service.keys import KeyStore


def _click_token(rules: ClickRules, path: str) -> ClickToken:
    token = rules.verify_click(path)
    assert isinstance(token, ClickToken)
    return token


def test_a_signed_click_verifies_and_a_tampered_one_does_not(engine: store.Engine) -> None:
    ws = store.create_workspace(engine, "clicks")
    keys = KeyStore(engine)
    rules = ClickRules(keys, trust_proxy=False)
    path = keys.signer(ws.id).click_path("dlv1", "https://x.example/a", 3, 2)
    token = _click_token(rules, path)
    assert (token.delivery_id, token.href, token.link_id, token.position) == (
        "dlv1", "https://x.example/a", 3, 2,
    )  # fmt: skip
    assert rules.verify_click(path[:-1] + ("0" if path[-1] != "0" else "1")) is None
    assert rules.verify_click("/e/c/only-three") is None


def test_a_new_key_is_verified_after_a_reload_at_most_a_few_a_second(
    engine: store.Engine,
) -> None:
    keys = KeyStore(engine)
    rules = ClickRules(keys, trust_proxy=False)
    ws = store.create_workspace(engine, "later")  # its key is not in memory yet
    path = KeyStore(engine).signer(ws.id).click_path("dlv2", "https://x.example/b", 1, 1)
    assert rules.verify_click(path) is RELOAD
    assert asyncio.run(rules.verify(KeyRing.verify_click, path)) is None  # reloaded just now
    time.sleep(0.3)
    token = asyncio.run(rules.verify(KeyRing.verify_click, path))
    assert isinstance(token, ClickToken) and token.delivery_id == "dlv2"


def test_click_and_open_events_carry_the_origin_the_writer_reads(engine: store.Engine) -> None:
    ws = store.create_workspace(engine, "events")
    keys = KeyStore(engine)
    token = _click_token(
        ClickRules(keys, trust_proxy=False),
        keys.signer(ws.id).click_path("dlv3", "https://x.example/c", 4, 5),
    )
    peer = peer_of(("127.0.0.1", 5555))
    forwarded = b"203.0.113.5, 10.0.0.1"
    untrusted = ClickRules(keys, trust_proxy=False)
    trusted = ClickRules(keys, trust_proxy=True)
    cases = [
        (untrusted.click_event(token, "GET", b"ua/1", forwarded, peer), "127.0.0.1"),
        (trusted.click_event(token, "HEAD", b"ua/1", forwarded, peer), "203.0.113.5"),
        (trusted.click_event(token, "GET", b"ua/1", None, peer), "127.0.0.1"),
    ]
    ids = set()
    for raw, ip in cases:
        event = decode(raw)
        assert event is not None and event.type == "click" and event.ip == ip
        assert (event.delivery_id, event.link_id, event.position) == ("dlv3", 4, 5)
        assert (event.href, event.ua, event.src) == ("https://x.example/c", "ua/1", "link")
        ids.add(event.id)
    assert len(ids) == len(cases)
    opened = decode(
        trusted.open_event(OpenToken(token.kid, "dlv3"), "GET", b"ua/2", None, peer_of(("::1", 9)))
    )
    assert opened is not None and opened.type == "open" and opened.ip == "::1"
    assert (opened.delivery_id, opened.link_id, opened.href, opened.ua) == (
        "dlv3",
        None,
        "",
        "ua/2",
    )
