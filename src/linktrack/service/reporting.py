"""Reporting webhooks: queue an event for what is stored, then POST it until it is taken.

`ReportingFeed` runs inside the transactions that store clicks and opens (the
writer's batch) and status changes (the delivery worker): each event a
workspace's webhooks take is queued with them, once per (webhook, event id),
so a crash loses none and a replay queues none twice. `ReportingDispatcher`
POSTs each webhook's events in order, signed as Customer.io signs
(`X-CIO-Timestamp`, `X-CIO-Signature` = hex HMAC-SHA256 of
`v0:<timestamp>:<body>` under the webhook's signing key). A refused event is
retried with doubling waits (capped at an hour) for three days, then given up
as `failed`; it holds back only its own webhook's later events, and each
webhook is sent from its own worker, so a slow endpoint delays no other.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from linktrack.adapters import store
from linktrack.adapters.transports.base import TransportError
from linktrack.adapters.transports.webhook import WebhookTransport
from linktrack.core.errors import SPACES, InputError, reject_unknown, require_object
from linktrack.core.events import Event
from linktrack.core.model import Delivery
from linktrack.core.webhooks import EVENTS, RETRY_FOR, Reported, envelope, retry_delay

log = logging.getLogger("linktrack.reporting")

SIGNED_WITH = ("X-CIO-Timestamp", "X-CIO-Signature")
Verdicts = Mapping[str, tuple[bool, list[str]]]


class ReportingFeed:
    """Queues the webhook events of what one transaction stores."""

    def engagement(
        self,
        conn: store.Connection,
        clicks: list[Event],
        verdicts: Verdicts,
        opens: list[dict[str, Any]],
        workspace_of: Mapping[str, int],
    ) -> int:
        """Clicks and opens just inserted (`workspace_of`: delivery id → workspace)."""
        wanted = {workspace_of[e.delivery_id] for e in clicks} | {o["workspace_id"] for o in opens}
        subscribed = store.subscribers(conn, sorted(wanted))
        if not subscribed:
            return 0  # the common case: one indexed read per batch
        ids = [e.delivery_id for e in clicks if workspace_of[e.delivery_id] in subscribed]
        ids += [o["delivery_id"] for o in opens if o["workspace_id"] in subscribed]
        reported = store.reported_deliveries(conn, ids)
        items: list[tuple[str, str, float, str, dict[str, Any]]] = []
        for e in clicks:
            machine, reasons = verdicts[e.id]
            items.append((e.delivery_id, e.id, e.ts, "clicked", {
                "href": e.href, "link_id": e.link_id, "machine": machine,
                "machine_reasons": reasons}))  # fmt: skip
        for o in opens:
            items.append((o["delivery_id"], o["event_id"], o["ts"], "opened", {
                "machine": o["machine"], "machine_reasons": o["machine_reasons"]}))  # fmt: skip
        return self._queue(conn, subscribed, reported, items)

    def revised(
        self,
        conn: store.Connection,
        clicks: Sequence[store.NearbyClick],
        reasons: Mapping[str, list[str]],
        workspace_of: Mapping[str, int],
    ) -> int:
        """Stored clicks whose verdict a later batch turned to machine: each is sent again
        with its own event id (the original's + ":revised") and `revises` naming it."""
        wanted = sorted({workspace_of[c.delivery_id] for c in clicks})
        subscribed = store.subscribers(conn, wanted)
        if not subscribed:
            return 0
        reported = store.reported_deliveries(conn, [c.delivery_id for c in clicks])
        items = [
            (c.delivery_id, f"{c.event_id}:revised", c.ts, "clicked", _revised(c, reasons))
            for c in clicks
        ]
        return self._queue(conn, subscribed, reported, items)

    def status(
        self,
        conn: store.Connection,
        delivery: Delivery,
        metric: str,
        error: str | None = None,
        *,
        ts: float | None = None,
    ) -> int:
        """A delivery just sent or given up (`failed`, with the error), or reported through
        the Track API (`converted`; `bounced`, … with the relay's reason): once each."""
        subscribed = store.subscribers(conn, [delivery.workspace_id])
        if not subscribed:
            return 0
        reported = store.reported_deliveries(conn, [delivery.id])
        details = {"failure_message": error} if error is not None else {}
        at = time.time() if ts is None else ts
        item = (delivery.id, f"{delivery.id}:{metric}", at, metric, details)
        return self._queue(conn, subscribed, reported, [item])

    @staticmethod
    def _queue(
        conn: store.Connection,
        subscribed: Mapping[int, list[tuple[int, list[str]]]],
        reported: Mapping[str, Reported],
        items: Iterable[tuple[str, str, float, str, dict[str, Any]]],
    ) -> int:
        rows = []
        for delivery_id, event_id, ts, metric, details in items:
            d = reported.get(delivery_id)
            if d is None:
                continue
            name = f"{d.channel}_{metric}"
            takers = [wid for wid, events in subscribed.get(d.workspace_id, []) if name in events]
            if takers:
                body = envelope(event_id, metric, ts, d, **details).decode()
                rows += [{"webhook_id": wid, "event_id": event_id, "metric": name, "body": body}
                         for wid in takers]  # fmt: skip
        store.queue_events(conn, rows)
        return len(rows)


def _revised(click: store.NearbyClick, reasons: Mapping[str, list[str]]) -> dict[str, Any]:
    return {
        "href": click.href,
        "link_id": click.link_id,
        "machine": True,
        "machine_reasons": reasons[click.event_id],
        "revises": click.event_id,
    }


@dataclass
class ReportingDispatcher:
    """POSTs every webhook's pending events in order, one worker per webhook at a time."""

    engine: store.Engine
    backoff: float = 1.0  # seconds before the first retry; doubling
    timeout: float = 10.0
    workers: int = 4
    batch: int = 100
    clock: Callable[[], float] = time.time
    _running: dict[int, Future[int]] = field(default_factory=dict)

    def run_once(self) -> int:
        """Send what is due for every webhook, here and now (tests); return how many."""
        return sum(self._drain(*endpoint) for endpoint in store.endpoints(self.engine))

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="reporting") as pool:
            while not stop.is_set():
                try:
                    self._submit(pool)
                except Exception:  # the store is away: try again next round
                    log.exception("reporting webhooks: reading the outbox failed")
                stop.wait(interval)

    def _submit(self, pool: ThreadPoolExecutor) -> None:
        for webhook_id, url, key in store.endpoints(self.engine):
            running = self._running.get(webhook_id)
            if running is None or running.done():
                self._running[webhook_id] = pool.submit(self._drain, webhook_id, url, key)

    def _drain(self, webhook_id: int, url: str, key: str) -> int:
        """Send the webhook's due events in order; stop at the first refusal."""
        try:
            transport: WebhookTransport | None = WebhookTransport(
                url, key, timeout=self.timeout, headers=SIGNED_WITH
            )
        except ValueError:  # no host to send to: each attempt fails, visibly
            transport = None
        sent = 0
        for row, body, created, attempts, next_at in store.pending_events(
            self.engine, webhook_id, self.batch
        ):
            now = self.clock()
            if next_at > now:
                return sent  # the oldest waits for its retry: later ones wait behind it
            try:
                if transport is None:
                    raise TransportError(f"endpoint {url!r} is not a URL events can be sent to")
                transport.send(body)
            except TransportError as exc:
                if now - created >= RETRY_FOR:
                    store.mark_event(self.engine, row, status="failed", error=str(exc))
                    continue  # given up: the next event may go
                retry_at = now + retry_delay(attempts + 1, self.backoff)
                store.mark_event(self.engine, row, status="pending", error=str(exc),
                                 retry_at=retry_at)  # fmt: skip
                return sent
            store.mark_event(self.engine, row, status="delivered")
            sent += 1
        return sent


