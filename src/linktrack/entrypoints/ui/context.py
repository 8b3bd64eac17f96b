"""`Ui`: what each page module builds its routes from."""

from __future__ import annotations

from dataclasses import dataclass

from linktrack.bootstrap import Services
from linktrack.entrypoints.ui.auth import Guard
from linktrack.entrypoints.ui.render import Pages


@dataclass(frozen=True, slots=True)
class Ui:
    """The services, the page renderer and the login guard (`guard(handler)` is a page)."""

    services: Services
    pages: Pages
    guard: Guard
