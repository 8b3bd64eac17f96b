"""App/Track API routes for issue 4 (kinds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

if TYPE_CHECKING:
    from linktrack.entrypoints.api import Api


def routes(api: Api) -> list[Route]:
    """The routes this module adds to the app."""
    return []
