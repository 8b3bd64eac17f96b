"""Shared fixtures: real PostgreSQL and Redis when reachable.

On a newcomer's machine without the services the tests that need them skip
with the reason; with CI=true a missing service is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

PG_BASE = os.environ.get("LINKTRACK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LINKTRACK_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need(service: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    reason = f"{service} is not reachable on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards."""
    _need("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/linktrack.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/linktrack.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def redis_url() -> str:
    _need("Redis", "127.0.0.1", 6379)
    return REDIS_URL


def pytest_sessionstart(session: pytest.Session) -> None:
    from server import RUN_MARK

    os.environ[RUN_MARK] = uuid.uuid4().hex


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run leaves no process behind: every server, writer and bench it started is gone."""
    import signal
    import time

    from server import processes_of_this_run

    deadline = time.monotonic() + 10
    while (left := processes_of_this_run()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        lines = "\n".join(f"  {pid}: {cmd}" for pid, cmd in sorted(left.items()))
        print(f"\nthe test run left {len(left)} process(es) running (now killed):\n{lines}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
