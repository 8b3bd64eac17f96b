"""Events an app's SDK reports for push and in-app messages (and any delivery).

`opened` and `clicked` go through the same durable event log as link clicks
(`src: "sdk"`), so the writer counts them in the same metrics, activities and
segments. `delivered` moves the delivery to `sent` (the device has it).
`converted`, and what a relay of the sender's own says of an email or SMS
(`bounced`, `spammed`, `dropped`, `deferred`, with a `reason`), are recorded
once per delivery and metric, and message metrics count each. A report carries
the SDK's timestamp: the event id is derived from (delivery, metric,
timestamp), so a retried report counts once.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from linktrack.adapters import store
from linktrack.adapters.eventlog import EventLog, EventLogError
from linktrack.core.errors import InputError, NotFoundError, Unprocessable
from linktrack.core.events import encode_event, new_event_id
from linktrack.core.model import Delivery
from linktrack.service.reporting import ReportingFeed

METRICS: Final = (
    "opened", "clicked", "delivered", "converted", "bounced", "spammed", "dropped", "deferred",
)  # fmt: skip
PUSH_METRICS: Final = ("opened", "clicked", "delivered", "converted")  # the legacy push events
_EVENT_TYPE: Final = {"opened": "open", "clicked": "click"}
_FUTURE_SLACK: Final = 86400.0  # device clocks drift; a day ahead is still plausible


@dataclass(frozen=True, slots=True)
class SdkEvent:
    """One validated report."""

    delivery_id: str
    metric: str
    timestamp: float | None  # Unix seconds; None: "now" (then a retry counts again)
    href: str = ""
    recipient: str | None = None  # the device token or address; informational
    reason: str | None = None  # why a bounce, a drop or a deferral happened


def _string(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InputError(f"{name} must be a string of at most {limit} characters")
    return value


def _timestamp(data: Mapping[str, Any], now: float) -> float | None:
    value = data.get("timestamp")
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not value > 0
    ):
        raise InputError("timestamp must be Unix seconds")
    if value > now + _FUTURE_SLACK:
        raise Unprocessable("timestamp is in the future: Unix seconds, not milliseconds?")
    return float(value)


def parse_metric(
    data: Any,
    *,
    field: str = "metric",
    allowed: tuple[str, ...] = METRICS,
    clock: Callable[[], float] = time.time,
) -> SdkEvent:
    """`POST /api/v1/metrics`: delivery_id, metric, timestamp, href, recipient."""
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    delivery_id = _string(data, "delivery_id", 64)
    if not delivery_id:
        raise InputError("delivery_id is required")
    metric = data.get(field)
    if metric not in allowed:
        raise InputError(f"{field} must be one of {', '.join(allowed)}")
    recipient = data.get("recipient")
    if isinstance(recipient, int) and not isinstance(recipient, bool):
        # Customer.io's SMS reports give the number as an integer.
        recipient = _string({"recipient": str(recipient)}, "recipient", 512)
    elif recipient is not None:
        recipient = _string(data, "recipient", 512)
    return SdkEvent(
        delivery_id=delivery_id,
        metric=metric,
        timestamp=_timestamp(data, clock()),
        href=_string(data, "href", 8192) or "",
        recipient=recipient,
        reason=_string(data, "reason", 2048),
    )


def parse_push_event(data: Any, *, clock: Callable[[], float] = time.time) -> SdkEvent:
    """Legacy `POST /api/v1/push/events`: delivery_id, event, device_id, timestamp."""
    event = parse_metric(data, field="event", allowed=PUSH_METRICS, clock=clock)
    device = _string(data, "device_id", 512)
    return SdkEvent(event.delivery_id, event.metric, event.timestamp, event.href, device)


class SdkEvents:
    """Records SDK reports for deliveries of one workspace."""

    def __init__(
        self, engine: store.Engine, event_log: EventLog, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.log = event_log
        self.clock = clock
        self.reporting = ReportingFeed()

    def record(self, workspace_id: int, event: SdkEvent, *, ua: str, ip: str | None) -> None:
        """Record one report; NotFoundError when the delivery is not this workspace's."""
        delivery = store.get_delivery(self.engine, workspace_id, event.delivery_id)
        if delivery is None:
            raise NotFoundError(f"no delivery {event.delivery_id!r} in this workspace")
        ts = self.clock() if event.timestamp is None else event.timestamp
        if event.metric in _EVENT_TYPE:
            link_id = _link_of(delivery, event.href) if event.metric == "clicked" else None
            self._append(
                encode_event(
                    _EVENT_TYPE[event.metric],
                    kid=None,  # the workspace was checked here, by its Track API key
                    delivery_id=delivery.id,
                    link_id=link_id,
                    href=event.href,
                    ts=ts,
                    ua=ua[:2048],
                    ip=ip,
                    method="POST",
                    src="sdk",
                    event_id=_event_id(event),
                )
            )
        elif event.metric == "delivered":
            if delivery.status != "sent":
                store.mark_delivery(self.engine, delivery.id, "sent", at=ts)
        else:  # converted, bounced, …: the first one per delivery counts
            with self.engine.begin() as conn:
                if store.record_report(
                    conn, delivery, event.metric, ts=ts, source="sdk", reason=event.reason
                ):  # and reporting webhooks hear of it, queued in the same transaction
                    self.reporting.status(conn, delivery, event.metric, event.reason, ts=ts)

    def _append(self, event: bytes) -> None:
        try:
            self.log.append_sync(event)
        except EventLogError:
            raise
        except Exception as exc:  # a file system or Redis failure: the app should retry
            raise EventLogError(f"event log write failed: {exc}") from exc


