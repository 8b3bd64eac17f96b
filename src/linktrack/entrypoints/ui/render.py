"""Pages as HTML: the Jinja2 environment, its filters, and the answers pages give.

Numbers are formatted for people here (1,234 and 12.5 %); times leave as
`<time datetime="…">` in UTC, and `static/app.js` shows them in the browser's
time zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

# Every page: scripts and styles from /ui/static only, frames of our own pages only.
CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS: Final = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def number(value: Any) -> str:
    """1234 → "1,234"; None → "–"."""
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def percent(value: Any) -> str:
    """A share (0.125) as people write it: "12.5 %"."""
    if value is None:
        return "–"
    return f"{float(value) * 100:.1f} %"


def when(ts: Any) -> Markup:
    """An epoch time as `<time>`: UTC in the page, the reader's time zone once app.js runs."""
    if ts is None:
        return Markup("–")
    moment = dt.datetime.fromtimestamp(float(ts), dt.UTC)
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    shown = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}">{}</time>').format(iso, shown)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("linktrack.entrypoints.ui", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, percent=percent, when=when)
    return env


class Pages:
    """Renders templates with what every page needs (the viewer, the CSRF token)."""

    def __init__(self) -> None:
        self.env = environment()

    def render(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        page = self.env.get_template(template).render(
            request=request,
            viewer=request.scope.get("linktrack.viewer"),
            csrf_token=request.session.get("csrf", ""),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(page, status_code=status, headers=HEADERS)
