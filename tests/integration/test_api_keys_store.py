"""A workspace's API keys in the store: listed by hash, revoked by id within the workspace
only, never its last key of a kind. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from linktrack.adapters import store
from linktrack.core.errors import ConflictError, NotFoundError


def test_list_and_revoke_api_keys(engine: store.Engine) -> None:
    mine = store.create_workspace(engine, "Mine")
    theirs = store.create_workspace(engine, "Theirs")
    keys = store.list_api_keys(engine, mine.id)
    assert sorted(k.kind for k in keys) == ["app", "track"]
    assert {k.key_hash for k in keys} == {
        store.hash_key(mine.app_api_key),
        store.hash_key(mine.track_api_key),
    }
    extra = store.create_api_key(engine, mine.id, "app")
    listed = store.list_api_keys(engine, mine.id)
    assert len(listed) == 3 and listed[-1].key_hash == store.hash_key(extra)

    # Another workspace's key is not found, and keeps working.
    their_app = next(k for k in store.list_api_keys(engine, theirs.id) if k.kind == "app")
    with pytest.raises(NotFoundError):
        store.revoke_api_key(engine, mine.id, their_app.id)
    assert store.workspace_by_api_key(engine, "app", theirs.app_api_key) is not None

    gone = store.revoke_api_key(engine, mine.id, listed[-1].id)
    assert gone.kind == "app" and gone.workspace_id == mine.id
    assert store.workspace_by_api_key(engine, "app", extra) is None
    assert store.workspace_by_api_key(engine, "app", mine.app_api_key) is not None
    with pytest.raises(NotFoundError):
        store.revoke_api_key(engine, mine.id, listed[-1].id)  # already gone
    # The last key of a kind stays: the workspace would lose that API.
    for kind in ("app", "track"):
        last = next(k for k in store.list_api_keys(engine, mine.id) if k.kind == kind)
        with pytest.raises(ConflictError):
            store.revoke_api_key(engine, mine.id, last.id)
    assert len(store.list_api_keys(engine, mine.id)) == 2
