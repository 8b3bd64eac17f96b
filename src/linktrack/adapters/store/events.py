"""Clicks, opens and delivery reports in the store, with the rollups the writer keeps.

The writer calls these inside one transaction per batch (see service/writer.py):
rows are inserted with ON CONFLICT DO NOTHING on the event id and the rollups
are added to only for what was inserted, so a replay counts nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from linktrack.adapters.store.engine import Db, dialect_insert
from linktrack.adapters.store.rows import insert_new
from linktrack.adapters.store.schema import (
    clicks,
    consumer_offsets,
    deliveries,
    delivery_links,
    delivery_reports,
    link_buckets,
    link_stats,
    message_stats,
    opens,
)
from linktrack.core.model import Delivery
from linktrack.core.rollups import FIRST_COUNTERS, DeliveryState, FirstTimes

_IN_CHUNK: Final = 900  # ids per IN (...) list: far below every driver's limit


@dataclass(frozen=True, slots=True)
class NearbyClick:
    """A stored click near a batch's clicks in time: its burst and actor context."""

    event_id: str
    delivery_id: str
    link_id: int | None
    href: str
    ts: float
    user_agent: str
    ip: str | None
    machine: bool
    machine_reasons: list[str]
    source: str  # "link" (followed), "sdk" (reported by an app)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


def _bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    """(INSERT statement, executemany parameters) for many rows.

    PostgreSQL gets one `INSERT ... SELECT unnest(array), ...` with a column
    per array: a short, cacheable statement, where a multi-row VALUES list
    makes psycopg re-parse a statement of tens of thousands of placeholders
    for every batch (measured: most of the writer's time on PostgreSQL).
    """
    ins = dialect_insert(conn, table)
    if conn.dialect.name != "postgresql":
        return ins, rows
    names = list(rows[0])
    columns: list[sa.ColumnElement[Any]] = []
    for name in names:
        kind = table.c[name].type
        values = [row[name] for row in rows]
        if isinstance(kind, sa.JSON):
            texts = [orjson.dumps(v).decode() for v in values]
            array = sa.bindparam(None, texts, type_=postgresql.ARRAY(sa.Text()))
            columns.append(sa.cast(sa.func.unnest(array), sa.JSON()))
        else:
            array = sa.bindparam(None, values, type_=postgresql.ARRAY(kind))
            columns.append(sa.func.unnest(array))
    return ins.from_select(names, sa.select(*columns)), None


def _run(conn: Connection, stmt: Any, params: Any) -> sa.CursorResult[Any]:
    return conn.execute(stmt) if params is None else conn.execute(stmt, params)


# -------------------------------------------------------------------- checkpoints


def checkpoint(engine: Engine, consumer: str) -> str | None:
    """A consumer's saved log position (None: from the start)."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(consumer_offsets.c.position).where(consumer_offsets.c.consumer == consumer)
        ).scalar()


def claim_checkpoint(conn: Connection, consumer: str) -> str | None:
    """Lock the consumer's position for this transaction and return it."""
    # Writing first makes the whole batch one write transaction on SQLite
    # (consistent reads), and FOR UPDATE serialises same-named consumers on PG.
    insert_new(
        conn, consumer_offsets, "consumer", consumer=consumer, position=None, updated_at=time.time()
    )
    position: str | None = conn.execute(
        sa.select(consumer_offsets.c.position)
        .where(consumer_offsets.c.consumer == consumer)
        .with_for_update()
    ).scalar()
    return position


_PROGRESS: Final = ("lag_seconds", "events_per_second", "heartbeat_at")


def save_checkpoint(
    conn: Connection,
    consumer: str,
    position: str | None,
    progress: tuple[float, float, float] | None = None,
) -> None:
    """Move the position; with `progress` (lag, events/s, at), the writer's word too."""
    values: dict[str, Any] = {"position": position, "updated_at": time.time()}
    if progress is not None:
        values.update(zip(_PROGRESS, progress, strict=True))
    conn.execute(
        sa.update(consumer_offsets).where(consumer_offsets.c.consumer == consumer).values(values)
    )


