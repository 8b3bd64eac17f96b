"""Short-link codes in the store: code → the signed click path it stands for."""

from __future__ import annotations

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db
from linktrack.adapters.store.rows import execute, first, insert_new
from linktrack.adapters.store.schema import short_links


def insert_short_link(
    db: Db, code: str, workspace_id: int, path: str, created_at: float, expires_at: float
) -> bool:
    """Store `code` for `path`; False when the code is taken."""
    return insert_new(
        db,
        short_links,
        "code",
        code=code,
        workspace_id=workspace_id,
        path=path,
        created_at=created_at,
        expires_at=expires_at,
    )


def find_short_link(db: Db, code: str) -> tuple[str, float] | None:
    """(tracked path, expiry time) of `code`, or None."""
    query = sa.select(short_links.c.path, short_links.c.expires_at).where(
        short_links.c.code == code
    )
    return first(db, query, lambda row: (row.path, row.expires_at))


def count_expired_hit(db: Db, code: str) -> None:
    statement = sa.update(short_links).where(short_links.c.code == code)
    execute(db, statement.values(expired_hits=short_links.c.expired_hits + 1))
