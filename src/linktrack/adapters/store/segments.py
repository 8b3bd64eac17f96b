"""Segments: their rows, and who is in one, read from the first-click index.

A clicked_link condition is the set of person ids in `delivery_links` for the
links it names (index `(link_id, person_id, first_human_ts)`); `and` and `or`
of those are INTERSECT and UNION, counted and paged (keyset on the person id)
by the database. A segment with attribute conditions reads the workspace's
people in id order, 1,000 at a time, asks the index which of them meet each
clicked_link condition, and decides the rest with `core.segments.holds`.
A deleted person is no member: `people.delete_person` clears their person id
in `delivery_links`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.engine import Db, transaction
from linktrack.adapters.store.people import people_by_pks
from linktrack.adapters.store.rows import every, first, inserted, newest_first, record
from linktrack.adapters.store.schema import delivery_links, links, messages, people, segments
from linktrack.core.errors import NotFoundError
from linktrack.core.model import MAX_ID, Person
from linktrack.core.segments import (
    AllOf,
    AnyOf,
    ClickedLink,
    MessageRef,
    Rule,
    Segment,
    clicked_leaves,
    clicks_only,
    holds,
    to_dict,
)

CHUNK: Final = 1000  # people read at a time for a segment with attribute conditions
_dl = delivery_links.c


def _segment(row: sa.Row[Any]) -> Segment:
    return record(Segment, row, conditions=dict(row.conditions))


def create_segment(db: Db, workspace_id: int, name: str, description: str, rule: Rule) -> Segment:
    """Record a segment; the messages it names must be the workspace's (else a 404, as
    for any id of another workspace's)."""
    with transaction(db) as conn:
        for leaf in clicked_leaves(rule):
            if leaf.message is not None and not _message_exists(conn, workspace_id, leaf.message):
                raise NotFoundError(f"no {_named(leaf.message)} in this workspace")
        row = inserted(conn, segments, workspace_id=workspace_id, name=name,
                       description=description, conditions=to_dict(rule),
                       created_at=time.time())  # fmt: skip
    return _segment(row)


def _named(ref: MessageRef) -> str:
    action = "content" if ref.kind == "newsletter" else "action"
    suffix = f" with {action} {ref.action_id}" if ref.action_id is not None else ""
    return f"{ref.kind} {ref.id}{suffix}"


def _message_exists(conn: Connection, workspace_id: int, ref: MessageRef) -> bool:
    query = sa.select(messages.c.id).where(
        _of_message(ref), messages.c.workspace_id == workspace_id
    )
    return conn.execute(query.limit(1)).first() is not None


def get_segment(db: Db, workspace_id: int, segment_id: int) -> Segment | None:
    if segment_id > MAX_ID:
        return None
    query = sa.select(segments).where(
        segments.c.id == segment_id, segments.c.workspace_id == workspace_id
    )
    return first(db, query, _segment)


def list_segments(
    db: Db, workspace_id: int, *, before_id: int | None = None, limit: int | None = None
) -> list[Segment]:
    """A workspace's segments, newest first (a page: `newest_first`)."""
    query = sa.select(segments).where(segments.c.workspace_id == workspace_id)
    return every(db, newest_first(query, segments.c.id, before_id, limit), _segment)


def delete_segment(db: Db, workspace_id: int, segment_id: int) -> bool:
    """Delete a segment; False when the workspace has none with this id."""
    with transaction(db) as conn:
        gone = conn.execute(
            sa.delete(segments)
            .where(segments.c.id == segment_id, segments.c.workspace_id == workspace_id)
            .returning(segments.c.id)
        ).first()
    return gone is not None


# ------------------------------------------------------------------------ membership


@dataclass(frozen=True, slots=True)
class _Clicks:
    """One read of the index: who first clicked one of these links within the bounds."""

    link_ids: tuple[int, ...]
    human_only: bool
    since: float | None
    until: float | None


