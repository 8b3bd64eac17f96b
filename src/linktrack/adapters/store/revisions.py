"""Revised verdicts: stored clicks that a later batch showed to be a machine's.

The writer calls these in the transaction of that batch (service/writer.py,
core/revision.py computes the rollup changes, added with `events.add_*`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.events import _chunks
from linktrack.adapters.store.schema import clicks, deliveries
from linktrack.core.revision import StoredClick


def delivery_clicks(conn: Connection, delivery_ids: Sequence[str]) -> list[StoredClick]:
    """Every stored click of the deliveries, as the rollups count them."""
    c = clicks.c
    out: list[StoredClick] = []
    for chunk in _chunks(sorted(set(delivery_ids))):
        query = sa.select(c.event_id, c.delivery_id, c.link_id, c.ts, c.machine).where(
            c.delivery_id.in_(chunk)
        )
        out.extend(StoredClick(r[0], r[1], r[2], r[3], bool(r[4])) for r in conn.execute(query))
    return out


def mark_machine(conn: Connection, reasons: dict[str, list[str]]) -> None:
    """Make these stored clicks (event id → all their reasons now) machine ones."""
    if not reasons:
        return
    conn.execute(
        sa.update(clicks)
        .where(clicks.c.event_id == sa.bindparam("b_event"))
        .values(machine=True, machine_reasons=sa.bindparam("b_reasons", type_=sa.JSON())),
        [{"b_event": event_id, "b_reasons": why} for event_id, why in sorted(reasons.items())],
    )


def set_human_firsts(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """Deliveries' first human click moved ({"b_id", "h"}; h None: no human click left)."""
    if updates:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == sa.bindparam("b_id"))
            .values(human_clicked_at=sa.bindparam("h")),
            updates,
        )
