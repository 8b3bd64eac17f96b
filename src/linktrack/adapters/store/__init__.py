"""The SQL store: schema, engine/migrations, commands and report queries."""

from __future__ import annotations

from linktrack.adapters.store.engine import make_engine, migrate
from linktrack.adapters.store.schema import metadata

__all__ = ["make_engine", "metadata", "migrate"]