_LIMITS = {"name": 255, "endpoint": 2048}
# What an endpoint may be: http(s)://, then a host (padding of ASCII white space allowed).
ENDPOINT_PATTERN = r"^[ \t\n\r\f\v]*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9\[]"


def parse_webhook(data: Any, *, partial: bool = False) -> dict[str, Any]:
    """A reporting webhook's fields (`partial`: a change, any subset of them)."""
    body = require_object(data, "request body")
    # Customer.io's full_resolution and with_content are taken: every event is sent, in full.
    known = ("name", "endpoint", "events", "disabled", "full_resolution", "with_content")
    reject_unknown(body, known, "reporting webhook")
    fields: dict[str, Any] = {}
    for name, most in _LIMITS.items():
        if name in body or not partial:
            value = body.get(name)
            if not isinstance(value, str) or not value.strip(SPACES) or len(value) > most:
                raise InputError(f"{name} must be a non-empty string of at most {most} characters")
            fields[name] = value.strip(SPACES)
    if "endpoint" in body and not re.match(ENDPOINT_PATTERN, body["endpoint"]):
        raise InputError("endpoint must be an http:// or https:// URL")
    if "events" in body or not partial:
        events = body.get("events")
        if not isinstance(events, list) or not events or not all(e in EVENTS for e in events):
            raise InputError(f"events must be a non-empty list of {', '.join(EVENTS)}")
        fields["events"] = sorted(set(events), key=EVENTS.index)
    for flag in ("disabled", "full_resolution", "with_content"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            raise InputError(f"{flag} must be true or false")
    if body.get("disabled") is not None:
        fields["disabled"] = body["disabled"]
    elif not partial:
        fields["disabled"] = False
    return fields


def new_signing_key() -> str:
    return secrets.token_hex(32)
