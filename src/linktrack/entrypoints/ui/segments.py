"""The Segments pages: the list with member counts, a builder for "clicked a link
matching … in message …", and a segment's count and members, paged by keyset.

The builder's form becomes the body `POST /v1/segments` takes and goes through
the same `core.segments.parse_new_segment` and `store.create_segment`; counts and
members are `store.segment_count` and `store.segment_page`, as the API's
`customer_count` and `membership` read them. A segment made here is one made
through the API.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core.errors import InputError, NotFoundError
from linktrack.core.segments import MESSAGE_KINDS, ClickedLink, Segment, parse_new_segment
from linktrack.entrypoints.ui.auth import Form, Refused, Viewer
from linktrack.entrypoints.ui.context import Ui

SEGMENTS_PAGE: Final = 25  # segments a list page shows
MEMBERS_PAGE: Final = 50  # members a segment's page shows
KIND_NAMES: Final = {
    "campaign": "Campaign",
    "broadcast": "Broadcast",
    "newsletter": "Newsletter",
    "transactional": "Transactional",
}
DAY: Final = 86400.0


def _cursor(value: str | None) -> int | None:
    """A page's `start`: the id the page continues after (or before)."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise Refused(400, "start must be the id a page continues from, as the pager gives it")
    return int(value)


def _day(form: Form, name: str) -> float | None:
    """A date field (YYYY-MM-DD, UTC) as Unix seconds at the start of that day."""
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} must be a date as YYYY-MM-DD") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def request_body(form: Form) -> dict[str, Any]:
    """The builder's form as the body of `POST /v1/segments`."""
    clicked: dict[str, Any] = {"human_only": form.get("who", "human") != "all"}
    kind, _, ident = form.get("message", "").partition(":")
    if kind:
        clicked["message"] = {"kind": kind, "id": int(ident) if ident.isdigit() else ident}
    if form.get("href", "").strip():
        clicked["href"] = form["href"].strip()
    since, until = _day(form, "since"), _day(form, "until")
    if since is not None:
        clicked["since"] = since
    if until is not None:  # the whole of the last day
        clicked["until"] = until + DAY - 0.001
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "conditions": {"clicked_link": clicked},
    }


def _date_of(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


class SegmentsPages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.engine = ui.services.engine

    def _messages(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The workspace's messages a segment can name, by kind and name."""
        found = store.message_overview(self.engine, viewer.workspace.id)
        shown = [
            {"value": f"{e['kind']}:{e['id']}", "kind": e["kind"], "id": e["id"],
             "label": f"{KIND_NAMES[e['kind']]}: {e['name']}"}
            for e in found if e["kind"] in MESSAGE_KINDS
        ]  # fmt: skip
        return sorted(shown, key=lambda m: (MESSAGE_KINDS.index(m["kind"]), m["label"], m["id"]))

    def listing(self, request: Request, viewer: Viewer, form: Form) -> Response:
        ws = viewer.workspace.id
        before = _cursor(request.query_params.get("start"))
        found = store.list_segments(self.engine, ws, before_id=before, limit=SEGMENTS_PAGE + 1)
        shown = found[:SEGMENTS_PAGE]
        rows = [{"segment": s, "count": store.segment_count(self.engine, ws, s.rule)}
                for s in shown]  # fmt: skip
        return self.ui.pages.render(
            request,
            "segments.html",
            title="Segments",
            rows=rows,
            first=before is None,
            next=str(shown[-1].id) if len(found) > SEGMENTS_PAGE else "",
            deleted=request.query_params.get("deleted") == "1",
        )

    def new(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """The builder (GET); its form (POST) creates the segment, or shows it again."""
        if request.method == "GET":
            return self._builder(request, viewer, {"who": "human"})
        try:
            made = parse_new_segment(request_body(form))
            segment = store.create_segment(
                self.engine, viewer.workspace.id, made.name, made.description, made.rule
            )
        except (InputError, NotFoundError) as exc:  # 400/422; a message not of this workspace
            # The API's messages name the field by its JSON path; the form has no such path.
            message = re.sub(r"conditions\.clicked_link(: |\.)", "", str(exc))
            return self._builder(request, viewer, form, message, exc.status)
        return RedirectResponse(f"/ui/segments/{segment.id}?created=1", status_code=303)

    def _builder(
        self, request: Request, viewer: Viewer, form: Form, error: str = "", status: int = 200
    ) -> Response:
        return self.ui.pages.render(request, "segment_new.html", status=status,
                                    title="New segment", form=form, error=error,
                                    messages=self._messages(viewer))  # fmt: skip

    def show(self, request: Request, viewer: Viewer, form: Form) -> Response:
        ws = viewer.workspace.id
        segment = self._segment(request, viewer)
        after = _cursor(request.query_params.get("start"))
        rule = segment.rule
        members = store.segment_page(self.engine, ws, rule, after, MEMBERS_PAGE + 1)
        shown = members[:MEMBERS_PAGE]
        return self.ui.pages.render(
            request,
            "segment.html",
            title=segment.name,
            segment=segment,
            summary=self._summary(viewer, rule),
            count=store.segment_count(self.engine, ws, rule),
            members=shown,
            first=after is None,
            next=str(shown[-1].id) if len(members) > MEMBERS_PAGE else "",
            created=request.query_params.get("created") == "1",
        )

    def delete(self, request: Request, viewer: Viewer, form: Form) -> Response:
        segment = self._segment(request, viewer)
        store.delete_segment(self.engine, viewer.workspace.id, segment.id)
        return RedirectResponse("/ui/segments?deleted=1", status_code=303)

    def _segment(self, request: Request, viewer: Viewer) -> Segment:
        text = request.path_params["id"]
        ident = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0
        found = store.get_segment(self.engine, viewer.workspace.id, ident) if ident else None
        if found is None:
            raise NotFoundError(f"no segment {text[:20]} in this workspace")
        return found

    def _summary(self, viewer: Viewer, rule: Any) -> dict[str, Any] | None:
        """A clicked_link segment in words' parts (None for one with other conditions)."""
        if not isinstance(rule, ClickedLink):
            return None
        names = {(m["kind"], m["id"]): m["label"] for m in self._messages(viewer)}
        message = rule.message
        name = None
        if message is not None:
            name = names.get((message.kind, message.id), f"{message.kind} {message.id}")
        return {
            "who": "People (human clicks only)" if rule.human_only else "Anyone (machines too)",
            "href": rule.href,
            "message": name,
            "action": message.action_id if message else None,
            "since": _date_of(rule.since),
            "until": _date_of(rule.until),
        }


def routes(ui: Ui) -> list[Route]:
    pages = SegmentsPages(ui)
    return [
        Route("/segments", ui.guard(pages.listing)),
        Route("/segments/new", ui.guard(pages.new), methods=["GET", "POST"]),
        Route("/segments/{id}", ui.guard(pages.show)),
        Route("/segments/{id}/delete", ui.guard(pages.delete), methods=["POST"]),
    ]
