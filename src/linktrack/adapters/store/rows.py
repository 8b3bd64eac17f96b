"""Rows as the domain's dataclasses, and the one-statement reads and writes of the store."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from linktrack.adapters.store.engine import Db, dialect_insert, transaction

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")


@functools.cache
def _fields(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def record(cls: type[D], row: sa.Row[Any], **converted: Any) -> D:
    """A `cls` from the row's columns named as its fields; `converted` gives some instead."""
    values = row._mapping
    return cls(
        **{name: converted[name] if name in converted else values[name] for name in _fields(cls)}
    )


def where_given(query: sa.Select[Any], *equal: tuple[sa.Column[Any], Any]) -> sa.Select[Any]:
    """`query` narrowed to rows whose column equals the value, for each value given (not None)."""
    for column, value in equal:
        if value is not None:
            query = query.where(column == value)
    return query


def first(db: Db, query: sa.Select[Any], to: Callable[[sa.Row[Any]], T]) -> T | None:
    """The first row of `query` made into a `to`, or None when there is none."""
    with transaction(db) as conn:
        row = conn.execute(query).first()
    return None if row is None else to(row)


def newest_first(
    query: sa.Select[Any], id_column: sa.Column[Any], before_id: int | None, limit: int | None
) -> sa.Select[Any]:
    """`query` by id, newest first: a page of at most `limit` rows with ids below `before_id`
    (keyset: rows added meanwhile never shift one page's rows onto the next)."""
    if before_id is not None:
        query = query.where(id_column < before_id)
    return query.order_by(id_column.desc()).limit(limit)


def every(db: Db, query: sa.Select[Any], to: Callable[[sa.Row[Any]], T]) -> list[T]:
    """Every row of `query`, in order, each made into a `to`."""
    with transaction(db) as conn:
        return [to(row) for row in conn.execute(query)]


def inserted(db: Db, table: sa.Table, **values: Any) -> sa.Row[Any]:
    """Insert one row into `table` and return it as stored (its new id with it)."""
    with transaction(db) as conn:
        return conn.execute(sa.insert(table).values(values).returning(*table.c)).one()


def insert_new(db: Db, table: sa.Table, key: str | tuple[str, ...], **values: Any) -> bool:
    """Insert a row unless one with the same `key` (a column or several) exists; False
    when one did."""
    columns = (key,) if isinstance(key, str) else key
    with transaction(db) as conn:
        # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING.
        row = conn.execute(
            dialect_insert(conn, table)
            .values(values)
            .on_conflict_do_nothing(index_elements=list(columns))
            .returning(table.c[columns[0]])
        ).first()
    return row is not None


def execute(db: Db, statement: sa.Executable) -> None:
    """Run one statement that returns nothing (an UPDATE, an INSERT) in `db`'s transaction."""
    with transaction(db) as conn:
        conn.execute(statement)