@dataclass(frozen=True, slots=True)
class _Both:  # `and` (INTERSECT) or `or` (UNION) of plans
    parts: tuple[_Plan, ...]
    all_of: bool


_Plan = _Clicks | _Both


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _of_message(ref: MessageRef) -> sa.ColumnElement[bool]:
    """The `messages` rows a reference names: a transactional message, or a container's
    actions (contents), all or one."""
    m = messages.c
    if ref.kind == "transactional":
        return sa.and_(m.kind == "transactional", m.id == ref.id)
    named = sa.and_(m.kind == ref.kind, m.parent_id == ref.id)
    return named if ref.action_id is None else sa.and_(named, m.id == ref.action_id)


def _clicks(conn: Connection, workspace_id: int, leaf: ClickedLink) -> _Clicks:
    """The workspace's links a clicked_link condition names (href ignores case)."""
    query = (
        sa.select(links.c.id)
        .join(messages, messages.c.id == links.c.message_id)
        .where(messages.c.workspace_id == workspace_id)
    )
    if leaf.message is not None:
        query = query.where(_of_message(leaf.message))
    if leaf.href is not None:
        query = query.where(links.c.href.ilike(_like(leaf.href), escape="\\"))
    ids = tuple(sorted(int(i) for i in conn.execute(query).scalars()))
    return _Clicks(ids, leaf.human_only, leaf.since, leaf.until)


def _plan(conn: Connection, workspace_id: int, rule: Rule) -> _Plan:
    """A clicked_link-only rule as index reads; the clicked_links of one `or` with the same
    bounds become one read of all their links."""
    if isinstance(rule, ClickedLink):
        return _clicks(conn, workspace_id, rule)
    assert isinstance(rule, AllOf | AnyOf)
    parts = [_plan(conn, workspace_id, p) for p in rule.parts]
    if isinstance(rule, AnyOf):
        merged: dict[tuple[Any, ...], _Clicks] = {}
        others: list[_Plan] = []
        for part in parts:
            if isinstance(part, _Clicks):
                key = (part.human_only, part.since, part.until)
                had = merged.get(key)
                ids = (
                    part.link_ids if had is None else tuple(sorted({*had.link_ids, *part.link_ids}))
                )
                merged[key] = _Clicks(ids, *key)
            else:
                others.append(part)
        parts = [*merged.values(), *others]
    if len(parts) == 1:
        return parts[0]
    return _Both(tuple(parts), isinstance(rule, AllOf))


PER_LINK: Final = 64  # up to this many links, a page reads each link's index range apart


def _clickers(plan: _Clicks, link_ids: Sequence[int], after: int | None) -> sa.Select[Any]:
    """Person ids (repeated) who first clicked one of `link_ids` within the plan's bounds."""
    query = sa.select(_dl.person_id.label("person_id")).where(
        _dl.link_id.in_(link_ids), _dl.person_id.is_not(None)
    )
    first_click = _dl.first_human_ts if plan.human_only else _dl.first_ts
    if plan.human_only:
        query = query.where(_dl.first_human_ts.is_not(None))
    if plan.since is not None:
        query = query.where(first_click >= plan.since)
    if plan.until is not None:
        query = query.where(first_click <= plan.until)
    if after is not None:
        query = query.where(_dl.person_id > after)
    return query


def _first(query: sa.Select[Any], limit: int | None) -> sa.Select[Any]:
    return query if limit is None else query.order_by("person_id").limit(limit)


def _members(plan: _Plan, after: int | None, limit: int | None) -> sa.Select[Any]:
    """Distinct person ids of a plan above `after`; with `limit`, a superset of the first
    `limit` (each index range is read from `after` for `limit` people at most)."""
    if isinstance(plan, _Clicks):
        if limit is None or not 1 < len(plan.link_ids) <= PER_LINK:
            return _first(_clickers(plan, plan.link_ids, after).distinct(), limit)
        per_link = [_first(_clickers(plan, (i,), after).distinct(), limit) for i in plan.link_ids]
        return _compound(per_link, all_of=False)
    # The first people of a union are among the first of each part; of an intersection, not.
    part_limit = None if plan.all_of else limit
    return _compound([_members(p, after, part_limit) for p in plan.parts], plan.all_of)


