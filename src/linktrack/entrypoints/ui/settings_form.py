"""The Workspace settings forms read into settings changes, and the URL parameter preview.

Each form is one section of the settings document; what a section posts becomes the
partial document `PUT /v1/workspace/settings` takes, validated by the same
`core.settings.changed_settings`. The preview composes a one-link message for a
sample person through the compose pipeline every send uses, so what it shows is
what the next send does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from linktrack.core.compose import MemoryLinkTable, Message, Tracking
from linktrack.core.errors import InputError
from linktrack.core.liquid import TemplateError
from linktrack.core.model import Person, new_delivery_id
from linktrack.core.settings import MAX_PARAMS, TrackingSettings
from linktrack.core.tokens import Signer

Form = dict[str, str]

SECTIONS: Final = ("params", "tracking", "shortening")
# The rows a form may post: every parameter the settings allow, and some empty ones.
MAX_ROWS: Final = MAX_PARAMS + 20
_ROW = re.compile(r"param_(name|value|remove)_([0-9]{1,3})")

SAMPLE_HREF: Final = "https://www.example.com/spring-sale?ref=mail"
SAMPLE_PERSON: Final = Person(
    id=0,
    workspace_id=0,
    cio_id="a1b2c3d4e5f6",
    external_id="sample-42",
    email="ada@example.com",
    phone=None,
    attributes={"first_name": "Ada", "plan": "pro"},
    unsubscribed=False,
    created_at=0.0,
    updated_at=0.0,
)
# What a broadcast's send gives Liquid besides the person (service.containers.scope_of).
SAMPLE_SCOPE: Final = {
    "campaign": {"id": 1, "name": "Spring sale", "type": "broadcast"},
    "message": {"id": 1, "name": "Spring sale email"},
    "trigger": {},
}


@dataclass(frozen=True, slots=True)
class ParamRow:
    """One row of the URL parameters editor, as the user typed it."""

    name: str
    value: str


def rows_of(settings: TrackingSettings) -> list[ParamRow]:
    return [ParamRow(name, value) for name, value in settings.url_params.items()]


def posted_rows(form: Form) -> list[ParamRow]:
    """The editor's rows in their order, without empty ones and those ticked for removal."""
    found: dict[int, dict[str, str]] = {}
    for field, value in form.items():
        match = _ROW.fullmatch(field)
        if match:
            found.setdefault(int(match.group(2)), {})[match.group(1)] = value
    if len(found) > MAX_ROWS:
        raise InputError(f"the URL parameters form holds at most {MAX_ROWS} rows")
    return [
        ParamRow(row.get("name", "").strip(), row.get("value", ""))
        for _, row in sorted(found.items())
        if not row.get("remove") and (row.get("name", "").strip() or row.get("value", "").strip())
    ]


def params_of(rows: list[ParamRow]) -> dict[str, str]:
    """The rows as `url_params`: empty rows left out; a value needs a name, once."""
    params: dict[str, str] = {}
    for row in rows:
        if not row.name and not row.value.strip():
            continue
        if not row.name:
            raise InputError(f"the URL parameter with value {row.value[:40]!r} needs a name")
        if row.name in params:
            raise InputError(f"the URL parameter {row.name!r} is named twice")
        params[row.name] = row.value
    return params


def _checked(form: Form, name: str) -> bool:
    return form.get(name) == "1"


def section_change(section: str, form: Form) -> dict[str, Any]:
    """The partial settings document one section's form posts."""
    if section == "params":
        return {
            "url_params": params_of(posted_rows(form)),
            "add_cio_id": _checked(form, "add_cio_id"),
        }
    if section == "tracking":
        return {
            "open_tracking": _checked(form, "open_tracking"),
            "tracking_domain": form.get("tracking_domain", ""),
            "tracking_https": _checked(form, "tracking_https"),
        }
    if section == "shortening":
        return {
            "shorten_links": _checked(form, "shorten_links"),
            "short_domain": form.get("short_domain", ""),
        }
    raise InputError(f"no settings section {section[:40]!r}: one of {', '.join(SECTIONS)}")


@dataclass(frozen=True, slots=True)
class Preview:
    """The sample link's destination, or why there is none."""

    href: str
    url: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"href": self.href, "url": self.url, "error": self.error}


def preview(settings: TrackingSettings, signer: Signer) -> Preview:
    """Where the sample link leads for the sample person under `settings`."""
    tracking = Tracking(
        settings=settings,
        signer=signer,
        delivery_id=new_delivery_id(),
        links=MemoryLinkTable(),
        cio_id=SAMPLE_PERSON.cio_id,
        scope={**SAMPLE_SCOPE, "customer": SAMPLE_PERSON.to_customer()},
    )
    try:
        Message(html=f'<a href="{SAMPLE_HREF}">Spring sale</a>').compose(tracking)
    except TemplateError as exc:
        return Preview(SAMPLE_HREF, error=str(exc))
    return Preview(SAMPLE_HREF, url=tracking.found[0].href)
