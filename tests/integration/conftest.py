"""Fixtures of the integration tests: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from linktrack.adapters import store


@pytest.fixture
def engine(db_url: str) -> Iterator[store.Engine]:
    """A migrated, empty store; each test using it runs on SQLite and on PostgreSQL."""
    store.migrate(db_url)
    eng = store.make_engine(db_url)
    yield eng
    eng.dispose()