def _compound(parts: list[sa.Select[Any]], all_of: bool) -> sa.Select[Any]:
    # Each part as a subquery: SQLite takes no parenthesised compound inside another.
    wrapped: list[sa.Select[Any]] = [
        sa.select(sa.literal_column("person_id")).select_from(p.subquery()) for p in parts
    ]
    combined = sa.intersect(*wrapped) if all_of else sa.union(*wrapped)
    sub = combined.subquery()
    return sa.select(sub.c.person_id)


def segment_count(db: Db, workspace_id: int, rule: Rule) -> int:
    """How many people are in the segment."""
    with transaction(db) as conn:
        if not clicks_only(rule):
            return sum(1 for _ in _scan(conn, workspace_id, rule, None))
        plan = _plan(conn, workspace_id, rule)
        if isinstance(plan, _Clicks):  # one read: COUNT(DISTINCT), no compound
            clickers = _clickers(plan, plan.link_ids, None).subquery()
            query = sa.select(sa.func.count(sa.distinct(clickers.c.person_id)))
        else:
            sub = _members(plan, None, None).subquery()
            query = sa.select(sa.func.count()).select_from(sub)
        return int(conn.execute(query).scalar_one())


def segment_page(
    db: Db, workspace_id: int, rule: Rule, after: int | None, limit: int
) -> list[Person]:
    """Up to `limit` members with person ids above `after`, by id (keyset: people who
    join meanwhile never shift a member from one page to the next)."""
    with transaction(db) as conn:
        if not clicks_only(rule):
            found = []
            for person in _scan(conn, workspace_id, rule, after):
                found.append(person)
                if len(found) == limit:
                    break
            return found
        plan = _plan(conn, workspace_id, rule)
        sub = _first(_members(plan, after, limit), limit).subquery()
        ids = [int(pk) for pk in conn.execute(sa.select(sub.c.person_id)).scalars()]
        known = people_by_pks(conn, ids)
        return [known[pk] for pk in ids if pk in known]


def segment_member_ids(db: Db, workspace_id: int, rule: Rule) -> list[int]:
    """Every member's person id, in id order (a broadcast or newsletter to a segment)."""
    out: list[int] = []
    while True:
        page = segment_page(db, workspace_id, rule, out[-1] if out else None, 5 * CHUNK)
        out.extend(p.id for p in page)
        if len(page) < 5 * CHUNK:
            return out


def _scan(conn: Connection, workspace_id: int, rule: Rule, after: int | None) -> Iterator[Person]:
    """The workspace's people above `after` who are in the segment, by id."""
    plans = {leaf: _clicks(conn, workspace_id, leaf) for leaf in clicked_leaves(rule)}
    last = after or 0
    while True:
        ids = list(
            conn.execute(
                sa.select(people.c.id)
                .where(people.c.workspace_id == workspace_id, people.c.id > last)
                .order_by(people.c.id)
                .limit(CHUNK)
            ).scalars()
        )
        if not ids:
            return
        hits = {leaf: _clicked_among(conn, plan, ids) for leaf, plan in plans.items()}
        found = people_by_pks(conn, ids)
        for pk in ids:
            person = found.get(pk)
            if person is not None and _holds(rule, person, hits):
                yield person
        last = ids[-1]


def _holds(rule: Rule, person: Person, hits: dict[ClickedLink, set[int]]) -> bool:
    return holds(rule, person, lambda leaf: person.id in hits[leaf])


def _clicked_among(conn: Connection, plan: _Clicks, ids: list[int]) -> set[int]:
    query = _clickers(plan, plan.link_ids, None).where(_dl.person_id.in_(ids))
    return {int(pk) for pk in conn.execute(query).scalars()}
