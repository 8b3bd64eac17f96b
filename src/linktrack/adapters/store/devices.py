"""People's push devices (Track API): add or update, delete, list.

A device token belongs to one person of a workspace: adding it to another
person moves it there. A person's push address is the device used last
(`people._LAST_DEVICE`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, dialect_insert, transaction
from linktrack.adapters.store.schema import devices


def upsert_device(
    db: Db,
    workspace_id: int,
    person_id: int,
    token: str,
    *,
    platform: str,
    attributes: Mapping[str, Any],
    last_used: float | None = None,
) -> None:
    """Add the device to the person, or update it (and move it to them)."""
    now = time.time()
    used = now if last_used is None else last_used
    with transaction(db) as conn:
        statement = dialect_insert(conn, devices).values(
            workspace_id=workspace_id, person_id=person_id, token=token, platform=platform,
            attributes=dict(attributes), last_used=used, created_at=now,
        )  # fmt: skip
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["workspace_id", "token"],
                set_={
                    "person_id": person_id,
                    "platform": platform,
                    "attributes": dict(attributes),
                    "last_used": used,
                },
            )
        )


def delete_device(db: Db, workspace_id: int, person_id: int, token: str) -> bool:
    """Remove the person's device; False when they have no such device."""
    with transaction(db) as conn:
        gone = conn.execute(
            sa.delete(devices)
            .where(
                devices.c.workspace_id == workspace_id,
                devices.c.person_id == person_id,
                devices.c.token == token,
            )
            .returning(devices.c.id)
        ).first()
    return gone is not None


def devices_of(db: Db, person_id: int) -> list[dict[str, Any]]:
    """The person's devices as Customer.io shows them, the one used last first."""
    with transaction(db) as conn:
        rows = conn.execute(
            sa.select(devices)
            .where(devices.c.person_id == person_id)
            .order_by(devices.c.last_used.desc(), devices.c.id.desc())
        ).all()
    return [
        {"id": r.token, "platform": r.platform, "last_used": int(r.last_used),
         "attributes": dict(r.attributes or {})}
        for r in rows
    ]  # fmt: skip
