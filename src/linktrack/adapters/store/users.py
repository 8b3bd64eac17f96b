"""Dashboard users (one workspace each) and the key that signs their sessions."""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.rows import execute, first, insert_new, record
from linktrack.adapters.store.schema import dashboard_secrets, dashboard_users, workspaces
from linktrack.core.errors import ConflictError, NotFoundError
from linktrack.core.model import DashboardUser


def _user(row: sa.Row[Any]) -> DashboardUser:
    return record(DashboardUser, row)


def create_user(db: Db, workspace_id: int, email: str, password_hash: str) -> DashboardUser:
    """A new dashboard user of the workspace; an email already in use is a conflict."""
    with transaction(db) as conn:
        if (
            conn.execute(sa.select(workspaces.c.id).where(workspaces.c.id == workspace_id)).first()
            is None
        ):
            raise NotFoundError(f"no workspace {workspace_id}")
        if user_by_email(conn, email) is not None:
            raise ConflictError(f"a dashboard user with the email {email} exists")
        row = conn.execute(
            sa.insert(dashboard_users)
            .values(
                workspace_id=workspace_id,
                email=email,
                password_hash=password_hash,
                created_at=time.time(),
            )
            .returning(*dashboard_users.c)
        ).one()
    return _user(row)


def user_by_email(db: Db, email: str) -> DashboardUser | None:
    """The user with this email (compared without regard to case), if any."""
    query = sa.select(dashboard_users).where(
        sa.func.lower(dashboard_users.c.email) == email.lower()
    )
    return first(db, query, _user)


def get_user(db: Db, user_id: int) -> DashboardUser | None:
    return first(db, sa.select(dashboard_users).where(dashboard_users.c.id == user_id), _user)


def set_password_hash(db: Db, user_id: int, password_hash: str) -> None:
    """Replace a user's hash (a new password, or the same one hashed with newer parameters)."""
    execute(
        db,
        sa.update(dashboard_users)
        .where(dashboard_users.c.id == user_id)
        .values(password_hash=password_hash),
    )


def session_secret(db: Db) -> str:
    """The key that signs session cookies: made once, by whichever process asks first."""
    insert_new(
        db, dashboard_secrets, "id", id=1, secret=secrets.token_urlsafe(48), created_at=time.time()
    )
    query = sa.select(dashboard_secrets.c.secret).where(dashboard_secrets.c.id == 1)
    found = first(db, query, lambda row: str(row.secret))
    assert found is not None  # inserted above, or already there
    return found
