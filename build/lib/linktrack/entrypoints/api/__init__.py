"""The App API and Track API: `build_api(services)` is the Starlette app (see `app.py`)."""

from __future__ import annotations

from linktrack.entrypoints.api.app import build_api

__all__ = ["build_api"]
