"""Reporting webhook events: their names, Customer.io's envelope, the retry schedule.

An event is `<channel>_<metric>` (`email_clicked`, `sms_sent`, …). Its body is
Customer.io's reporting webhook envelope, `{"event_id", "object_type",
"metric", "timestamp", "data": {…}}`, serialised once when the event is
queued, so every attempt POSTs the same bytes under the same signature scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

CHANNELS: Final = ("email", "sms", "whatsapp", "push", "in_app")
# sent and failed: the delivery worker; opened and clicked: the writer; the rest are
# reported through the Track API (`POST /api/v1/metrics`), once per delivery each.
METRICS: Final = (
    "sent", "failed", "opened", "clicked", "converted", "bounced", "spammed", "dropped",
    "deferred",
)  # fmt: skip
EVENTS: Final = tuple(f"{channel}_{metric}" for channel in CHANNELS for metric in METRICS)
RETRY_FOR: Final = 3 * 86400.0  # an event refused this long is given up (status failed)
MAX_DELAY: Final = 3600.0  # the longest wait between two attempts


def retry_delay(attempts: int, base: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling, capped."""
    return min(base * 2.0 ** min(attempts - 1, 40), MAX_DELAY)


# What a message's kind names its own id and its container's in the envelope.
_ID_FIELDS: Final = {
    "campaign": ("campaign_id", "action_id"),
    "broadcast": ("broadcast_id", "action_id"),
    "newsletter": ("newsletter_id", "content_id"),
    "transactional": (None, "transactional_message_id"),
}


@dataclass(frozen=True, slots=True)
class Reported:
    """The delivery an event is of, as the envelope shows it."""

    delivery_id: str
    workspace_id: int
    channel: str
    recipient: str
    subject: str
    kind: str  # the message's kind: campaign, broadcast, newsletter, transactional, adhoc
    message_id: int
    parent_id: int | None
    external_id: str | None
    email: str | None
    cio_id: str | None


def envelope(event_id: str, metric: str, ts: float, d: Reported, **details: Any) -> bytes:
    """The JSON body of one event (`details`: href, link_id, machine, … of a click)."""
    data: dict[str, Any] = {
        "delivery_id": d.delivery_id,
        "customer_id": d.external_id,
        "identifiers": {"id": d.external_id, "email": d.email, "cio_id": d.cio_id}
        if d.cio_id is not None
        else None,
        "recipient": d.recipient,
        "subject": d.subject,
    }
    container, own = _ID_FIELDS.get(d.kind, (None, None))
    if own is not None:
        data[own] = d.message_id
    if container is not None:
        data[container] = d.parent_id
    data.update(details)
    return orjson.dumps(
        {
            "event_id": event_id,
            "object_type": d.channel,
            "metric": metric,
            "timestamp": int(ts),
            "data": data,
        }
    )
