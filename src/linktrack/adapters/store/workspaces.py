"""Workspaces, their hashed API keys and their signing keys."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.rows import every, execute, first, insert_new, record
from linktrack.adapters.store.schema import api_keys, signing_keys, workspaces
from linktrack.core.errors import ConflictError, NotFoundError
from linktrack.core.model import (
    API_KEY_KINDS,
    NewWorkspace,
    StoredSigningKey,
    Workspace,
    check_choice,
)

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def hash_key(key: str) -> str:
    """The stored form of an API key: keys are never kept in clear."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    """An API key as stored: never the key, only its SHA-256."""

    id: int
    workspace_id: int
    kind: str  # "app" or "track"
    key_hash: str
    created_at: float


def _workspace(row: sa.Row[Any]) -> Workspace:
    return record(Workspace, row, settings=dict(row.settings or {}))


def create_workspace(db: Db, name: str, settings: Mapping[str, Any] | None = None) -> NewWorkspace:
    """Create a workspace with one track key, one app key and a first signing key."""
    with transaction(db) as conn:
        site_id = secrets.token_hex(10)
        ws_id = conn.execute(
            sa.insert(workspaces)
            .values(
                name=name, site_id=site_id, settings=dict(settings or {}), created_at=time.time()
            )
            .returning(workspaces.c.id)
        ).scalar_one()
        track = create_api_key(conn, ws_id, "track")
        app = create_api_key(conn, ws_id, "app")
        kid = rotate_signing_key(conn, ws_id)
    return NewWorkspace(ws_id, site_id, track, app, kid)


def create_api_key(db: Db, workspace_id: int, kind: str) -> str:
    """A new random API key of `kind` ('track' or 'app'); only its hash is stored."""
    check_choice(kind, API_KEY_KINDS, "API key kind")
    key = secrets.token_hex(20)
    execute(
        db,
        sa.insert(api_keys).values(
            workspace_id=workspace_id, kind=kind, key_hash=hash_key(key), created_at=time.time()
        ),
    )
    return key


def list_api_keys(db: Db, workspace_id: int) -> list[StoredApiKey]:
    """A workspace's API keys (their hashes), oldest first."""
    query = (
        sa.select(api_keys)
        .where(api_keys.c.workspace_id == workspace_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    )
    return every(db, query, lambda row: record(StoredApiKey, row))


def revoke_api_key(db: Db, workspace_id: int, key_id: int) -> StoredApiKey:
    """Delete one of the workspace's API keys (at once: requests with it are refused); the
    workspace keeps at least one key of each kind. Another workspace's key is a 404."""
    with transaction(db) as conn:
        # Locked: two revocations at once must not both see the other key still there.
        query = sa.select(api_keys).where(api_keys.c.workspace_id == workspace_id).with_for_update()
        keys = {k.id: k for k in every(conn, query, lambda row: record(StoredApiKey, row))}
        key = keys.get(key_id)
        if key is None:
            raise NotFoundError(f"no API key {key_id} in this workspace")
        if sum(1 for k in keys.values() if k.kind == key.kind) == 1:
            raise ConflictError(
                f"cannot revoke the only {key.kind} API key: create another one first"
            )
        conn.execute(sa.delete(api_keys).where(api_keys.c.id == key_id))
    return key


def workspace_by_api_key(db: Db, kind: str, key: str) -> Workspace | None:
    """The workspace owning API key `key` of `kind`, or None."""
    query = (
        sa.select(workspaces)
        .join(api_keys, api_keys.c.workspace_id == workspaces.c.id)
        .where(api_keys.c.key_hash == hash_key(key), api_keys.c.kind == kind)
    )
    return first(db, query, _workspace)


def workspace_by_site_id(db: Db, site_id: str) -> Workspace | None:
    return first(db, sa.select(workspaces).where(workspaces.c.site_id == site_id), _workspace)


def get_workspace(db: Db, workspace_id: int) -> Workspace | None:
    return first(db, sa.select(workspaces).where(workspaces.c.id == workspace_id), _workspace)


def get_settings(db: Db, workspace_id: int) -> dict[str, Any]:
    """The workspace settings document (raise NotFoundError for an unknown workspace)."""
    ws = get_workspace(db, workspace_id)
    if ws is None:
        raise NotFoundError(f"workspace {workspace_id} does not exist")
    return ws.settings


def put_settings(db: Db, workspace_id: int, settings: Mapping[str, Any]) -> None:
    """Replace the workspace settings document (validated by the caller)."""
    with transaction(db) as conn:
        done = conn.execute(
            sa.update(workspaces)
            .where(workspaces.c.id == workspace_id)
            .values(settings=dict(settings))
        ).rowcount
    if not done:
        raise NotFoundError(f"workspace {workspace_id} does not exist")


# ------------------------------------------------------------------ signing keys


def _stored_key(row: sa.Row[Any]) -> StoredSigningKey:
    return record(StoredSigningKey, row)


def list_active_signing_keys(db: Db) -> list[StoredSigningKey]:
    """Every live key of every workspace, oldest first (the newest of a workspace signs)."""
    query = (
        sa.select(signing_keys)
        .where(signing_keys.c.retired_at.is_(None))
        .order_by(signing_keys.c.created_at, signing_keys.c.kid)
    )
    return every(db, query, _stored_key)


def workspace_signing_keys(db: Db, workspace_id: int) -> list[StoredSigningKey]:
    """A workspace's keys, retired ones included, oldest first."""
    query = (
        sa.select(signing_keys)
        .where(signing_keys.c.workspace_id == workspace_id)
        .order_by(signing_keys.c.created_at, signing_keys.c.kid)
    )
    return every(db, query, _stored_key)


def signing_key_workspaces(db: Db) -> dict[str, int]:
    """kid -> workspace id for all keys, retired included (the writer's tenant check)."""
    with transaction(db) as conn:
        rows = conn.execute(sa.select(signing_keys.c.kid, signing_keys.c.workspace_id))
        return {r.kid: r.workspace_id for r in rows}


def rotate_signing_key(db: Db, workspace_id: int) -> str:
    """Add a new signing key (it signs new links; older keys keep verifying); return its kid."""
    secret = secrets.token_hex(32)
    with transaction(db) as conn:
        while True:
            kid = "".join(secrets.choice(_BASE32) for _ in range(8))
            if insert_new(
                conn,
                signing_keys,
                "kid",
                kid=kid,
                workspace_id=workspace_id,
                secret=secret,
                created_at=time.time(),
            ):
                return kid


def retire_signing_key(db: Db, workspace_id: int, kid: str) -> None:
    """Stop verifying links signed with `kid`; the workspace keeps at least one live key."""
    with transaction(db) as conn:
        live = (
            conn.execute(
                sa.select(signing_keys.c.kid).where(
                    signing_keys.c.workspace_id == workspace_id, signing_keys.c.retired_at.is_(None)
                )
            )
            .scalars()
            .all()
        )
        if kid not in live:
            raise NotFoundError(f"no live signing key {kid!r} in this workspace")
        if len(live) == 1:
            raise ConflictError("cannot retire the only live signing key: rotate first")
        conn.execute(
            sa.update(signing_keys).where(signing_keys.c.kid == kid).values(retired_at=time.time())
        )


def list_workspaces(db: Db) -> list[Workspace]:
    """Every workspace, oldest first."""
    return every(db, sa.select(workspaces).order_by(workspaces.c.id), _workspace)


def replace_api_keys(db: Db, workspace_id: int, kinds: Sequence[str]) -> dict[str, str]:
    """New API keys of `kinds` for a workspace; its old keys of those kinds stop working
    at once. kind → the new key (shown once: only its hash is kept)."""
    for kind in kinds:
        check_choice(kind, API_KEY_KINDS, "API key kind")
    with transaction(db) as conn:
        if get_workspace(conn, workspace_id) is None:
            raise NotFoundError(f"no workspace {workspace_id}")
        conn.execute(
            sa.delete(api_keys).where(
                api_keys.c.workspace_id == workspace_id, api_keys.c.kind.in_(kinds)
            )
        )
        return {kind: create_api_key(conn, workspace_id, kind) for kind in kinds}
