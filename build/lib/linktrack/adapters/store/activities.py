"""A person's timeline: the deliveries, opens and clicks of one person, newest first."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.schema import clicks, deliveries, messages, opens
from linktrack.core.model import Activity

# At equal times a click comes after the open it implies, after the send.
_RANK = {"sent": 0, "failed": 0, "opened": 1, "clicked": 2}


def _sent(r: sa.Row[Any]) -> Activity:
    kind: Literal["sent", "failed"] = "failed" if r.status == "failed" else "sent"
    return Activity(kind, r.sent_at or r.created_at, r.id, r.message_id, r.message_name, r.channel)


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
        **details,
    )


def _opened(r: sa.Row[Any]) -> Activity:
    return _event("opened", r, synthetic=bool(r.synthetic))


def _clicked(r: sa.Row[Any]) -> Activity:
    return _event("clicked", r, link_id=r.link_id, href=r.href)


def _events_of(
    table: sa.Table, workspace_id: int, person_id: int, before: float | None
) -> sa.Select[Any]:
    """A person's opens or clicks (`table`) with their message's name and channel, newest first."""
    query = (
        sa.select(table, messages.c.name.label("message_name"), messages.c.channel)
        .join(messages, messages.c.id == table.c.message_id)
        .where(table.c.person_id == person_id, table.c.workspace_id == workspace_id)
    )
    if before is not None:
        query = query.where(table.c.ts < before)
    return query.order_by(table.c.ts.desc())


def person_activities(
    db: Db, workspace_id: int, person_id: int, *, before: float | None = None, limit: int = 100
) -> list[Activity]:
    """A person's deliveries, opens and clicks, newest first."""
    sent = (
        sa.select(deliveries, messages.c.name.label("message_name"))
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(deliveries.c.person_id == person_id, deliveries.c.workspace_id == workspace_id)
    )
    if before is not None:
        sent = sent.where(deliveries.c.created_at < before)
    with transaction(db) as conn:
        rows = conn.execute(sent.order_by(deliveries.c.created_at.desc()).limit(limit))
        out = [_sent(r) for r in rows]
        for table, activity in ((opens, _opened), (clicks, _clicked)):
            rows = conn.execute(_events_of(table, workspace_id, person_id, before).limit(limit))
            out.extend(activity(r) for r in rows)
    out.sort(key=lambda a: (a.ts, _RANK[a.type]), reverse=True)
    return out[:limit]
