"""The wire form of a click or open event: an orjson-encoded dict.

Fields: `id` (unique), `type` ('click'|'open'), `kid`, `d` (delivery id),
`l` (link id or null), `p` (position), `h` (href), `ts` (float epoch), `ua`,
`ip`, `m` (HTTP method), `src` ('link'|'sdk').
"""

from __future__ import annotations

import time

import orjson

from linktrack.adapters.eventlog.base import new_event_id


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
    """The wire form of one click or open event."""
    return orjson.dumps(
        {
            "id": event_id or new_event_id(),
            "type": type,
            "kid": kid,
            "d": delivery_id,
            "l": link_id,
            "p": position,
            "h": href,
            "ts": time.time() if ts is None else ts,
            "ua": ua,
            "ip": ip,
            "m": method,
            "src": src,
        }
    )
