"""Campaigns, broadcasts and newsletters in the store: containers, send jobs, audiences.

A container's actions (a newsletter's contents) are ordinary `messages` rows
(see repo.py) with the container's kind and `parent_id`. Functions take a
`Connection` (the caller commits) or an `Engine` (own transaction), as in repo.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.repo import (
    Db,
    Identifier,
    IdentifierKind,
    InvalidValueError,
    Person,
    _person,  # one row→Person mapping for the whole store
    _tx,
)
from linktrack.adapters.store.schema import containers, people, send_jobs

KINDS: Final = frozenset({"campaign", "broadcast", "newsletter"})
JOB_STATUSES: Final = frozenset({"running", "done", "failed"})
MAX_ERRORS: Final = 100  # a job keeps the first errors, and counts them all
_IN_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class Container:
    id: int
    workspace_id: int
    kind: str
    name: str
    extra: dict[str, Any]
    created_at: float


def _container(row: sa.Row[Any]) -> Container:
    return Container(
        row.id, row.workspace_id, row.kind, row.name, dict(row.extra or {}), row.created_at
    )


def create_container(
    db: Db, workspace_id: int, kind: str, name: str, extra: Mapping[str, Any] | None = None
) -> Container:
    if kind not in KINDS:
        raise InvalidValueError(f"kind must be one of {', '.join(sorted(KINDS))}, not {kind!r}")
    with _tx(db) as conn:
        row = conn.execute(
            sa.insert(containers)
            .values(
                workspace_id=workspace_id,
                kind=kind,
                name=name,
                extra=dict(extra or {}),
                created_at=time.time(),
            )
            .returning(*containers.c)
        ).one()
    return _container(row)


def get_container(db: Db, workspace_id: int, kind: str, container_id: int) -> Container | None:
    """The workspace's container of `kind` with this id, or None."""
    with _tx(db) as conn:
        row = conn.execute(
            sa.select(containers).where(
                containers.c.id == container_id,
                containers.c.workspace_id == workspace_id,
                containers.c.kind == kind,
            )
        ).first()
    return _container(row) if row else None


def find_container(db: Db, container_id: int) -> Container | None:
    """A container by id in any workspace (operators' tools: the CLI)."""
    with _tx(db) as conn:
        row = conn.execute(sa.select(containers).where(containers.c.id == container_id)).first()
    return _container(row) if row else None


def list_containers(db: Db, workspace_id: int, kind: str) -> list[Container]:
    """A workspace's containers of `kind`, newest first."""
    with _tx(db) as conn:
        rows = conn.execute(
            sa.select(containers)
            .where(containers.c.workspace_id == workspace_id, containers.c.kind == kind)
            .order_by(containers.c.id.desc())
        )
        return [_container(r) for r in rows]


# ---------------------------------------------------------------------- send jobs


@dataclass(frozen=True, slots=True)
class Job:
    """A broadcast trigger or a newsletter send; counts are of people."""

    id: int
    workspace_id: int
    container_id: int
    status: str
    total: int
    sent: int
    failed: int
    skipped: int
    audience: dict[str, Any]
    errors: list[dict[str, Any]]
    created_at: float
    finished_at: float | None


def _job(row: sa.Row[Any]) -> Job:
    return Job(
        row.id,
        row.workspace_id,
        row.container_id,
        row.status,
        int(row.total),
        int(row.sent),
        int(row.failed),
        int(row.skipped),
        dict(row.audience or {}),
        list(row.errors or []),
        row.created_at,
        row.finished_at,
    )


def create_job(db: Db, container: Container, audience: Mapping[str, Any], total: int = 0) -> Job:
    """A running job with nothing done yet (`total`: 0 until a filter's audience is counted)."""
    with _tx(db) as conn:
        row = conn.execute(
            sa.insert(send_jobs)
            .values(
                workspace_id=container.workspace_id,
                container_id=container.id,
                status="running",
                total=total,
                audience=dict(audience),
                errors=[],
                created_at=time.time(),
            )
            .returning(*send_jobs.c)
        ).one()
    return _job(row)


def get_job(db: Db, container_id: int, job_id: int) -> Job | None:
    with _tx(db) as conn:
        row = conn.execute(
            sa.select(send_jobs).where(
                send_jobs.c.id == job_id, send_jobs.c.container_id == container_id
            )
        ).first()
    return _job(row) if row else None


def list_jobs(db: Db, container_id: int) -> list[Job]:
    """A container's jobs, newest first."""
    with _tx(db) as conn:
        rows = conn.execute(
            sa.select(send_jobs)
            .where(send_jobs.c.container_id == container_id)
            .order_by(send_jobs.c.id.desc())
        )
        return [_job(r) for r in rows]


def set_job_total(db: Db, job_id: int, total: int) -> None:
    with _tx(db) as conn:
        conn.execute(sa.update(send_jobs).where(send_jobs.c.id == job_id).values(total=total))


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
    with _tx(db) as conn:
        if errors:
            kept = conn.execute(sa.select(c.errors).where(c.id == job_id)).scalar_one()
            room = MAX_ERRORS - len(kept or [])
            if room > 0:
                values["errors"] = [*(kept or []), *(dict(e) for e in errors[:room])]
        conn.execute(sa.update(send_jobs).where(c.id == job_id).values(values))


def finish_job(db: Db, job_id: int, status: str, error: str | None = None) -> None:
    """Mark a job done (or failed, with the reason as its last error)."""
    if status not in JOB_STATUSES:
        raise InvalidValueError(f"job status must be one of {', '.join(sorted(JOB_STATUSES))}")
    with _tx(db) as conn:
        if error is not None:
            add_progress(conn, job_id, errors=[{"error": error}])
        conn.execute(
            sa.update(send_jobs)
            .where(send_jobs.c.id == job_id)
            .values(status=status, finished_at=time.time())
        )


# ---------------------------------------------------------------------- audiences

_COLUMN_OF: Final[dict[IdentifierKind, sa.Column[Any]]] = {
    "id": people.c.external_id,
    "email": people.c.email,
    "cio_id": people.c.cio_id,
}


def people_by_identifiers(
    db: Db, workspace_id: int, identifiers: Sequence[Identifier]
) -> dict[Identifier, Person]:
    """The people named by (parsed) identifiers; unknown ones are absent from the answer."""
    wanted: dict[IdentifierKind, list[str]] = {}
    for kind, value in identifiers:
        wanted.setdefault(kind, []).append(value)
    found: dict[Identifier, Person] = {}
    with _tx(db) as conn:
        for kind, values in wanted.items():
            column = _COLUMN_OF[kind]
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                rows = conn.execute(
                    sa.select(people).where(
                        people.c.workspace_id == workspace_id, column.in_(chunk)
                    )
                )
                for row in rows:
                    found[kind, str(row._mapping[column.name])] = _person(row)
    return found


def people_by_pks(db: Db, person_ids: Sequence[int]) -> dict[int, Person]:
    with _tx(db) as conn:
        out: dict[int, Person] = {}
        for start in range(0, len(person_ids), _IN_CHUNK):
            chunk = list(person_ids[start : start + _IN_CHUNK])
            for row in conn.execute(sa.select(people).where(people.c.id.in_(chunk))):
                out[row.id] = _person(row)
        return out


def matching_people(
    conn: Connection, workspace_id: int, predicate: Callable[[Person], bool]
) -> Iterator[int]:
    """Ids of the workspace's people for whom `predicate` holds, in id order (streamed)."""
    query = sa.select(people).where(people.c.workspace_id == workspace_id).order_by(people.c.id)
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
    for row in result:
        if predicate(_person(row)):
            yield int(row.id)
