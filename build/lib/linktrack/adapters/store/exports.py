"""The click export: every click of a workspace as CSV rows, streamed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.schema import clicks, people

CSV_HEADER: Final = (
    "timestamp",
    "ts",
    "delivery_id",
    "message_id",
    "link_id",
    "href",
    "person_id",
    "person_email",
    "cio_id",
    "machine",
    "machine_reasons",
    "user_agent",
    "ip",
    "method",
    "source",
)


def clicks_csv_rows(
    conn: Connection,
    workspace_id: int,
    *,
    message_id: int | None = None,
    start: float | None = None,
    end: float | None = None,
    human_only: bool = False,
) -> Iterator[list[Any]]:
    """The header, then one row per click (oldest first), streamed from the database."""
    c = clicks.c
    query = (
        sa.select(
            c.ts,
            c.delivery_id,
            c.message_id,
            c.link_id,
            c.href,
            people.c.external_id,
            people.c.email,
            people.c.cio_id,
            c.machine,
            c.machine_reasons,
            c.user_agent,
            c.ip,
            c.method,
            c.source,
        )
        .outerjoin(people, people.c.id == c.person_id)
        .where(c.workspace_id == workspace_id)
        .order_by(c.ts, c.id)
    )
    if message_id is not None:
        query = query.where(c.message_id == message_id)
    if start is not None:
        query = query.where(c.ts >= start)
    if end is not None:
        query = query.where(c.ts < end)
    if human_only:
        query = query.where(c.machine.is_(False))
    yield list(CSV_HEADER)
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
    for r in result:
        yield _csv_row(r)


def _csv_row(r: Any) -> list[Any]:
    """One click as a CSV row (`r`: a row of the export query)."""
    when = dt.datetime.fromtimestamp(r.ts, dt.UTC).isoformat(timespec="milliseconds")
    return [
        when.replace("+00:00", "Z"),
        r.ts,
        r.delivery_id,
        r.message_id,
        r.link_id,
        r.href,
        r.external_id,
        r.email,
        r.cio_id,
        bool(r.machine),
        ";".join(r.machine_reasons or ()),
        r.user_agent,
        r.ip,
        r.method,
        r.source,
    ]
