"""Customer.io's delivery objects: `GET /v1/messages` and `GET /v1/messages/{id}`.

A delivery as Customer.io's App API shows it: which campaign, broadcast,
newsletter or transactional message it came from, to whom, and a `metrics`
object of the times it was created, sent, opened, clicked or failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.errors import InputError, NotFoundError
from linktrack.entrypoints.api.common import JSON, app_workspace, endpoint, page, page_request
from linktrack.entrypoints.api.deliveries import delivery_start

# The id fields a message of each kind fills: (its container's field, its own field).
_ORIGIN = {
    "campaign": ("campaign_id", "action_id"),
    "broadcast": ("broadcast_id", "action_id"),
    "newsletter": ("newsletter_id", "content_id"),
    "transactional": (None, "transactional_message_id"),
}
_ID_FIELDS = ("campaign_id", "broadcast_id", "newsletter_id", "action_id", "content_id",
              "transactional_message_id")  # fmt: skip


def message_view(
    d: model.Delivery,
    message: model.Message | None,
    person: model.Person | None,
    reported: dict[str, float],
) -> dict[str, Any]:
    """One delivery as Customer.io's message object (`reported`: its Track API reports)."""
    ids: dict[str, Any] = dict.fromkeys(_ID_FIELDS)
    container_field, own_field = _ORIGIN.get(message.kind if message else "", (None, None))
    if message is not None and own_field is not None:
        ids[own_field] = message.id
        if container_field is not None:
            ids[container_field] = message.parent_id
    times = {
        "created": d.created_at,
        "sent": d.sent_at,
        "opened": d.opened_at,
        "clicked": d.clicked_at,
        "failed": d.created_at if d.status == "failed" else None,
        **reported,
    }
    return {
        "id": d.id, "type": d.channel, **ids, "recipient": d.recipient, "subject": d.subject,
        "customer_id": person.external_id if person else None,
        "customer_identifiers": {"id": person.external_id, "email": person.email,
                                 "cio_id": person.cio_id} if person else None,
        "created": int(d.created_at), "status": d.status,
        "send_at": int(d.send_at) if d.send_at is not None else None,
        "metrics": {name: int(at) for name, at in times.items() if at is not None},
        "failure_message": d.error if d.status == "failed" else None,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class MessagesApi:
    engine: store.Engine

    @endpoint
    def show(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        found = store.get_delivery(self.engine, ws.id, request.path_params["delivery_id"])
        if found is None:
            raise NotFoundError("no such message in this workspace")
        return JSON({"message": self._views(ws, [found])[0]})

    @endpoint
    def listing(self, request: Request) -> JSON:
        """Deliveries, newest first, a page at a time; `type` keeps one channel."""
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)
        channel = request.query_params.get("type")
        if channel is not None and channel not in model.CHANNELS:
            raise InputError(f"type must be one of {', '.join(sorted(model.CHANNELS))}")
        found = store.list_deliveries(self.engine, ws.id, channel=channel,
                                      after=delivery_start(start), limit=limit + 1)  # fmt: skip
        shown, more = page(found, limit, lambda d: f"{d.created_at!r}_{d.id}")
        return JSON({"messages": self._views(ws, shown), "next": more})

    def _views(self, ws: model.Workspace, found: list[model.Delivery]) -> list[dict[str, Any]]:
        people = store.people_by_pks(self.engine, [d.person_id for d in found if d.person_id])
        with self.engine.connect() as conn:
            reported = store.reports_of(conn, [d.id for d in found])
        messages: dict[int, model.Message | None] = {}
        for d in found:
            if d.message_id not in messages:
                messages[d.message_id] = store.get_message(self.engine, ws.id, d.message_id)
        return [
            message_view(d, messages[d.message_id], people.get(d.person_id or 0),
                         reported.get(d.id, {}))
            for d in found
        ]  # fmt: skip