def save_progress(conn: Connection, consumer: str, lag: float, rate: float, at: float) -> None:
    """What the writer says of itself: seconds behind the log and events/s, as of `at`."""
    insert_new(conn, consumer_offsets, "consumer", consumer=consumer, position=None, updated_at=at)
    conn.execute(
        sa.update(consumer_offsets)
        .where(consumer_offsets.c.consumer == consumer)
        .values(lag_seconds=lag, events_per_second=rate, heartbeat_at=at)
    )


def writer_progress(engine: Engine) -> list[dict[str, Any]]:
    """Every consumer's last word: consumer, lag_seconds, events_per_second, heartbeat_at."""
    c = consumer_offsets.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.consumer, c.lag_seconds, c.events_per_second, c.heartbeat_at)
            .where(c.heartbeat_at.is_not(None))
            .order_by(c.consumer)
        ).mappings()
        return [dict(row) for row in rows]


# ------------------------------------------------------------------ what is read


def _link_count(conn: Connection) -> sa.ColumnElement[Any]:
    """How many links a delivery recorded (`link_ids`, a JSON array or JSON null)."""
    ids = deliveries.c.link_ids
    if conn.dialect.name == "postgresql":  # json_array_length refuses a JSON null there
        return sa.case((sa.func.json_typeof(ids) == "array", sa.func.json_array_length(ids)))
    return sa.func.json_array_length(ids)  # SQLite: 0 for a JSON null


def lock_deliveries(conn: Connection, ids: list[str]) -> dict[str, DeliveryState]:
    """The deliveries a batch names, locked for the batch's transaction."""
    out: dict[str, DeliveryState] = {}
    cols = deliveries.c
    for chunk in _chunks(ids):
        # Locked in id order: concurrent writers (Redis scale-out) touching
        # the same delivery serialise here instead of racing on first-times.
        rows = conn.execute(
            sa.select(
                cols.id,
                cols.workspace_id,
                cols.message_id,
                cols.person_id,
                sa.func.coalesce(cols.sent_at, cols.created_at),
                cols.opened_at,
                cols.clicked_at,
                cols.human_clicked_at,
                _link_count(conn),
            )
            .where(cols.id.in_(chunk))
            .order_by(cols.id)
            .with_for_update()
        )
        for r in rows:
            out[r[0]] = DeliveryState(*r)
    return out


def nearby_clicks(
    conn: Connection, delivery_ids: list[str], lo: float, hi: float
) -> list[NearbyClick]:
    """The deliveries' stored clicks between lo and hi, with what the bot rules read."""
    rows: list[NearbyClick] = []
    c = clicks.c
    for chunk in _chunks(delivery_ids):
        query = sa.select(
            c.event_id, c.delivery_id, c.link_id, c.href, c.ts, c.user_agent, c.ip,
            c.machine, c.machine_reasons, c.source,
        ).where(c.delivery_id.in_(chunk), c.ts.between(lo, hi))  # fmt: skip
        rows.extend(
            NearbyClick(*r[:7], bool(r[7]), list(r[8] or []), r[9]) for r in conn.execute(query)
        )
    return rows


def pair_first_times(
    conn: Connection, delivery_ids: Sequence[str]
) -> dict[tuple[str, int], FirstTimes]:
    """(delivery, link) → stored first click times (all, human, machine)."""
    out: dict[tuple[str, int], FirstTimes] = {}
    for chunk in _chunks(sorted(set(delivery_ids))):
        for r in conn.execute(
            sa.select(delivery_links).where(delivery_links.c.delivery_id.in_(chunk))
        ):
            out[r.delivery_id, r.link_id] = (r.first_ts, r.first_human_ts, r.first_machine_ts)
    return out


# --------------------------------------------------------------- what is written


