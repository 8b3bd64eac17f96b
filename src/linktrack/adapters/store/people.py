"""People: identify (create or merge attributes), look up, delete; audience lookups."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.engine import Db, dialect_insert, transaction
from linktrack.adapters.store.rows import first, record
from linktrack.adapters.store.schema import (
    clicks,
    deliveries,
    delivery_links,
    delivery_reports,
    devices,
    opens,
    people,
    suppressions,
)
from linktrack.core.errors import ConflictError, NotFoundError, SuppressedError
from linktrack.core.model import (
    Identifier,
    IdentifierKind,
    Person,
    identify_fields,
    merge_attributes,
    new_cio_id,
    parse_identifier,
)

_IN_CHUNK: Final = 500

_IDENTIFIER_COLUMN: Final[dict[IdentifierKind, sa.Column[Any]]] = {
    "id": people.c.external_id,
    "email": people.c.email,
    "cio_id": people.c.cio_id,
}


# A person's push address: the device they used last (ties: the one added last).
_LAST_DEVICE: Final = (
    sa.select(devices.c.token)
    .where(devices.c.person_id == people.c.id)
    .order_by(devices.c.last_used.desc(), devices.c.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("device")
)


def _people() -> sa.Select[Any]:
    """People rows with their push device, as `_person` reads them."""
    return sa.select(people, _LAST_DEVICE)


def _person(row: sa.Row[Any]) -> Person:
    return record(
        Person, row, attributes=dict(row.attributes or {}), unsubscribed=bool(row.unsubscribed)
    )


def _person_query(workspace_id: int, ident: Identifier) -> sa.Select[Any]:
    kind, value = ident
    return _people().where(people.c.workspace_id == workspace_id, _IDENTIFIER_COLUMN[kind] == value)


def get_person(db: Db, workspace_id: int, identifier: str | Identifier) -> Person | None:
    """The person named by `identifier` (id, email or `cio_<cio_id>`), or None."""
    return first(db, _person_query(workspace_id, parse_identifier(identifier)), _person)


def get_person_by_pk(db: Db, person_id: int) -> Person | None:
    return first(db, _people().where(people.c.id == person_id), _person)


def _check_free(
    conn: Connection, workspace_id: int, person_id: int | None, cols: dict[str, Any]
) -> None:
    for column, label in (("email", "email"), ("external_id", "id")):
        value = cols.get(column)
        if value is None:
            continue
        other = conn.execute(
            sa.select(people.c.id).where(
                people.c.workspace_id == workspace_id,
                people.c[column] == value,
                people.c.id != (person_id if person_id is not None else -1),
            )
        ).first()
        if other is not None:
            raise ConflictError(f"another person already has {label} {value!r}")


def upsert_person(
    db: Db,
    workspace_id: int,
    identifier: str | Identifier,
    attributes: Mapping[str, Any] | None = None,
    *,
    cio_id: str | None = None,
) -> Person:
    """Create or update the person named by `identifier`, merging `attributes`.

    `email`, `id`, `phone` and `unsubscribed` attributes update those fields; a
    null or empty attribute value removes the attribute; `cio_id` never changes
    (a new person gets the given one: a send composed before the write knows it).
    """
    ident = parse_identifier(identifier)
    cols, plain = identify_fields(attributes or {})
    now = time.time()
    with transaction(db) as conn:
        row = conn.execute(_person_query(workspace_id, ident).with_for_update()).first()
        if row is None:
            _check_unsuppressed(conn, workspace_id, ident, cols)
            created = _insert_person(conn, workspace_id, ident, cols, plain, now, cio_id)
            if created is not None:
                return created
            # Lost a race with a concurrent create of the same person: update theirs.
            row = conn.execute(_person_query(workspace_id, ident).with_for_update()).first()
            if row is None:
                raise ConflictError("the person's email or id belongs to another person")
        _check_free(conn, workspace_id, row.id, cols)
        conn.execute(
            sa.update(people)
            .where(people.c.id == row.id)
            .values(
                attributes=merge_attributes(row.attributes or {}, plain), updated_at=now, **cols
            )
        )
        return _person(conn.execute(_people().where(people.c.id == row.id)).one())


def _insert_person(
    conn: Connection,
    workspace_id: int,
    ident: Identifier,
    cols: dict[str, Any],
    plain: dict[str, Any],
    now: float,
    cio_id: str | None,
) -> Person | None:
    """The new person, or None when a concurrent create of the same person won."""
    if ident[0] == "cio_id":
        raise NotFoundError(f"no person with cio_id {ident[1]!r}")
    # The identifier itself is left to ON CONFLICT: a concurrent create of
    # the same person is a race to win, not a conflict to report.
    _check_free(conn, workspace_id, None, cols)
    values = {**cols, _IDENTIFIER_COLUMN[ident[0]].name: ident[1]}
    inserted = conn.execute(
        dialect_insert(conn, people)
        .values(
            workspace_id=workspace_id,
            cio_id=cio_id or new_cio_id(),
            attributes=merge_attributes({}, plain),
            created_at=now,
            updated_at=now,
            **values,
        )
        .on_conflict_do_nothing()
        .returning(people.c.id)
    ).first()
    if inserted is None:
        return None
    return _person(conn.execute(_people().where(people.c.id == inserted[0])).one())


def delete_person(db: Db, workspace_id: int, identifier: str | Identifier) -> bool:
    """Delete a person (their deliveries stay, unlinked); False when unknown."""
    with transaction(db) as conn:
        row = conn.execute(_person_query(workspace_id, parse_identifier(identifier))).first()
        if row is None:
            return False
        # Segments read person ids from delivery_links, which has no foreign key.
        conn.execute(
            sa.update(delivery_links)
            .where(
                delivery_links.c.delivery_id.in_(
                    sa.select(deliveries.c.id).where(deliveries.c.person_id == row.id)
                )
            )
            .values(person_id=None)
        )
        conn.execute(sa.delete(people).where(people.c.id == row.id))
        return True


# Every table that says whose a delivery, click, open, report or device is.
_PERSON_COLUMNS: Final = (deliveries, clicks, opens, delivery_links, delivery_reports, devices)


def merge_people(
    db: Db, workspace_id: int, primary: str | Identifier, secondary: str | Identifier
) -> Person | None:
    """Merge `secondary` into `primary`, as Customer.io does; None when either is unknown.

    The primary keeps its identifiers and attributes and gains those it lacks
    (an email, an id, a phone, attributes not set or empty); every delivery,
    click, open, report and device of the secondary becomes the primary's; the
    secondary is deleted.
    """
    with transaction(db) as conn:
        first = conn.execute(_person_query(workspace_id, parse_identifier(primary))).first()
        second = conn.execute(_person_query(workspace_id, parse_identifier(secondary))).first()
        if first is None or second is None or first.id == second.id:
            return None
        for table in _PERSON_COLUMNS:
            conn.execute(sa.update(table).where(table.c.person_id == second.id)
                         .values(person_id=first.id))  # fmt: skip
        gained = {c: second._mapping[c] for c in ("external_id", "email", "phone")
                  if not first._mapping[c] and second._mapping[c]}  # fmt: skip
        kept = {k: v for k, v in (first.attributes or {}).items() if v not in (None, "")}
        conn.execute(sa.delete(people).where(people.c.id == second.id))
        conn.execute(
            sa.update(people)
            .where(people.c.id == first.id)
            .values(
                attributes={**(second.attributes or {}), **kept}, updated_at=time.time(), **gained
            )
        )
        return _person(conn.execute(_people().where(people.c.id == first.id)).one())


# ------------------------------------------------------------------- suppressions

_SUPPRESSED_COLUMNS: Final = (("id", "external_id"), ("email", "email"), ("cio_id", "cio_id"))


def _identifiers(ident: Identifier, cols: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, value) of every identifier a new person would have."""
    named = {(kind, cols[column]) for kind, column in _SUPPRESSED_COLUMNS[:2] if cols.get(column)}
    return named | {(ident[0], ident[1])}


