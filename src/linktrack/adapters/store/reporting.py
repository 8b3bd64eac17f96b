"""Reporting webhooks: the endpoints a workspace registered, and their outbox of events.

Events are queued (`queue_events`) in the transaction that stores what they
report: the writer's batch for clicks and opens, the delivery worker's status
change for sends and failures. The dispatcher reads each webhook's oldest
pending events in id order (`pending_events`), so one endpoint's events arrive
in order and a failing one holds back only its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.events import _bulk_insert, _run
from linktrack.adapters.store.schema import (
    deliveries,
    messages,
    people,
    reporting_webhooks,
    webhook_events,
)
from linktrack.core.errors import NotFoundError
from linktrack.core.webhooks import Reported

_FIELDS = ("name", "endpoint", "events", "disabled")


def _webhook(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "endpoint": row.endpoint,
        "events": list(row.events),
        "disabled": bool(row.disabled),
        "created_at": int(row.created_at),
        "updated_at": int(row.updated_at),
    }


def create_webhook(db: Db, workspace_id: int, signing_key: str, **fields: Any) -> dict[str, Any]:
    """Register a webhook; the answer holds its signing key (shown only here)."""
    now = time.time()
    with transaction(db) as conn:
        row = conn.execute(
            sa.insert(reporting_webhooks)
            .values(
                workspace_id=workspace_id,
                signing_key=signing_key,
                created_at=now,
                updated_at=now,
                **{k: fields[k] for k in _FIELDS},
            )
            .returning(reporting_webhooks)
        ).one()
    return {**_webhook(row), "signing_key": signing_key}


def get_webhook(db: Db, workspace_id: int, webhook_id: int) -> dict[str, Any]:
    """The webhook with its delivery counts and last error; NotFoundError when not ours."""
    w, e = reporting_webhooks.c, webhook_events.c
    with transaction(db) as conn:
        row = conn.execute(
            sa.select(reporting_webhooks).where(w.id == webhook_id, w.workspace_id == workspace_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no reporting webhook {webhook_id}")
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(e.status, sa.func.count()).where(e.webhook_id == webhook_id)
                .group_by(e.status)
            ).all()
        )  # fmt: skip
        last = conn.execute(
            sa.select(e.last_error, e.done_at, e.next_attempt_at, e.status)
            .where(e.webhook_id == webhook_id, e.last_error.is_not(None))
            .order_by(e.id.desc())
            .limit(1)
        ).first()
    return {
        **_webhook(row),
        "pending": int(counts.get("pending", 0)),
        "delivered": int(counts.get("delivered", 0)),
        "failed": int(counts.get("failed", 0)),
        "last_error": last.last_error if last is not None else None,
    }


def list_webhooks(
    db: Db, workspace_id: int, *, after: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The workspace's webhooks, newest first (keyset: ids below `after`)."""
    w = reporting_webhooks.c
    query = sa.select(reporting_webhooks).where(w.workspace_id == workspace_id)
    if after is not None:
        query = query.where(w.id < after)
    with transaction(db) as conn:
        rows = conn.execute(query.order_by(w.id.desc()).limit(limit)).all()
    return [_webhook(r) for r in rows]


def update_webhook(
    db: Db, workspace_id: int, webhook_id: int, changes: Mapping[str, Any]
) -> dict[str, Any]:
    w = reporting_webhooks.c
    with transaction(db) as conn:
        done = conn.execute(
            sa.update(reporting_webhooks)
            .where(w.id == webhook_id, w.workspace_id == workspace_id)
            .values(updated_at=time.time(), **{k: changes[k] for k in _FIELDS if k in changes})
            .returning(w.id)
        ).first()
        if done is None:
            raise NotFoundError(f"no reporting webhook {webhook_id}")
        return get_webhook(conn, workspace_id, webhook_id)


def delete_webhook(db: Db, workspace_id: int, webhook_id: int) -> None:
    """Remove the webhook and the events it still owed (they are not sent)."""
    w = reporting_webhooks.c
    with transaction(db) as conn:
        owned = conn.execute(
            sa.select(w.id).where(w.id == webhook_id, w.workspace_id == workspace_id)
        ).first()
        if owned is None:
            raise NotFoundError(f"no reporting webhook {webhook_id}")
        conn.execute(sa.delete(webhook_events).where(webhook_events.c.webhook_id == webhook_id))
        conn.execute(sa.delete(reporting_webhooks).where(w.id == webhook_id))


