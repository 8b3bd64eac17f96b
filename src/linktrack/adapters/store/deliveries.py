"""Deliveries: one message to one recipient, its status and its per-message counters."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.rows import execute, record, where_given
from linktrack.adapters.store.schema import deliveries, delivery_links, links, message_stats
from linktrack.core.errors import NotFoundError
from linktrack.core.model import (
    CHANNELS,
    DELIVERED_STATUSES,
    STATUSES,
    Delivery,
    DeliveryLink,
    NewDelivery,
    check_choice,
    new_delivery_id,
)


def _delivery(row: sa.Row[Any], dlinks: tuple[DeliveryLink, ...] = ()) -> Delivery:
    return record(
        Delivery,
        row,
        settings=dict(row.settings or {}),
        warnings=list(row.warnings or []),
        link_ids=list(row.link_ids) if row.link_ids is not None else None,
        links=dlinks,
    )


def _bump(conn: Connection, message_id: int, **deltas: int) -> None:
    values = {name: message_stats.c[name] + delta for name, delta in deltas.items() if delta}
    if values:
        conn.execute(
            sa.update(message_stats).where(message_stats.c.message_id == message_id).values(values)
        )


def create_delivery(
    db: Db,
    *,
    workspace_id: int,
    message_id: int,
    channel: str,
    recipient: str,
    person_id: int | None = None,
    subject: str = "",
    body: str | None = None,
    body_plain: str | None = None,
    settings: Mapping[str, Any] | None = None,
    warnings: Sequence[Any] = (),
    link_ids: Sequence[int] | None = None,
    status: str = "queued",
    error: str | None = None,
    delivery_id: str | None = None,
    created_at: float | None = None,
) -> str:
    """Record a delivery (one message to one recipient) and return its id."""
    new = NewDelivery(
        workspace_id, message_id, channel, recipient, person_id, subject, body, body_plain,
        settings, warnings, link_ids, status, error, delivery_id, created_at,
    )  # fmt: skip
    return create_deliveries(db, [new])[0]


def _row(d: NewDelivery, now: float) -> dict[str, Any]:
    check_choice(d.channel, CHANNELS, "channel")
    check_choice(d.status, STATUSES, "delivery status")
    created = now if d.created_at is None else d.created_at
    return {
        "id": d.delivery_id or new_delivery_id(),
        "workspace_id": d.workspace_id,
        "message_id": d.message_id,
        "person_id": d.person_id,
        "channel": d.channel,
        "recipient": d.recipient,
        "subject": d.subject,
        "body": d.body,
        "body_plain": d.body_plain,
        "settings": dict(d.settings or {}),
        "warnings": list(d.warnings),
        "link_ids": list(d.link_ids) if d.link_ids is not None else None,
        "status": d.status,
        "error": d.error,
        "created_at": created,
        "send_at": d.send_at,
        "sent_at": created if d.status in DELIVERED_STATUSES else None,
    }


def create_deliveries(db: Db, new: Sequence[NewDelivery]) -> list[str]:
    """Record deliveries in one statement (bulk sends) and return their ids, in order."""
    now = time.time()
    rows: list[dict[str, Any]] = []
    counts: Counter[tuple[int, str]] = Counter()
    for d in new:
        rows.append(_row(d, now))
        counts[d.message_id, d.status] += 1
    if rows:
        with transaction(db) as conn:
            conn.execute(sa.insert(deliveries), rows)
            for (message_id, status), count in sorted(counts.items()):
                _bump(conn, message_id, **{f"status_{status}": count})
    return [row["id"] for row in rows]


def mark_delivery(
    db: Db, delivery_id: str, status: str, *, error: str | None = None, at: float | None = None
) -> None:
    """Move a delivery to `status` (sent/outbox also stamp sent_at), keeping counters right."""
    check_choice(status, STATUSES, "delivery status")
    at = time.time() if at is None else at
    values: dict[str, Any] = {"status": status, "error": error}
    if status in DELIVERED_STATUSES:
        values["sent_at"] = sa.func.coalesce(deliveries.c.sent_at, at)
    with transaction(db) as conn:
        # One conditional UPDATE per possible old status: each is atomic, so the
        # counters follow the status even with concurrent callers.
        for old in sorted(STATUSES):
            row = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.status == old)
                .values(values)
                .returning(deliveries.c.message_id)
            ).first()
            if row is not None:
                if old != status:
                    _bump(conn, row.message_id, **{f"status_{old}": -1, f"status_{status}": 1})
                return
    raise NotFoundError(f"delivery {delivery_id!r} does not exist")


def set_delivery_settings(db: Db, delivery_id: str, settings: Mapping[str, Any]) -> None:
    """Replace a delivery's settings document (what its transport reads)."""
    statement = sa.update(deliveries).where(deliveries.c.id == delivery_id)
    execute(db, statement.values(settings=dict(settings)))


