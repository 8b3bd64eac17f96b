"""Hands queued deliveries to their transport, with retries and backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from linktrack.adapters import store
from linktrack.adapters.transports.base import TransportError
from linktrack.adapters.transports.smtp import OutgoingEmail, SmtpTransport
from linktrack.adapters.transports.webhook import WebhookTransport
from linktrack.core.model import Delivery
from linktrack.service.reporting import ReportingFeed
from linktrack.service.send_requests import EmailExtras

log = logging.getLogger("linktrack.delivery")

Transport = Callable[[Delivery], None]
MAX_ATTEMPTS = 5


@dataclass
class DeliveryWorker:
    """Polls queued deliveries (a crash leaves them queued: nothing is lost)."""

    engine: store.Engine
    transports: dict[str, Transport]
    backoff: float = 2.0
    reporting: ReportingFeed = field(default_factory=ReportingFeed)
    _attempts: dict[str, int] = field(default_factory=dict)
    _not_before: dict[str, float] = field(default_factory=dict)

    def run_once(self, limit: int = 100) -> int:
        """Try every due queued delivery once; return how many were handed over."""
        now = time.time()
        sent = 0
        store.release_scheduled(self.engine, now)
        for delivery_id, workspace_id in store.queued_deliveries(self.engine, limit):
            if self._not_before.get(delivery_id, 0) > now:
                continue
            delivery = store.get_delivery(self.engine, workspace_id, delivery_id)
            if delivery is None or delivery.status != "queued":
                continue
            transport = self.transports.get(delivery.channel)
            if transport is None:
                store.mark_delivery(self.engine, delivery.id, "outbox")
                continue
            try:
                transport(delivery)
            except TransportError as exc:
                attempts = self._attempts.get(delivery.id, 0) + 1
                self._attempts[delivery.id] = attempts
                if exc.permanent or attempts >= MAX_ATTEMPTS:
                    log.warning("delivery %s failed: %s", delivery.id, exc)
                    self._settle(delivery, "failed", str(exc))
                    self._forget(delivery.id)
                else:
                    self._not_before[delivery.id] = now + self.backoff * 2 ** (attempts - 1)
                    # Still queued, but the reason is visible on the delivery meanwhile.
                    store.mark_delivery(
                        self.engine,
                        delivery.id,
                        "queued",
                        error=f"attempt {attempts} of {MAX_ATTEMPTS} failed, retrying: {exc}",
                    )
                continue
            self._settle(delivery, "sent")
            if (settings := EmailExtras.sent(delivery.settings)) is not None:
                store.set_delivery_settings(self.engine, delivery.id, settings)
            if delivery.settings.get("disable_message_retention"):
                store.forget_content(self.engine, delivery.id)
            self._forget(delivery.id)
            sent += 1
        return sent

    def _settle(self, delivery: Delivery, status: str, error: str | None = None) -> None:
        """Mark the delivery sent or failed, and queue its reporting webhook events with it."""
        with self.engine.begin() as conn:
            store.mark_delivery(conn, delivery.id, status, error=error)
            self.reporting.status(conn, delivery, status, error)

    def _forget(self, delivery_id: str) -> None:
        self._attempts.pop(delivery_id, None)
        self._not_before.pop(delivery_id, None)

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        failing = False
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # keep delivering after a transient store error
                if not failing:  # one line with the cause, not one per pass
                    log.exception("delivery worker passes fail; retrying")
                failing, busy = True, 0
            else:
                if failing:
                    log.warning("delivery worker passes work again")
                failing = False
            if not busy:
                stop.wait(interval)


def email_transport(smtp: SmtpTransport) -> Transport:
    """Adapt an SmtpTransport to deliveries."""

    def send(delivery: Delivery) -> None:
        sender = str(delivery.settings.get("from") or "linktrack@localhost")
        extras = EmailExtras.from_dict(delivery.settings.get("email") or {})
        smtp.send(
            OutgoingEmail(
                delivery_id=delivery.id,
                sender=sender,
                to=delivery.recipient,
                subject=delivery.subject,
                html=delivery.body,
                text=delivery.body_plain,
                cc=extras.cc,
                bcc=extras.bcc,
                reply_to=extras.reply_to,
                headers=extras.headers,
                attachments=extras.attachments,
            )
        )

    return send


def webhook_transport(webhook: WebhookTransport) -> Transport:
    """Adapt a WebhookTransport to SMS, WhatsApp and push deliveries.

    The document: `delivery_id` (the app's SDK reports opens and clicks with
    it), `channel`, `to`, `body` as rendered and tracked; for push also
    `devices` (every token it is for; `to` is the one used last), `title`,
    `link`, `image_url` and `custom_data`.
    """

    def send(delivery: Delivery) -> None:
        document: dict[str, object] = {
            "delivery_id": delivery.id,
            "channel": delivery.channel,
            "to": delivery.recipient,
            "body": delivery.body or "",
            "message_id": delivery.message_id,
            "created_at": delivery.created_at,
        }
        if delivery.channel == "push":
            push = delivery.settings.get("push") or {}
            document.update(
                devices=push.get("devices") or [delivery.recipient],
                title=delivery.subject,
                link=push.get("link"),
                image_url=push.get("image_url"),
                custom_data=push.get("custom_data") or {},
            )
        webhook.post(document)

    return send
