"""Reporting webhooks (App API): register endpoints, see what each was sent.

`POST /v1/reporting_webhooks` answers the webhook with its `signing_key`, the
only time it is shown; every later view has the delivery counts (`pending`,
`delivered`, `failed`) and the last error instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.entrypoints.api.common import (
    JSON,
    app_workspace,
    endpoint,
    id_start,
    page,
    page_request,
    positive_int,
    with_body,
)
from linktrack.service.reporting import new_signing_key, parse_webhook


@dataclass(frozen=True, slots=True)
class ReportingWebhooksApi:
    engine: store.Engine

    @with_body
    def create(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        fields = parse_webhook(data)
        created = store.create_webhook(self.engine, ws.id, new_signing_key(), **fields)
        return JSON(created, status_code=201)

    @endpoint
    def listing(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)
        found = store.list_webhooks(self.engine, ws.id, after=id_start(start), limit=limit + 1)
        shown, more = page(found, limit, lambda w: str(w["id"]))
        return JSON({"reporting_webhooks": shown, "next": more})

    @endpoint
    def show(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        return JSON(store.get_webhook(self.engine, ws.id, _webhook_id(request)))

    @with_body
    def update(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        changes = parse_webhook(data, partial=True)
        return JSON(store.update_webhook(self.engine, ws.id, _webhook_id(request), changes))

    @endpoint
    def delete(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        store.delete_webhook(self.engine, ws.id, _webhook_id(request))
        return JSON({})

    @endpoint
    def events(self, request: Request) -> JSON:
        """The webhook's events, newest first: attempts, status, last error."""
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)
        found = store.webhook_events_page(self.engine, ws.id, _webhook_id(request),
                                          before=id_start(start), limit=limit + 1)  # fmt: skip
        shown, more = page(found, limit, lambda e: str(e["id"]))
        return JSON({"events": shown, "next": more})


def _webhook_id(request: Request) -> int:
    return positive_int(request.path_params["webhook_id"], "webhook_id")