def forget_content(db: Db, delivery_id: str) -> None:
    """Drop a delivery's bodies once sent (the sender asked for no message retention)."""
    statement = sa.update(deliveries).where(deliveries.c.id == delivery_id)
    execute(db, statement.values(body=None, body_plain=None))


def release_scheduled(db: Db, now: float, limit: int = 500) -> int:
    """Queue the scheduled deliveries whose `send_at` has come; return how many."""
    with transaction(db) as conn:
        due = (
            conn.execute(
                sa.select(deliveries.c.id)
                .where(deliveries.c.status == "scheduled", deliveries.c.send_at <= now)
                .order_by(deliveries.c.send_at)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for delivery_id in due:
            mark_delivery(conn, delivery_id, "queued")
    return len(due)


def queued_deliveries(db: Db, limit: int) -> list[tuple[str, int]]:
    """(delivery id, workspace id) of the oldest queued deliveries."""
    with transaction(db) as conn:
        rows = conn.execute(
            sa.select(deliveries.c.id, deliveries.c.workspace_id)
            .where(deliveries.c.status == "queued")
            .order_by(deliveries.c.created_at)
            .limit(limit)
        ).all()
    return [(r.id, r.workspace_id) for r in rows]


def get_delivery(db: Db, workspace_id: int, delivery_id: str) -> Delivery | None:
    """A delivery with its links (those recorded at send, or all of its message's)."""
    with transaction(db) as conn:
        row = conn.execute(
            sa.select(deliveries).where(
                deliveries.c.id == delivery_id, deliveries.c.workspace_id == workspace_id
            )
        ).first()
        return None if row is None else _with_links(conn, [row])[0]


def _with_links(conn: Connection, rows: Sequence[sa.Row[Any]]) -> list[Delivery]:
    """The deliveries of `rows`, each with its links and their first clicks (two queries)."""
    by_message: dict[int, list[sa.Row[Any]]] = {}
    for link in conn.execute(
        sa.select(links)
        .where(links.c.message_id.in_(sorted({r.message_id for r in rows})))
        .order_by(links.c.id)
    ):
        by_message.setdefault(link.message_id, []).append(link)
    dl = delivery_links.c
    firsts = {
        (f.delivery_id, f.link_id): (f.first_ts, f.first_human_ts)
        for f in conn.execute(
            sa.select(dl.delivery_id, dl.link_id, dl.first_ts, dl.first_human_ts).where(
                dl.delivery_id.in_([r.id for r in rows])
            )
        )
    }
    out = []
    for row in rows:
        wanted = None if row.link_ids is None else set(row.link_ids)
        dlinks = tuple(
            DeliveryLink(k.id, k.key, k.href, k.tag, *firsts.get((row.id, k.id), (None, None)))
            for k in by_message.get(row.message_id, [])
            if wanted is None or k.id in wanted
        )
        out.append(_delivery(row, dlinks))
    return out


def list_deliveries(
    db: Db,
    workspace_id: int,
    *,
    message_id: int | None = None,
    person_id: int | None = None,
    status: str | None = None,
    channel: str | None = None,
    before: float | None = None,
    after: tuple[float, str] | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Deliveries newest first, with their links (pass the last `created_at` as `before`
    to page)."""
    query = where_given(
        sa.select(deliveries).where(deliveries.c.workspace_id == workspace_id),
        (deliveries.c.message_id, message_id),
        (deliveries.c.person_id, person_id),
        (deliveries.c.status, status),
        (deliveries.c.channel, channel),
    )
    if before is not None:
        query = query.where(deliveries.c.created_at < before)
    if after is not None:  # the (created_at, id) of a page's last delivery: the rows past it
        at, last = after
        created = deliveries.c.created_at
        query = query.where(sa.or_(created < at, sa.and_(created == at, deliveries.c.id > last)))
    query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id).limit(limit)
    with transaction(db) as conn:
        return _with_links(conn, conn.execute(query).all())


def sample_delivery(db: Db, workspace_id: int, message_ids: Sequence[int]) -> Delivery | None:
    """The newest delivery of the messages whose body is still kept (the click map's sample)."""
    d = deliveries.c
    query = (
        sa.select(deliveries)
        .where(d.workspace_id == workspace_id, d.message_id.in_(list(message_ids)))
        .where(d.body.is_not(None))
        .order_by(d.created_at.desc(), d.id)
        .limit(1)
    )
    with transaction(db) as conn:
        rows = conn.execute(query).all()
        return _with_links(conn, rows)[0] if rows else None


def delivery_backlog(db: Db) -> dict[str, int]:
    """How many deliveries wait to be sent and how many failed, across workspaces."""
    with transaction(db) as conn:
        rows = conn.execute(
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.status.in_(("queued", "failed")))
            .group_by(deliveries.c.status)
        ).all()
    return {"queued": 0, "failed": 0} | {status: int(n) for status, n in rows}


def ping(db: Db) -> None:
    """Raise unless the store answers a query."""
    with transaction(db) as conn:
        conn.execute(sa.select(1))