def is_suppressed(
    db: Db, workspace_id: int, ident: Identifier, cols: Mapping[str, Any] | None = None
) -> bool:
    """Whether the identifier (or an id or email in `cols`) was suppressed."""
    wanted = _identifiers(ident, cols or {})
    s = suppressions.c
    with transaction(db) as conn:
        found = conn.execute(
            sa.select(s.id)
            .where(
                s.workspace_id == workspace_id,
                sa.or_(*(sa.and_(s.kind == k, s.value == v) for k, v in sorted(wanted))),
            )
            .limit(1)
        ).first()
    return found is not None


def _check_unsuppressed(
    conn: Connection, workspace_id: int, ident: Identifier, cols: Mapping[str, Any]
) -> None:
    if is_suppressed(conn, workspace_id, ident, cols):
        raise SuppressedError("the person's identifier is suppressed (unsuppress it first)")


def suppress_person(db: Db, workspace_id: int, identifier: str | Identifier) -> None:
    """Delete the person and keep their id, email and cio_id from being added again (the
    identifier alone when no such person exists)."""
    ident = parse_identifier(identifier)
    batch = new_cio_id()
    with transaction(db) as conn:
        row = conn.execute(_person_query(workspace_id, ident)).first()
        wanted: set[tuple[str, str]] = {(ident[0], ident[1])}
        if row is not None:
            wanted |= {(kind, row._mapping[column]) for kind, column in _SUPPRESSED_COLUMNS
                       if row._mapping[column]}  # fmt: skip
            delete_person(conn, workspace_id, ident)
        now = time.time()
        for kind, value in sorted(wanted):
            conn.execute(
                dialect_insert(conn, suppressions)
                .values(
                    workspace_id=workspace_id, kind=kind, value=value, batch=batch, created_at=now
                )
                .on_conflict_do_nothing(index_elements=["workspace_id", "kind", "value"])
            )


