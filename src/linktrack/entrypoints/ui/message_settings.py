"""Message settings: whether each action (a newsletter's content, a transactional message)
tracks opens and clicks, and a Track toggle for each link of its HTML body.

Both change the message through `service.containers.update_content`, as the API's
`PUT /v1/campaigns/{id}/actions/{action_id}` and `PUT /v1/transactional/{id}` do, so a
change is validated alike. A link's toggle adds or removes `class="untracked"` on that
anchor of the template (`core.compose.untrack`): sends made afterwards follow it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core.compose.anchors import source_anchors
from linktrack.core.compose.untrack import set_tracked
from linktrack.core.errors import ConflictError, InputError, NotFoundError
from linktrack.core.model import Message, Workspace
from linktrack.core.urls import UrlKind, classify
from linktrack.entrypoints.ui.auth import Form, Viewer
from linktrack.entrypoints.ui.context import Ui
from linktrack.service.containers import update_content

CONTAINER_KINDS: Final = ("campaign", "broadcast", "newsletter")
KIND_NAMES: Final = {
    "campaign": "Campaign",
    "broadcast": "Broadcast",
    "newsletter": "Newsletter",
    "transactional": "Transactional message",
}
SAVED: Final = {
    "tracked": "Saved: open and click tracking changed for later sends.",
    "link": "Saved: the link's tracking changed for later sends.",
}


@dataclass(frozen=True, slots=True)
class Target:
    """What one settings page edits: a container's messages, or one transactional message."""

    kind: str
    id: int
    name: str
    messages: list[Message]


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One anchor of a message's HTML body, as the page lists it."""

    index: int
    href: str
    tag: str | None
    tracked: bool
    note: str  # why the toggle does not apply, or ""


def body_version(message: Message) -> str:
    """A short digest of the body: a toggle posted from a page of an older body is refused."""
    return hashlib.sha256(message.body.encode()).hexdigest()[:16]


def link_rows(message: Message) -> list[LinkRow]:
    """The links of an email's HTML body, numbered as compose numbers them."""
    if message.channel != "email" or not message.body:
        return []
    rows = []
    for i, found in enumerate(source_anchors(message.body, True)):
        href_attr = found.tag.get("href")
        href = href_attr.value if href_attr is not None else ""
        anchor = found.anchor
        note = ""
        if anchor.passthrough:
            note = "written by cio_link: its track: option decides"
        elif anchor.key is None and classify(href) in (UrlKind.NEVER, UrlKind.EMPTY):
            note = "not a web link: never rewritten"
        rows.append(LinkRow(i, href, anchor.tag, not anchor.untracked, note))
    return rows


def _positive(value: str | None, name: str) -> int:
    if value is None or not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**31:
        raise InputError(f"{name} must be a positive whole number")
    return int(value)


class MessageSettings:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.engine = ui.services.engine

    def page(self, request: Request, viewer: Viewer, form: Form) -> Response:
        target = self._target(viewer.workspace, request)
        if request.method == "POST":
            return self._save(request, viewer.workspace, target, form)
        saved = request.query_params.get("saved", "")
        return self.ui.pages.render(
            request,
            "message_settings.html",
            title=f"Settings of {target.name}",
            target=target,
            kind_name=KIND_NAMES[target.kind],
            report=f"/ui/messages/{target.kind}/{target.id}",
            parts=[(m, link_rows(m), body_version(m)) for m in target.messages],
            saved=SAVED.get(saved, ""),
        )

    def _save(self, request: Request, ws: Workspace, target: Target, form: Form) -> Response:
        message_id = _positive(form.get("message_id"), "message_id")
        message = next((m for m in target.messages if m.id == message_id), None)
        if message is None:
            raise NotFoundError(f"no message {message_id} in {target.kind} {target.id}")
        op = form.get("op")
        on = form.get("tracked") == "1"
        if op == "tracked":
            update_content(self.engine, ws, message, {"tracked": on})
        elif op == "link":
            if form.get("version") != body_version(message):
                raise ConflictError(
                    "the message changed since this page was loaded: reload it and try again"
                )
            index = _positive(form.get("anchor"), "anchor") - 1
            body = set_tracked(message.body, index, on)
            update_content(self.engine, ws, message, {"body": body})
        else:
            raise InputError("op must be tracked or link")
        return RedirectResponse(f"{request.url.path}?saved={op}#message-{message.id}", 303)

    def _target(self, ws: Workspace, request: Request) -> Target:
        kind = request.path_params["kind"]
        raw_id = request.path_params["id"]
        if not (raw_id.isascii() and raw_id.isdigit()) or not 0 < int(raw_id) < 2**31:
            raise NotFoundError("no such message")
        target_id = int(raw_id)
        if kind == "transactional":
            found = store.get_message(self.engine, ws.id, target_id)
            if found is None or found.kind != "transactional":
                raise NotFoundError(f"no transactional message {target_id}")
            return Target(kind, found.id, found.name, [found])
        if kind not in CONTAINER_KINDS:
            raise NotFoundError("no such page")
        containers = self.ui.services.containers
        container = containers.get(ws, kind, target_id)
        return Target(kind, container.id, container.name, containers.actions(container))


def routes(ui: Ui) -> list[Route]:
    settings = MessageSettings(ui)
    return [
        Route(
            "/messages/{kind}/{id}/settings",
            ui.guard(settings.page),
            methods=["GET", "POST"],
        )
    ]
