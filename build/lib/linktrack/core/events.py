"""The click/open event: the one wire format the front writes and the writer reads.

An event is an orjson-encoded object: `id` (unique), `type` ('click'|'open'),
`kid` (the signing key, null for SDK reports), `d` (delivery id), `l` (link
id or null), `p` (position or null), `h` (href), `ts` (float epoch), `ua`,
`ip` (the client address) or `peer` (the socket peer as "host:port", split
here, off the click path), `m` (HTTP method), `src` ('link'|'sdk').
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson

MAX_ID: Final = 64
MAX_HREF: Final = 8192
MAX_UA: Final = 2048
MAX_IP: Final = 64

_dumps = orjson.dumps


def new_event_id() -> str:
    """A unique event id (24 hex characters, 96 random bits)."""
    return secrets.token_hex(12)


def encode(
    event_id: str,
    type: str,
    kid: str | None,
    delivery_id: str,
    link_id: int | None,
    position: int | None,
    href: str,
    ts: float,
    ua: str,
    method: str,
    ip: str | None = None,
    peer: str | None = None,
    src: str = "link",
) -> bytes:
    """The wire form of one event. Positional and flat: it runs for every click."""
    if peer is None:
        return _dumps(
            {"id": event_id, "type": type, "kid": kid, "d": delivery_id, "l": link_id,
             "p": position, "h": href, "ts": ts, "ua": ua, "ip": ip, "m": method, "src": src}
        )  # fmt: skip
    return _dumps(
        {"id": event_id, "type": type, "kid": kid, "d": delivery_id, "l": link_id,
         "p": position, "h": href, "ts": ts, "ua": ua, "peer": peer, "m": method, "src": src}
    )  # fmt: skip


def encode_event(
    type: str,
    *,
    kid: str | None,
    delivery_id: str,
    link_id: int | None = None,
    position: int | None = None,
    href: str = "",
    ts: float | None = None,
    ua: str = "",
    ip: str | None = None,
    method: str = "GET",
    src: str = "link",
    event_id: str | None = None,
) -> bytes:
    """`encode` with defaults: a fresh id, the current time (SDK reports, tests)."""
    return encode(
        event_id or new_event_id(), type, kid, delivery_id, link_id, position, href,
        time.time() if ts is None else ts, ua, method, ip=ip, src=src,
    )  # fmt: skip


@dataclass(slots=True)
class Event:
    """One decoded, validated event."""

    id: str
    type: str
    kid: str | None
    delivery_id: str
    link_id: int | None
    position: int | None
    href: str
    ts: float
    ua: str
    ip: str | None
    method: str
    src: str


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def peer_host(peer: Any) -> str | None:
    """The host of a socket peer written as "host:port" or "[v6 host]:port"."""
    if not isinstance(peer, str):
        return None
    return peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer


def decode(raw: bytes) -> Event | None:
    """A validated event, or None for bytes no producer of ours would write."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    event_id, kind = data.get("id"), data.get("type")
    delivery_id, ts = data.get("d"), data.get("ts")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID):
        return None
    if kind not in ("click", "open") or not (isinstance(delivery_id, str) and delivery_id):
        return None
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
        return None
    kid = data.get("kid")
    ip = data.get("ip") or peer_host(data.get("peer"))
    return Event(
        id=event_id,
        type=kind,
        kid=kid if isinstance(kid, str) else None,
        delivery_id=delivery_id[:64],
        link_id=_int(data.get("l")),
        position=_int(data.get("p")),
        href=_text(data.get("h"), MAX_HREF),
        ts=float(ts),
        ua=_text(data.get("ua"), MAX_UA),
        ip=ip[:MAX_IP] if isinstance(ip, str) and ip else None,
        method=(_text(data.get("m"), 8) or "GET").upper(),
        src="sdk" if data.get("src") == "sdk" else "link",
    )
