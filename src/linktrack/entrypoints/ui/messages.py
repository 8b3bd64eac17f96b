"""The Messages page: every campaign, broadcast, newsletter and transactional message
with its funnel; human clicks by default, machine ones on request; sorted, paged,
searched by name."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.entrypoints.ui.auth import Form, Viewer
from linktrack.entrypoints.ui.context import Ui

PAGE_SIZE: Final = 25
KIND_NAMES: Final = {
    "campaign": "Campaign",
    "broadcast": "Broadcast",
    "newsletter": "Newsletter",
    "transactional": "Transactional",
    "adhoc": "Ad hoc send",
}
# column → (heading, how it sorts); "clicked" and "click_rate" follow the machine switch.
COLUMNS: Final = {
    "name": "Name",
    "kind": "Kind",
    "sent": "Sent",
    "delivered": "Delivered",
    "opened": "Opened",
    "clicked": "Clicked",
    "click_rate": "Click rate",
    "created_at": "Created",
}


def _number(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 10**9 else default


def message_rows(entries: list[dict[str, Any]], machine: bool) -> list[dict[str, Any]]:
    """The page's rows: clicked and click rate human-only unless `machine`."""
    return [
        {
            **e,
            "kind_name": KIND_NAMES.get(e["kind"], e["kind"]),
            "clicked": e["clicked"] if machine else e["human_clicked"],
            "click_rate": e["click_rate"] if machine else e["human_click_rate"],
        }
        for e in entries
    ]


class MessagesPage:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def listing(self, request: Request, viewer: Viewer, form: Form) -> Response:
        q = request.query_params
        search = q.get("q", "")[:200]
        machine = q.get("machine") == "1"
        sort = q.get("sort", "created_at")
        sort = sort if sort in COLUMNS else "created_at"
        descending = q.get("dir", "desc" if sort != "name" else "asc") != "asc"
        entries = store.message_overview(self.ui.services.engine, viewer.workspace.id, search)
        rows = message_rows(entries, machine)
        rows.sort(key=lambda r: (r[sort] is None, r[sort], r["id"]), reverse=descending)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(_number(q.get("page"), 1), pages)
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return self.ui.pages.render(
            request,
            "messages.html",
            title="Messages",
            rows=shown,
            total=len(rows),
            page=page,
            pages=pages,
            search=search,
            machine=machine,
            sort=sort,
            descending=descending,
            columns=COLUMNS,
        )


def routes(ui: Ui) -> list[Route]:
    page = MessagesPage(ui)
    return [Route("/messages", ui.guard(page.listing))]
