"""Transactional messages: create, list, read and change them; their reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.errors import NotFoundError
from linktrack.entrypoints.api import reports
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
from linktrack.entrypoints.api.views import content_view
from linktrack.service.containers import parse_content, update_content


@dataclass(frozen=True, slots=True)
class TransactionalApi:
    """The endpoints under /v1/transactional."""

    engine: store.Engine

    @with_body
    def create(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        fields = parse_content(data, creating=True)
        message = store.create_message(self.engine, ws.id, kind="transactional", **fields)
        return JSON({"transactional_message": content_view(message)}, status_code=201)

    @endpoint
    def listing(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)
        found = store.list_messages(self.engine, ws.id, kind="transactional",
                                    before_id=id_start(start), limit=limit + 1)  # fmt: skip
        shown, more = page(found, limit, lambda m: str(m.id))
        return JSON({"messages": [content_view(m) for m in shown], "next": more})

    @endpoint
    def show(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        return JSON({"transactional_message": content_view(self._message(ws, request))})

    @with_body
    def update(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        updated = update_content(self.engine, ws, self._message(ws, request), data)
        return JSON({"transactional_message": content_view(updated)})

    @endpoint
    def metrics(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        return reports.metrics(self.engine, [self._message(ws, request).id])

    @endpoint
    def link_metrics(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        return reports.link_metrics(self.engine, request, [self._message(ws, request).id])

    @endpoint
    def top_links(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        return reports.top_links(self.engine, [self._message(ws, request).id])

    def _message(self, ws: model.Workspace, request: Request) -> model.Message:
        message_id = positive_int(request.path_params["id"], "message id")
        message = store.get_message(self.engine, ws.id, message_id)
        if message is None or message.kind != "transactional":
            raise NotFoundError(f"no transactional message {message_id}")
        return message
