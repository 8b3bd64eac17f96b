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


def _opened(r: sa.Row[Any]) -> Activity:
    return Activity(
        "opened",
        r.ts,
        r.delivery_id,
        r.message_id,
        r.message_name,
        r.channel,
        machine=bool(r.machine),
        machine_reasons=tuple(r.machine_reasons or ()),
        synthetic=bool(r.synthetic),
    )


def _clicked(r: sa.Row[Any]) -> Activity:
    return Activity(
        "clicked",
        r.ts,
        r.delivery_id,
        r.message_id,
        r.message_name,
        r.channel,
        link_id=r.link_id,
        href=r.href,
        machine=bool(r.machine),
        machine_reasons=tuple(r.machine_reasons or ()),
    )


def person_activities(
    db: Db, workspace_id: int, person_id: int, *, before: float | None = None, limit: int = 100
) -> list[Activity]:
    """A person's deliveries, opens and clicks, newest first."""
    sent = (
        sa.select(deliveries, messages.c.name.label("message_name"))
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(deliveries.c.person_id == person_id, deliveries.c.workspace_id == workspace_id)
    )
    opened = (
        sa.select(opens, messages.c.name.label("message_name"), messages.c.channel)
        .join(messages, messages.c.id == opens.c.message_id)
        .where(opens.c.person_id == person_id, opens.c.workspace_id == workspace_id)
    )
    clicked = (
        sa.select(clicks, messages.c.name.label("message_name"), messages.c.channel)
        .join(messages, messages.c.id == clicks.c.message_id)
        .where(clicks.c.person_id == person_id, clicks.c.workspace_id == workspace_id)
    )
    if before is not None:
        sent = sent.where(deliveries.c.created_at < before)
        opened = opened.where(opens.c.ts < before)
        clicked = clicked.where(clicks.c.ts < before)
    out: list[Activity] = []
    with transaction(db) as conn:
        for r in conn.execute(sent.order_by(deliveries.c.created_at.desc()).limit(limit)):
            out.append(_sent(r))
        for r in conn.execute(opened.order_by(opens.c.ts.desc()).limit(limit)):
            out.append(_opened(r))
        for r in conn.execute(clicked.order_by(clicks.c.ts.desc()).limit(limit)):
            out.append(_clicked(r))
    out.sort(key=lambda a: (a.ts, _RANK[a.type]), reverse=True)
    return out[:limit]
