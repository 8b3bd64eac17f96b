"""The People pages: the workspace's people (searched by id, email or cio_id, paged), who
clicked one link, and a person with their Activity timeline.

The timeline is the API's (`store.person_activities`, paged by the same keyset cursor
as `GET /v1/customers/{id}/activities`), so the dashboard and the API list the same
entries in the same order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core.errors import InputError, InvalidValueError, NotFoundError
from linktrack.core.model import Activity, Person, parse_identifier
from linktrack.entrypoints.api.common import page
from linktrack.entrypoints.api.reports import activity_type, decode_cursor, encode_cursor
from linktrack.entrypoints.ui.auth import Form, Viewer
from linktrack.entrypoints.ui.context import Ui

PAGE_SIZE: Final = 50
ACTIVITY_PAGE: Final = 25
SEARCH_LENGTH: Final = 320
ACTIVITY_TYPES: Final = {
    "": "Everything",
    "sent": "Sent",
    "failed": "Failed",
    "opened": "Opened",
    "clicked": "Clicked",
}
# core.bots reasons, as a person reads them.
REASONS: Final = {
    "bot_user_agent": "its User-Agent is a crawler's, scanner's or HTTP library's",
    "head_request": "a HEAD request (link checkers send those, people's browsers do not)",
    "too_fast": "less than 2 seconds after the message was sent",
    "burst": "most of the message's links within 2 seconds",
    "scanner_network": "from a published mail-scanner network",
}


def report_path(message: store.MessageRef) -> str:
    """The message's report page: a campaign's (broadcast's, newsletter's) for its actions."""
    if message.parent_id is not None:
        return f"/ui/messages/{message.kind}/{message.parent_id}"
    return f"/ui/messages/{message.kind}/{message.id}"


def person_path(person: Person) -> str:
    return f"/ui/people/{person.cio_id}"


def _positive(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**63:
        raise InputError(f"{name} must be a positive whole number")
    return int(value)


@dataclass(frozen=True, slots=True)
class Entry:
    """One timeline entry as the page shows it."""

    activity: Activity
    message: store.MessageRef | None
    link: store.LinkRef | None
    reasons: list[str]


class PeoplePages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.engine = ui.services.engine

    def listing(self, request: Request, viewer: Viewer, form: Form) -> Response:
        q = request.query_params
        if "clicked_link" in q:
            return self._clickers(request, viewer)
        search = q.get("q", "").strip()[:SEARCH_LENGTH]
        before = _positive(q.get("before"), "before")
        found = store.people_page(
            self.engine, viewer.workspace.id, search or None, before, PAGE_SIZE + 1
        )
        shown, more = page(found, PAGE_SIZE, lambda p: str(p.id))
        counts = store.human_click_counts(self.engine, viewer.workspace.id, [p.id for p in shown])
        return self.ui.pages.render(
            request,
            "people.html",
            title="People",
            people=shown,
            counts=counts,
            search=search,
            first_page=before is None,
            older=f"?{urlencode({'q': search, 'before': more})}" if more else "",
            person_path=person_path,
        )

    def _clickers(self, request: Request, viewer: Viewer) -> Response:
        q = request.query_params
        link_id = _positive(q.get("clicked_link"), "clicked_link")
        if link_id is None:
            raise InputError("clicked_link must be a link's id")
        link = store.link_refs(self.engine, viewer.workspace.id, [link_id]).get(link_id)
        if link is None:
            raise NotFoundError(f"no link {link_id} in this workspace")
        machine = q.get("machine") == "1"
        after = _positive(q.get("after"), "after")
        found = store.link_clickers(
            self.engine, viewer.workspace.id, link.id,
            human_only=not machine, after=after, limit=PAGE_SIZE + 1,
        )  # fmt: skip
        shown, more = page(found, PAGE_SIZE, lambda row: str(row[0].id))
        here = {"clicked_link": link.id, **({"machine": 1} if machine else {})}
        return self.ui.pages.render(
            request,
            "link_clickers.html",
            title=f"Who clicked link {link.id}",
            link=link,
            report=report_path(link.message),
            rows=shown,
            machine=machine,
            first_page=after is None,
            here=f"?{urlencode(here)}",
            other=f"?{urlencode({'clicked_link': link.id, **({} if machine else {'machine': 1})})}",
            later=f"?{urlencode({**here, 'after': more})}" if more else "",
            person_path=person_path,
        )

    def person(self, request: Request, viewer: Viewer, form: Form) -> Response:
        person = self._person(viewer, request.path_params["cio_id"])
        q = request.query_params
        kind = q.get("type", "")
        if kind not in ACTIVITY_TYPES:
            raise InputError(f"type must be one of {', '.join(t for t in ACTIVITY_TYPES if t)}")
        kinds, channel = activity_type(kind or None)
        start = q.get("start", "")
        found = store.person_activities(self.engine, viewer.workspace.id, person.id,
                                        limit=ACTIVITY_PAGE + 1,
                                        after=decode_cursor(start) if start else None,
                                        kinds=kinds, channel=channel)  # fmt: skip
        shown, more = page(found, ACTIVITY_PAGE, lambda a: encode_cursor(store.cursor_of(a)))
        return self.ui.pages.render(
            request,
            "person.html",
            title=person.email or person.external_id or f"cio_{person.cio_id}",
            person=person,
            attributes=[(k, _shown(v)) for k, v in sorted(person.attributes.items())],
            devices=store.devices_of(self.engine, person.id),
            entries=self._entries(viewer, shown),
            types=ACTIVITY_TYPES,
            kind=kind,
            first_page=not start,
            older=f"?{urlencode({'type': kind, 'start': more})}" if more else "",
            report_path=report_path,
        )

    def _person(self, viewer: Viewer, cio_id: str) -> Person:
        try:
            ident = parse_identifier(("cio_id", cio_id))
        except InvalidValueError:
            raise NotFoundError("no such person in this workspace") from None
        person = store.get_person(self.engine, viewer.workspace.id, ident)
        if person is None:
            raise NotFoundError("no such person in this workspace")
        return person

    def _entries(self, viewer: Viewer, shown: list[Activity]) -> list[Entry]:
        ws = viewer.workspace.id
        messages = store.message_refs(self.engine, ws, {a.message_id for a in shown})
        link_ids = {a.link_id for a in shown if a.link_id is not None}
        links = store.link_refs(self.engine, ws, link_ids)
        return [
            Entry(
                a,
                messages.get(a.message_id),
                links.get(a.link_id) if a.link_id is not None else None,
                [REASONS.get(r, r) for r in a.machine_reasons],
            )
            for a in shown
        ]


def _shown(value: Any) -> str:
    """An attribute's value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def routes(ui: Ui) -> list[Route]:
    pages = PeoplePages(ui)
    return [
        Route("/people", ui.guard(pages.listing)),
        Route("/people/{cio_id}", ui.guard(pages.person)),
    ]
