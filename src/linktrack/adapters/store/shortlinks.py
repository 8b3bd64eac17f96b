"""Short-link codes in the store: code → the signed click path it stands for."""

from __future__ import annotations

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, dialect_insert, transaction
from linktrack.adapters.store.schema import short_links


def insert_short_link(
    db: Db, code: str, workspace_id: int, path: str, created_at: float, expires_at: float
) -> bool:
    """Store `code` for `path`; False when the code is taken."""
    with transaction(db) as conn:
        inserted = conn.execute(
            dialect_insert(conn, short_links)
            .values(
                code=code,
                workspace_id=workspace_id,
                path=path,
                created_at=created_at,
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(short_links.c.code)  # rowcount is not reliable on psycopg
        ).first()
    return inserted is not None


def find_short_link(db: Db, code: str) -> tuple[str, float] | None:
    """(tracked path, expiry time) of `code`, or None."""
    with transaction(db) as conn:
        row = conn.execute(
            sa.select(short_links.c.path, short_links.c.expires_at).where(
                short_links.c.code == code
            )
        ).first()
    return (row.path, row.expires_at) if row is not None else None


def count_expired_hit(db: Db, code: str) -> None:
    with transaction(db) as conn:
        conn.execute(
            sa.update(short_links)
            .where(short_links.c.code == code)
            .values(expired_hits=short_links.c.expired_hits + 1)
        )
