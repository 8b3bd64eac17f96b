"""Campaigns, broadcasts and newsletters (containers) and their send jobs.

A container's actions (a newsletter's contents) are ordinary `messages` rows
(messages.py) with the container's kind and `parent_id`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.rows import every, execute, first, inserted, newest_first, record
from linktrack.adapters.store.schema import containers, send_jobs
from linktrack.core.errors import InvalidValueError
from linktrack.core.model import CONTAINER_KINDS, JOB_STATUSES, Container, SendJob

MAX_ERRORS: Final = 100  # a job keeps the first errors, and counts them all


def _container(row: sa.Row[Any]) -> Container:
    return record(Container, row, extra=dict(row.extra or {}))


def create_container(
    db: Db, workspace_id: int, kind: str, name: str, extra: Mapping[str, Any] | None = None
) -> Container:
    if kind not in CONTAINER_KINDS:
        choices = ", ".join(sorted(CONTAINER_KINDS))
        raise InvalidValueError(f"kind must be one of {choices}, not {kind!r}")
    row = inserted(
        db,
        containers,
        workspace_id=workspace_id,
        kind=kind,
        name=name,
        extra=dict(extra or {}),
        created_at=time.time(),
    )
    return _container(row)


def get_container(db: Db, workspace_id: int, kind: str, container_id: int) -> Container | None:
    """The workspace's container of `kind` with this id, or None."""
    query = sa.select(containers).where(
        containers.c.id == container_id,
        containers.c.workspace_id == workspace_id,
        containers.c.kind == kind,
    )
    return first(db, query, _container)


def find_container(db: Db, container_id: int) -> Container | None:
    """A container by id in any workspace (operators' tools: the CLI)."""
    return first(db, sa.select(containers).where(containers.c.id == container_id), _container)


def list_containers(
    db: Db, workspace_id: int, kind: str, *, before_id: int | None = None, limit: int | None = None
) -> list[Container]:
    """A workspace's containers of `kind`, newest first (a page: `newest_first`)."""
    query = sa.select(containers).where(
        containers.c.workspace_id == workspace_id, containers.c.kind == kind
    )
    return every(db, newest_first(query, containers.c.id, before_id, limit), _container)


# ---------------------------------------------------------------------- send jobs


def _job(row: sa.Row[Any]) -> SendJob:
    return record(
        SendJob,
        row,
        total=int(row.total),
        sent=int(row.sent),
        failed=int(row.failed),
        skipped=int(row.skipped),
        audience=dict(row.audience or {}),
        errors=list(row.errors or []),
    )


def create_job(
    db: Db, container: Container, audience: Mapping[str, Any], total: int = 0
) -> SendJob:
    """A running job with nothing done yet (`total`: 0 until a filter's audience is counted)."""
    row = inserted(
        db,
        send_jobs,
        workspace_id=container.workspace_id,
        container_id=container.id,
        status="running",
        total=total,
        audience=dict(audience),
        errors=[],
        created_at=time.time(),
    )
    return _job(row)


def get_job(db: Db, container_id: int, job_id: int) -> SendJob | None:
    query = sa.select(send_jobs).where(
        send_jobs.c.id == job_id, send_jobs.c.container_id == container_id
    )
    return first(db, query, _job)


def list_jobs(
    db: Db, container_id: int, *, before_id: int | None = None, limit: int | None = None
) -> list[SendJob]:
    """A container's jobs, newest first."""
    query = sa.select(send_jobs).where(send_jobs.c.container_id == container_id)
    return every(db, newest_first(query, send_jobs.c.id, before_id, limit), _job)


def set_job_total(db: Db, job_id: int, total: int) -> None:
    execute(db, sa.update(send_jobs).where(send_jobs.c.id == job_id).values(total=total))


def add_progress(
    db: Db,
    job_id: int,
    *,
    sent: int = 0,
    failed: int = 0,
    skipped: int = 0,
    errors: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Count people done; called in the transaction that records their deliveries."""
    c = send_jobs.c
    values: dict[str, Any] = {
        "sent": c.sent + sent,
        "failed": c.failed + failed,
        "skipped": c.skipped + skipped,
    }
    with transaction(db) as conn:
        if errors:
            kept = conn.execute(sa.select(c.errors).where(c.id == job_id)).scalar_one()
            room = MAX_ERRORS - len(kept or [])
            if room > 0:
                values["errors"] = [*(kept or []), *(dict(e) for e in errors[:room])]
        conn.execute(sa.update(send_jobs).where(c.id == job_id).values(values))


def finish_job(db: Db, job_id: int, status: str, error: str | None = None) -> None:
    """Mark a job done (or failed, with the reason as its last error)."""
    if status not in JOB_STATUSES:
        choices = ", ".join(sorted(JOB_STATUSES))
        raise InvalidValueError(f"job status must be one of {choices}")
    with transaction(db) as conn:
        if error is not None:
            add_progress(conn, job_id, errors=[{"error": error}])
        conn.execute(
            sa.update(send_jobs)
            .where(send_jobs.c.id == job_id)
            .values(status=status, finished_at=time.time())
        )