def webhook_events_page(
    db: Db, workspace_id: int, webhook_id: int, *, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """A webhook's events, newest first: metric, attempts, status, last error."""
    get_webhook(db, workspace_id, webhook_id)  # NotFoundError when not this workspace's
    e = webhook_events.c
    columns = (e.id, e.event_id, e.metric, e.created_at, e.attempts, e.status, e.last_error,
               e.done_at, e.next_attempt_at)  # fmt: skip
    query = sa.select(*columns).where(e.webhook_id == webhook_id)
    if before is not None:
        query = query.where(e.id < before)
    with transaction(db) as conn:
        rows = conn.execute(query.order_by(e.id.desc()).limit(limit)).all()
    return [
        {"id": r.id, "event_id": r.event_id, "metric": r.metric, "created_at": r.created_at,
         "attempts": r.attempts, "status": r.status, "last_error": r.last_error,
         "done_at": r.done_at, "next_attempt_at": r.next_attempt_at if r.status == "pending"
         else None}
        for r in rows
    ]  # fmt: skip


# -- the writer's and the delivery worker's side


def subscribers(db: Db, workspace_ids: Sequence[int]) -> dict[int, list[tuple[int, list[str]]]]:
    """Each workspace's enabled webhooks: (id, the events it takes)."""
    w = reporting_webhooks.c
    found: dict[int, list[tuple[int, list[str]]]] = {}
    if not workspace_ids:
        return found
    with transaction(db) as conn:
        for row in conn.execute(
            sa.select(w.id, w.workspace_id, w.events)
            .where(w.workspace_id.in_(sorted(set(workspace_ids))), w.disabled.is_(False))
            .order_by(w.id)
        ):
            found.setdefault(row.workspace_id, []).append((row.id, list(row.events)))
    return found


def reported_deliveries(db: Db, delivery_ids: Sequence[str]) -> dict[str, Reported]:
    """What an envelope says of each delivery: channel, recipient, message, person."""
    d, m, p = deliveries.c, messages.c, people.c
    with transaction(db) as conn:
        rows = conn.execute(
            sa.select(d.id.label("delivery_id"), d.workspace_id, d.channel, d.recipient,
                      d.subject, m.kind, m.id.label("message_id"), m.parent_id, p.external_id,
                      p.email, p.cio_id)
            .join(messages, m.id == d.message_id)
            .outerjoin(people, p.id == d.person_id)
            .where(d.id.in_(sorted(set(delivery_ids))))
        ).all()  # fmt: skip
    return {r.delivery_id: Reported(**r._mapping) for r in rows}


def queue_events(db: Db, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue events (`webhook_id`, `event_id`, `metric`, `body`); a replayed one adds nothing."""
    if not rows:
        return
    now = time.time()
    with transaction(db) as conn:
        # As the writer inserts clicks: executemany on SQLite, unnest arrays on PostgreSQL
        # (a VALUES list of thousands of rows costs more to compile than to run).
        ins, params = _bulk_insert(
            conn, webhook_events, [{**r, "created_at": now, "next_attempt_at": now} for r in rows]
        )
        _run(conn, ins.on_conflict_do_nothing(index_elements=["webhook_id", "event_id"]), params)


# -- the dispatcher's side


def endpoints(db: Db) -> list[tuple[int, str, str]]:
    """(id, endpoint, signing key) of every enabled webhook."""
    w = reporting_webhooks.c
    with transaction(db) as conn:
        rows = conn.execute(
            sa.select(w.id, w.endpoint, w.signing_key).where(w.disabled.is_(False)).order_by(w.id)
        ).all()
    return [(r.id, r.endpoint, r.signing_key) for r in rows]


def pending_events(
    db: Db, webhook_id: int, limit: int
) -> list[tuple[int, bytes, float, int, float]]:
    """The webhook's oldest pending events: (id, body, created_at, attempts, next attempt)."""
    e = webhook_events.c
    with transaction(db) as conn:
        rows = conn.execute(
            sa.select(e.id, e.body, e.created_at, e.attempts, e.next_attempt_at)
            .where(e.webhook_id == webhook_id, e.status == "pending")
            .order_by(e.id)
            .limit(limit)
        ).all()
    return [(r.id, r.body.encode(), r.created_at, r.attempts, r.next_attempt_at) for r in rows]


def mark_event(
    db: Db, event_row: int, *, status: str, error: str | None = None, retry_at: float = 0.0
) -> None:
    """After an attempt: delivered, failed for good, or pending until `retry_at`."""
    e = webhook_events.c
    values: dict[str, Any] = {"attempts": e.attempts + 1, "status": status}
    if error is not None:  # kept once delivered: it was refused before
        values["last_error"] = error
    if status == "pending":
        values["next_attempt_at"] = retry_at
    else:
        values["done_at"] = time.time()
    with transaction(db) as conn:
        conn.execute(sa.update(webhook_events).where(e.id == event_row).values(values))
