"""The click/open event's wire format: what the front writes is what the writer reads."""

from __future__ import annotations

import orjson
import pytest

from linktrack.core import events
from linktrack.core.events import Event, encode_event


def test_every_field_round_trips() -> None:
    raw = events.encode(
        "e-1", "click", "kid1", "dlv1", 7, 3, "https://x.example/?a=1", 1700000000.25,
        "Mozilla/5.0", "HEAD", ip="203.0.113.9", src="link",
    )  # fmt: skip
    assert events.decode(raw) == Event(
        id="e-1", type="click", kid="kid1", delivery_id="dlv1", link_id=7, position=3,
        href="https://x.example/?a=1", ts=1700000000.25, ua="Mozilla/5.0", ip="203.0.113.9",
        method="HEAD", src="link",
    )  # fmt: skip


def test_an_sdk_open_round_trips_with_no_key_link_or_position() -> None:
    raw = events.encode_event(
        "open", kid=None, delivery_id="d", ts=5.0, ua="App/1", method="POST", src="sdk",
        event_id="sdk-1",
    )  # fmt: skip
    assert events.decode(raw) == Event(
        "sdk-1", "open", None, "d", None, None, "", 5.0, "App/1", None, "POST", "sdk"
    )


@pytest.mark.parametrize(
    ("peer", "host"),
    [("198.51.100.7:50123", "198.51.100.7"), ("[2001:db8::1]:443", "2001:db8::1"), ("sock", "sock")],
)
def test_a_socket_peer_is_split_into_its_host(peer: str, host: str) -> None:
    raw = events.encode("e", "click", "k", "d", 1, 1, "https://x", 1.0, "", "GET", peer=peer)
    decoded = events.decode(raw)
    assert decoded is not None and decoded.ip == host
    assert "peer" in orjson.loads(raw) and "ip" not in orjson.loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        orjson.dumps({"id": "", "type": "click", "d": "d", "ts": 1}),
        orjson.dumps({"id": "x" * 65, "type": "click", "d": "d", "ts": 1}),
        orjson.dumps({"id": "e", "type": "visit", "d": "d", "ts": 1}),
        orjson.dumps({"id": "e", "type": "click", "d": "", "ts": 1}),
        orjson.dumps({"id": "e", "type": "click", "d": "d", "ts": True}),
        orjson.dumps({"id": "e", "type": "click", "d": "d", "ts": "1"}),
    ],
)
def test_bytes_no_producer_writes_are_refused(raw: bytes) -> None:
    assert events.decode(raw) is None


def test_oversized_and_mistyped_fields_are_bounded_or_dropped() -> None:
    raw = orjson.dumps(
        {"id": "e", "type": "click", "d": "d" * 100, "ts": 1, "l": True, "p": "3",
         "h": "h" * 9000, "ua": 5, "m": "get", "src": "other"}
    )  # fmt: skip
    event = events.decode(raw)
    assert event is not None
    assert len(event.delivery_id) == 64 and len(event.href) == events.MAX_HREF
    assert (event.link_id, event.position, event.ua, event.method, event.src) == (
        None, None, "", "GET", "link",
    )  # fmt: skip


def test_encode_event_has_the_documented_fields() -> None:
    data = orjson.loads(
        encode_event("open", kid="abc", delivery_id="D", ua="UA", ip="1.2.3.4", ts=5.5)
    )
    assert set(data) == {"id", "type", "kid", "d", "l", "p", "h", "ts", "ua", "ip", "m", "src"}
    assert data["type"] == "open" and data["ts"] == 5.5 and len(data["id"]) == 24


@pytest.mark.parametrize(
    ("fields", "ip"),
    [
        ({"peer": "203.0.113.9:51234"}, "203.0.113.9"),
        ({"peer": "[2001:db8::1]:443"}, "2001:db8::1"),
        ({"ip": "198.51.100.7", "peer": "127.0.0.1:9"}, "198.51.100.7"),  # from X-Forwarded-For
        ({"ip": "2001:db8::2"}, "2001:db8::2"),
        ({}, None),
    ],
)
def test_the_click_ip_comes_from_the_proxy_header_or_the_socket_peer(
    fields: dict[str, str], ip: str | None
) -> None:
    event = events.decode(
        orjson.dumps({"id": "e1", "type": "click", "d": "d1", "ts": 1.0, "h": "https://x", **fields})
    )
    assert event is not None and event.ip == ip
