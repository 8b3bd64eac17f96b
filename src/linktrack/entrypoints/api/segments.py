"""Segments: create, list, read and delete them; count and page their members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.core.errors import NotFoundError
from linktrack.core.model import Workspace
from linktrack.core.segments import Segment, parse_new_segment
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
from linktrack.entrypoints.api.views import segment_view

MEMBERS_LIMIT: Final = 1000  # members of a membership page, at most and by default


@dataclass(frozen=True, slots=True)
class SegmentsApi:
    engine: store.Engine

    @with_body
    def create(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        new = parse_new_segment(data)
        made = store.create_segment(self.engine, ws.id, new.name, new.description, new.rule)
        return JSON({"segment": segment_view(made)}, status_code=201)

    @endpoint
    def listing(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)
        found = store.list_segments(self.engine, ws.id, before_id=id_start(start),
                                    limit=limit + 1)  # fmt: skip
        shown, more = page(found, limit, lambda s: str(s.id))
        return JSON({"segments": [segment_view(s) for s in shown], "next": more})

    @endpoint
    def show(self, request: Request) -> JSON:
        _, found = self._segment(request)
        return JSON({"segment": segment_view(found)})

    @endpoint
    def delete(self, request: Request) -> JSON:
        ws, found = self._segment(request)
        store.delete_segment(self.engine, ws.id, found.id)
        return JSON({})

    @endpoint
    def customer_count(self, request: Request) -> JSON:
        ws, found = self._segment(request)
        return JSON({"count": store.segment_count(self.engine, ws.id, found.rule)})

    @endpoint
    def membership(self, request: Request) -> JSON:
        """A page of members by person id: `next` is the last one's (keyset)."""
        ws, found = self._segment(request)
        limit, start = page_request(request, most=MEMBERS_LIMIT, default=MEMBERS_LIMIT)
        after = id_start(start)
        members = store.segment_page(self.engine, ws.id, found.rule, after, limit + 1)
        shown, more = page(members, limit, lambda p: str(p.id))
        return JSON({
            "identifiers": [{"id": p.external_id, "email": p.email, "cio_id": p.cio_id}
                            for p in shown],
            "ids": [p.external_id for p in shown],
            "next": more,
        })  # fmt: skip

    def _segment(self, request: Request) -> tuple[Workspace, Segment]:
        ws = app_workspace(self.engine, request)
        segment_id = positive_int(request.path_params["id"], "id")
        found = store.get_segment(self.engine, ws.id, segment_id)
        if found is None:
            raise NotFoundError(f"no segment {segment_id} in this workspace")
        return ws, found
