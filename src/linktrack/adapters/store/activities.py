"""A person's timeline: the deliveries, opens and clicks of one person, newest first.

The feed is paged by keyset: entries are ordered by (time, rank, row id), newest
first, and a page starts after the last entry of the one before (`Cursor`), so
clicks stored meanwhile never shift an entry onto a second page or off every page.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.schema import clicks, deliveries, messages, opens
from linktrack.core.model import Activity

# At equal times a click comes after the open it implies, after the send.
_RANK = {"sent": 0, "failed": 0, "opened": 1, "clicked": 2}
KINDS = tuple(_RANK)

Cursor = tuple[float, int, str]  # (time, rank, row id) of the last entry a page gave


def cursor_of(activity: Activity) -> Cursor:
    return (activity.ts, _RANK[activity.type], str(activity.row_id))


def _sent(r: sa.Row[Any]) -> Activity:
    kind: Literal["sent", "failed"] = "failed" if r.status == "failed" else "sent"
    return Activity(kind, r.at, r.id, r.message_id, r.message_name, r.channel, row_id=r.id)


def _event(kind: Literal["opened", "clicked"], r: sa.Row[Any], **details: Any) -> Activity:
    """An open or a click, with the bot verdict both carry."""
    return Activity(
        kind,
        r.ts,
        r.delivery_id,
        r.message_id,
        r.message_name,
        r.channel,
        machine=bool(r.machine),
        machine_reasons=tuple(r.machine_reasons or ()),
        row_id=r.id,
        **details,
    )


def _opened(r: sa.Row[Any]) -> Activity:
    return _event("opened", r, synthetic=bool(r.synthetic))


def _clicked(r: sa.Row[Any]) -> Activity:
    return _event("clicked", r, link_id=r.link_id, href=r.href)


def _after(ts: Any, row_id: Any, rank: int, cursor: Cursor | None) -> Any:
    """Rows of a source of rank `rank` that come after `cursor` in the feed (older)."""
    if cursor is None:
        return sa.true()
    at, at_rank, at_id = cursor
    if rank < at_rank:
        return ts <= at
    if rank > at_rank:
        return ts < at
    key = at_id if isinstance(row_id.type, sa.String) else int(at_id)
    return sa.or_(ts < at, sa.and_(ts == at, row_id < key))


def person_activities(
    db: Db,
    workspace_id: int,
    person_id: int,
    *,
    limit: int = 100,
    after: Cursor | None = None,
    kinds: Collection[str] = KINDS,
    channel: str | None = None,
) -> list[Activity]:
    """A page of a person's deliveries, opens and clicks, newest first: at most `limit`
    entries of `kinds` (on `channel`, if given), those after `after` (the cursor of a
    page's last entry)."""
    sources = []
    statuses = [k for k in ("sent", "failed") if k in kinds]
    if statuses:
        at = sa.func.coalesce(deliveries.c.sent_at, deliveries.c.created_at)
        query = (
            sa.select(deliveries, messages.c.name.label("message_name"), at.label("at"))
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.person_id == person_id, deliveries.c.workspace_id == workspace_id,
                   _after(at, deliveries.c.id, 0, after))
            .order_by(at.desc(), deliveries.c.id.desc())
        )  # fmt: skip
        if len(statuses) == 1:
            failed = deliveries.c.status == "failed"
            query = query.where(failed if statuses == ["failed"] else ~failed)
        if channel is not None:
            query = query.where(deliveries.c.channel == channel)
        sources.append((query, _sent))
    for table, kind, activity in ((opens, "opened", _opened), (clicks, "clicked", _clicked)):
        if kind in kinds:
            query = _events_of(table, workspace_id, person_id)
            if channel is not None:
                query = query.where(messages.c.channel == channel)
            sources.append((query.where(_after(table.c.ts, table.c.id, _RANK[kind], after)),
                            activity))  # fmt: skip
    out: list[Activity] = []
    with transaction(db) as conn:
        for query, make in sources:
            out.extend(make(r) for r in conn.execute(query.limit(limit)))
    # Stable: entries at the same time and rank (deliveries recorded in one transaction)
    # stay in the order of their query, which the store's own `<` on row ids agrees with.
    out.sort(key=lambda a: (a.ts, _RANK[a.type]), reverse=True)
    return out[:limit]


def _events_of(table: sa.Table, workspace_id: int, person_id: int) -> sa.Select[Any]:
    """A person's opens or clicks (`table`) with their message's name and channel, newest first."""
    return (
        sa.select(table, messages.c.name.label("message_name"), messages.c.channel)
        .join(messages, messages.c.id == table.c.message_id)
        .where(table.c.person_id == person_id, table.c.workspace_id == workspace_id)
        .order_by(table.c.ts.desc(), table.c.id.desc())
    )