def _insert_new(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> set[str]:
    if not rows:
        return set()
    ins, params = _bulk_insert(conn, table, rows)
    stmt = ins.on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
    return set(_run(conn, stmt, params).scalars())


def insert_clicks(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert clicks whose event id is new; return the ids actually inserted."""
    return _insert_new(conn, clicks, rows)


def insert_opens(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert opens whose event id is new; return the ids actually inserted."""
    return _insert_new(conn, opens, rows)


def _upsert(
    conn: Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    key_columns: list[str],
    changes: Callable[[Any], dict[str, Any]],
) -> None:
    """Insert `rows`; where one's key exists, update that row to `changes(excluded)`."""
    if not rows:
        return
    ins, params = _bulk_insert(conn, table, rows)
    upsert = ins.on_conflict_do_update(index_elements=key_columns, set_=changes(ins.excluded))
    _run(conn, upsert, params)


def save_pair_first_times(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert or move the first-click times of (delivery, link) pairs."""
    moved = ("first_ts", "first_human_ts", "first_machine_ts")
    _upsert(
        conn,
        delivery_links,
        rows,
        ["delivery_id", "link_id"],
        lambda excluded: {name: excluded[name] for name in moved},
    )


def _add(
    conn: Connection, table: sa.Table, key_columns: list[str], deltas: dict[Any, Counter[str]]
) -> None:
    """Upsert counters: insert the delta, or add it to the existing row."""
    counters = [c.name for c in table.c if c.name not in key_columns]
    rows = []
    # Sorted keys: concurrent writers lock rollup rows in one order, no deadlocks.
    for key in sorted(deltas):
        delta = deltas[key]
        if not any(delta.values()):
            continue
        row = dict(zip(key_columns, key, strict=True))
        row.update({name: delta.get(name, 0) for name in counters})
        rows.append(row)
    _upsert(
        conn,
        table,
        rows,
        key_columns,
        lambda excluded: {name: table.c[name] + excluded[name] for name in counters},
    )


def add_link_stats(conn: Connection, deltas: dict[Any, Counter[str]]) -> None:
    """Add to link_stats, keyed (message id, link id)."""
    _add(conn, link_stats, ["message_id", "link_id"], deltas)


def add_link_buckets(conn: Connection, deltas: dict[Any, Counter[str]]) -> None:
    """Add to link_buckets, keyed (message id, bucket start, link id)."""
    _add(conn, link_buckets, ["message_id", "bucket_start", "link_id"], deltas)


def save_first_times(
    conn: Connection, updates: list[dict[str, Any]], counters: dict[int, Counter[str]]
) -> None:
    """Deliveries' first open/click/human click ({"b_id", "o", "c", "h"}) and the
    message counters of deliveries that got their first of each."""
    if updates:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == sa.bindparam("b_id"))
            .values(
                opened_at=sa.bindparam("o"),
                clicked_at=sa.bindparam("c"),
                human_clicked_at=sa.bindparam("h"),
            ),
            updates,
        )
    stat_updates = [
        {"b_mid": mid, **{f"d_{name}": c.get(name, 0) for name in FIRST_COUNTERS}}
        for mid, c in sorted(counters.items())
        if any(c.values())
    ]
    if stat_updates:
        conn.execute(
            sa.update(message_stats)
            .where(message_stats.c.message_id == sa.bindparam("b_mid"))
            .values(
                {name: message_stats.c[name] + sa.bindparam(f"d_{name}") for name in FIRST_COUNTERS}
            ),
            stat_updates,
        )


def record_report(
    db: Db, delivery: Delivery, metric: str, *, ts: float, source: str, reason: str | None = None
) -> bool:
    """A delivery's first report of `metric` (a retried report adds nothing): False when
    one was already recorded."""
    return insert_new(
        db,
        delivery_reports,
        ("delivery_id", "metric"),
        delivery_id=delivery.id,
        metric=metric,
        workspace_id=delivery.workspace_id,
        message_id=delivery.message_id,
        person_id=delivery.person_id,
        ts=ts,
        reason=reason,
        source=source,
    )
