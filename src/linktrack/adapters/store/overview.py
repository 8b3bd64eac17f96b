"""The dashboard's list of messages: every campaign, broadcast, newsletter and
transactional or ad hoc message of a workspace, with its funnel summed over its
actions (`reports.funnel`, the numbers `/metrics` answers)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.reports import STAT_COLUMNS, funnel
from linktrack.adapters.store.schema import containers, message_stats, messages


def message_overview(db: Db, workspace_id: int, search: str = "") -> list[dict[str, Any]]:
    """One entry per container or standalone message whose name contains `search`
    (case-insensitive): kind, id, name, created_at and the funnel's metrics."""
    m, s = messages.c, message_stats.c
    sums = [sa.func.coalesce(sa.func.sum(s[c]), 0).label(c) for c in STAT_COLUMNS]
    item = sa.func.coalesce(m.parent_id, m.id).label("item")
    per_item = (
        sa.select(
            m.kind,
            item,
            sa.func.min(m.name).label("name"),
            sa.func.min(m.created_at).label("created_at"),
            *sums,
        )
        .select_from(messages.outerjoin(message_stats, s.message_id == m.id))
        .where(m.workspace_id == workspace_id)
        .group_by(m.kind, item)
    )
    found: dict[tuple[str, int], dict[str, Any]] = {}
    with transaction(db) as conn:
        for row in conn.execute(per_item):
            counts = {c: int(row._mapping[c]) for c in STAT_COLUMNS}
            found[(row.kind, int(row.item))] = {
                "kind": row.kind,
                "id": int(row.item),
                "name": row.name,
                "created_at": row.created_at,
                **funnel(counts),
            }
        c = containers.c
        # Containers by their own name (and those with no action yet, at zero).
        for row in conn.execute(
            sa.select(c.kind, c.id, c.name, c.created_at).where(c.workspace_id == workspace_id)
        ):
            entry = found.get((row.kind, row.id))
            if entry is None:
                zero = funnel(dict.fromkeys(STAT_COLUMNS, 0))
                entry = found[(row.kind, row.id)] = {"kind": row.kind, "id": row.id, **zero}
            entry.update(name=row.name, created_at=row.created_at)
    needle = search.strip().lower()
    return [e for e in found.values() if needle in e["name"].lower()]
