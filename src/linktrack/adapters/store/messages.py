"""Messages (templates that are sent) and their links, whose ids are stable per message."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.engine import Db, dialect_insert, transaction
from linktrack.adapters.store.rows import every, first, inserted, newest_first, record, where_given
from linktrack.adapters.store.schema import links, message_stats, messages
from linktrack.core.errors import InvalidValueError, NotFoundError
from linktrack.core.model import CHANNELS, MESSAGE_KINDS, Link, Message, check_choice

_MESSAGE_FIELDS: Final = frozenset(
    {"parent_id", "name", "channel", "subject", "body", "body_plain"}
    | {"from_addr", "tracked", "extra"}
)


def _message(row: sa.Row[Any]) -> Message:
    return record(Message, row, tracked=bool(row.tracked), extra=dict(row.extra or {}))


def create_message(
    db: Db,
    workspace_id: int,
    *,
    kind: str,
    channel: str,
    name: str = "",
    subject: str = "",
    body: str = "",
    body_plain: str = "",
    from_addr: str = "",
    tracked: bool = True,
    parent_id: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Message:
    """Create a message (its counters start at zero)."""
    check_choice(kind, MESSAGE_KINDS, "message kind")
    check_choice(channel, CHANNELS, "channel")
    with transaction(db) as conn:
        row = inserted(
            conn,
            messages,
            workspace_id=workspace_id,
            kind=kind,
            parent_id=parent_id,
            name=name,
            channel=channel,
            subject=subject,
            body=body,
            body_plain=body_plain,
            from_addr=from_addr,
            tracked=tracked,
            extra=dict(extra or {}),
            created_at=time.time(),
        )
        conn.execute(sa.insert(message_stats).values(message_id=row.id))
    return _message(row)


def update_message(db: Db, workspace_id: int, message_id: int, **changes: Any) -> Message:
    """Change a message's content or flags (not its kind or workspace)."""
    unknown = set(changes) - _MESSAGE_FIELDS
    if unknown:
        raise InvalidValueError(f"cannot change message field(s) {', '.join(sorted(unknown))}")
    if "channel" in changes:
        check_choice(changes["channel"], CHANNELS, "channel")
    if not changes:  # nothing to change: the message as it is
        found = get_message(db, workspace_id, message_id)
        if found is None:
            raise NotFoundError(f"message {message_id} does not exist")
        return found
    with transaction(db) as conn:
        row = conn.execute(
            sa.update(messages)
            .where(messages.c.id == message_id, messages.c.workspace_id == workspace_id)
            .values(**changes)
            .returning(*messages.c)
        ).first()
    if row is None:
        raise NotFoundError(f"message {message_id} does not exist")
    return _message(row)


def get_message(db: Db, workspace_id: int, message_id: int) -> Message | None:
    query = sa.select(messages).where(
        messages.c.id == message_id, messages.c.workspace_id == workspace_id
    )
    return first(db, query, _message)


def list_messages(
    db: Db,
    workspace_id: int,
    kind: str | None = None,
    parent_id: int | None = None,
    *,
    before_id: int | None = None,
    limit: int | None = None,
) -> list[Message]:
    """A workspace's messages, newest first, optionally of one kind or parent."""
    query = where_given(
        sa.select(messages).where(messages.c.workspace_id == workspace_id),
        (messages.c.kind, kind),
        (messages.c.parent_id, parent_id),
    )
    return every(db, newest_first(query, messages.c.id, before_id, limit), _message)


# ------------------------------------------------------------------------- links


def _link(row: sa.Row[Any]) -> Link:
    return record(Link, row)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def resolve_link(db: Db, message_id: int, key: str, href: str, tag: str | None = None) -> int:
    """The link id of `key` in the message, created on first use (race-safe)."""
    return resolve_links(db, message_id, [(key, href, tag)])[0]


def resolve_links(
    db: Db, message_id: int, items: Sequence[tuple[str, str, str | None]]
) -> list[int]:
    """Link ids for (key, href, tag) items, in order, creating the missing ones."""
    hashes = [_key_hash(key) for key, _, _ in items]
    with transaction(db) as conn:
        found = _link_ids(conn, message_id, hashes)
        missing = {h: item for h, item in zip(hashes, items, strict=True) if h not in found}
        if missing:
            now = time.time()
            conn.execute(
                dialect_insert(conn, links).on_conflict_do_nothing(
                    index_elements=["message_id", "key_hash"]
                ),
                [
                    {
                        "message_id": message_id,
                        "key": key,
                        "key_hash": h,
                        "href": href,
                        "tag": tag,
                        "created_at": now,
                    }
                    for h, (key, href, tag) in missing.items()
                ],
            )
            # Re-read rather than trust RETURNING: a concurrent sender may have won.
            found.update(_link_ids(conn, message_id, list(missing)))
    return [found[h] for h in hashes]


def _link_ids(conn: Connection, message_id: int, hashes: Sequence[str]) -> dict[str, int]:
    if not hashes:
        return {}
    rows = conn.execute(
        sa.select(links.c.key_hash, links.c.id).where(
            links.c.message_id == message_id, links.c.key_hash.in_(set(hashes))
        )
    )
    return {r.key_hash: r.id for r in rows}


def find_link_id(db: Db, message_id: int, key: str) -> int | None:
    """The id of the message's link `key`, if it exists (a read: nothing is created)."""
    with transaction(db) as conn:
        return _link_ids(conn, message_id, [_key_hash(key)]).get(_key_hash(key))


def list_links(db: Db, message_ids: Iterable[int]) -> list[Link]:
    """The links of the given messages, by id."""
    query = sa.select(links).where(links.c.message_id.in_(list(message_ids)))
    return every(db, query.order_by(links.c.id), _link)