def unsuppress(db: Db, workspace_id: int, identifier: str | Identifier) -> bool:
    """Free the identifier and those suppressed with it; False when it was not suppressed."""
    kind, value = parse_identifier(identifier)
    s = suppressions.c
    with transaction(db) as conn:
        batch = conn.execute(
            sa.select(s.batch).where(
                s.workspace_id == workspace_id, s.kind == kind, s.value == value
            )
        ).scalar()
        if batch is None:
            return False
        conn.execute(sa.delete(suppressions).where(s.workspace_id == workspace_id,
                                                   s.batch == batch))  # fmt: skip
    return True


# ---------------------------------------------------------------------- audiences


def people_by_identifiers(
    db: Db, workspace_id: int, identifiers: Sequence[Identifier]
) -> dict[Identifier, Person]:
    """The people named by (parsed) identifiers; unknown ones are absent from the answer."""
    wanted: dict[IdentifierKind, list[str]] = {}
    for kind, value in identifiers:
        wanted.setdefault(kind, []).append(value)
    found: dict[Identifier, Person] = {}
    with transaction(db) as conn:
        for kind, values in wanted.items():
            column = _IDENTIFIER_COLUMN[kind]
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                rows = conn.execute(
                    _people().where(people.c.workspace_id == workspace_id, column.in_(chunk))
                )
                for row in rows:
                    found[kind, str(row._mapping[column.name])] = _person(row)
    return found


def people_by_pks(db: Db, person_ids: Sequence[int]) -> dict[int, Person]:
    with transaction(db) as conn:
        out: dict[int, Person] = {}
        for start in range(0, len(person_ids), _IN_CHUNK):
            chunk = list(person_ids[start : start + _IN_CHUNK])
            for row in conn.execute(_people().where(people.c.id.in_(chunk))):
                out[row.id] = _person(row)
        return out


def matching_people(
    conn: Connection, workspace_id: int, predicate: Callable[[Person], bool]
) -> Iterator[int]:
    """Ids of the workspace's people for whom `predicate` holds, in id order (streamed)."""
    query = _people().where(people.c.workspace_id == workspace_id).order_by(people.c.id)
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
    for row in result:
        if predicate(_person(row)):
            yield int(row.id)