def _event_id(event: SdkEvent) -> str:
    if event.timestamp is None:
        return new_event_id()
    key = f"{event.delivery_id}\0{event.metric}\0{event.timestamp!r}".encode()
    return "sdk-" + hashlib.sha256(key).hexdigest()[:40]


def _link_of(delivery: Delivery, href: str) -> int | None:
    """The delivery's link the app reports as tapped: same URL, or same URL before its query."""
    if not href:
        return None
    for link in delivery.links:
        if link.href == href:
            return link.id
    base = href.split("#", 1)[0].split("?", 1)[0]
    matches = {link.id for link in delivery.links if link.href.split("?", 1)[0] == base}
    return matches.pop() if len(matches) == 1 else None


PLATFORMS: Final = ("ios", "android")
_DEVICE_FIELDS: Final = ("id", "platform", "last_used", "attributes")


@dataclass(frozen=True, slots=True)
class Device:
    """A push device an app's SDK registers for a person (Customer.io's device object)."""

    token: str
    platform: str
    last_used: float | None
    attributes: dict[str, str]


def parse_device(data: Any, *, clock: Callable[[], float] = time.time) -> Device:
    """`PUT /api/v1/customers/{id}/devices`: `{"device": {"id", "platform", …}}`."""
    if not isinstance(data, dict) or not isinstance(data.get("device"), dict):
        raise InputError('request body must be {"device": {"id": token, "platform": …}}')
    device = data["device"]
    unknown = sorted(set(device) - set(_DEVICE_FIELDS))
    if unknown:
        raise InputError(f"unknown device field {unknown[0]!r}: give {', '.join(_DEVICE_FIELDS)}")
    token = _string(device, "id", 255)
    if not token:
        raise InputError("device.id (the device token) is required")
    platform = device.get("platform")
    if platform not in PLATFORMS:
        raise InputError(f"device.platform must be one of {', '.join(PLATFORMS)}")
    attributes = {} if device.get("attributes") is None else device["attributes"]
    if (
        not isinstance(attributes, dict)
        or len(attributes) > 100
        or not all(
            isinstance(v, str | int | float | bool)
            and len(k) <= 255
            and (not isinstance(v, str) or len(v) <= 1024)
            for k, v in attributes.items()
        )
    ):
        raise InputError("device.attributes must be an object of at most 100 short values")
    last_used = _timestamp({"timestamp": device.get("last_used")}, clock())
    text = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()}
    return Device(token, platform, last_used, text)
