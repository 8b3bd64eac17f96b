"""The click map's document: the message as sent, for the report's sandboxed iframe.

The body of the newest delivery that still has one (or the template, before any
send), its links made inert and badged server-side (core/clickmap.py) with the
numbers of Top Clicked Links. The document is the message's own HTML, so it
gets a policy of its own: no scripts (none is allowed, even opened outside its
sandboxed frame), no requests but images, styles and fonts.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from linktrack.adapters import store
from linktrack.core import clickmap
from linktrack.core.model import Delivery, Message
from linktrack.entrypoints.ui.auth import Form, Viewer
from linktrack.entrypoints.ui.context import Ui
from linktrack.entrypoints.ui.report_scope import Scope, scope_of

CSP: Final = (
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline' *; font-src * data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
HEADERS: Final = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # The message's images are fetched from their hosts: without the dashboard's URL.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
NOTHING: Final = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Click map</title>'
    "</head><body><p>Nothing to show: this message has no body yet.</p></body></html>"
)


def document(body: str, html: bool, link_of: clickmap.LinkOf, clicks: dict[int, int]) -> str:
    """The badged document of one message body (HTML, or plain text shown as text)."""
    badges = clickmap.badges_of(clicks)
    if html:
        return clickmap.badge_html(body, link_of, badges)
    return clickmap.badge_text(body, link_of, badges)


class ClickMapPage:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def document(self, request: Request, viewer: Viewer, form: Form) -> Response:
        scope = scope_of(self.ui.services, viewer.workspace, request)
        machine = request.query_params.get("machine") == "1"
        sample = store.sample_delivery(self.ui.services.engine, viewer.workspace.id, scope.ids)
        if sample is not None:
            page = self._sampled(sample, self._clicks(sample.message_id, machine))
        elif (template := template_of(scope)) is not None:
            page = self._from_template(template, self._clicks(template.id, machine))
        else:
            page = NOTHING
        return HTMLResponse(page, headers=HEADERS)

    def _clicks(self, message_id: int, machine: bool) -> dict[int, int]:
        """Each link's clicks as Top Clicked Links counts them (human, or all)."""
        with self.ui.services.engine.connect() as conn:
            links = store.top_links(conn, [message_id])
        return {link["link_id"]: link["clicks" if machine else "human_clicks"] for link in links}

    def _sampled(self, sample: Delivery, clicks: dict[int, int]) -> str:
        ring = self.ui.services.keys.ring
        link_of = clickmap.tracked_link_of(ring, sample.id, {link.id for link in sample.links})
        html = sample.channel == "email" and bool((sample.body or "").strip())
        body = (sample.body if html else sample.body or sample.body_plain) or ""
        return document(body, html, link_of, clicks)

    def _from_template(self, template: Message, clicks: dict[int, int]) -> str:
        links = store.list_links(self.ui.services.engine, [template.id])
        link_of = clickmap.template_link_of({link.key: link.id for link in links})
        html = template.channel == "email" and bool(template.body.strip())
        body = template.body if html else template.body or template.body_plain
        return document(body, html, link_of, clicks)


def template_of(scope: Scope) -> Message | None:
    """The first message in scope with a body: what the click map shows before any send."""
    return next((m for m in scope.shown if m.body.strip() or m.body_plain.strip()), None)
