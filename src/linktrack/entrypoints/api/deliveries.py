"""Sending one message on any channel; a delivery; the outbox."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.errors import NotFoundError, Unprocessable
from linktrack.entrypoints.api.common import (
    JSON,
    NOT_A_START,
    app_workspace,
    endpoint,
    page,
    page_request,
    with_body,
)
from linktrack.entrypoints.api.views import delivery_view
from linktrack.service.send_requests import parse_send
from linktrack.service.sending import Sender


@dataclass(frozen=True, slots=True)
class DeliveriesApi:
    """The endpoints under /v1/send, /v1/deliveries and /v1/outbox."""

    engine: store.Engine
    sender: Sender

    @with_body
    def send(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        channel = request.path_params["channel"]
        if channel not in model.CHANNELS:
            channels = ", ".join(sorted(model.CHANNELS))
            raise NotFoundError(f"no such endpoint: channels are {channels}")
        send = parse_send(data, channel)
        result = self.sender.send(ws, send)
        scheduled = {} if send.send_at is None else {"send_at": int(send.send_at)}
        return JSON(
            {
                "delivery_id": result.delivery_id,
                "queued_at": int(result.queued_at),
                **scheduled,
                "warnings": result.warnings,
            }
        )

    @endpoint
    def show(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        delivery = store.get_delivery(self.engine, ws.id, request.path_params["delivery_id"])
        if delivery is None:
            raise NotFoundError("no such delivery in this workspace")
        return JSON({"delivery": delivery_view(delivery)})

    @endpoint
    def outbox(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request, most=500, default=50)
        found = store.list_deliveries(self.engine, ws.id, status="outbox",
                                      after=delivery_start(start), limit=limit + 1)  # fmt: skip
        shown, more = page(found, limit, lambda d: f"{d.created_at!r}_{d.id}")
        return JSON({"deliveries": [delivery_view(d) for d in shown], "next": more})


def delivery_start(start: str | None) -> tuple[float, str] | None:
    """The (created_at, id) of the delivery a page of deliveries ends with (422 if not)."""
    if start is None:
        return None
    at, _, delivery_id = start.partition("_")
    try:
        created = float(at)
    except ValueError:
        raise Unprocessable(NOT_A_START) from None
    if not (math.isfinite(created) and delivery_id):
        raise Unprocessable(NOT_A_START)
    return created, delivery_id
