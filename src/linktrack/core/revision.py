"""What turning stored human clicks into machine ones changes in the rollups: pure.

Every rollup the writer keeps is a sum over deliveries (`core.rollups`): click
counts per link and hour, each (delivery, link) pair's first human and machine
click, each delivery's first human click. So a delivery's part can be taken
out and put back: this module computes that part from the delivery's stored
clicks with their verdicts before and after the revision, and returns the
differences, for the writer to apply in the transaction that stores the
batch which revealed the actor. Revising only ever turns human into machine,
so a replayed batch finds nothing left to revise and changes nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from linktrack.core.rollups import DeliveryState, Deltas, bucket_of


@dataclass(frozen=True, slots=True)
class StoredClick:
    """A stored click as the rollups count it."""

    event_id: str
    delivery_id: str
    link_id: int | None
    ts: float
    machine: bool


@dataclass(slots=True)
class Revision:
    """The rollup changes of one revision: deltas to add, pair first times and the
    deliveries' first human click to set, message counters to add."""

    stats: Deltas = field(default_factory=lambda: defaultdict(Counter))
    buckets: Deltas = field(default_factory=lambda: defaultdict(Counter))
    pairs: list[dict[str, Any]] = field(default_factory=list)
    human_firsts: list[dict[str, Any]] = field(default_factory=list)  # {"b_id", "h"}
    counters: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _first(clicks: Iterable[StoredClick], machine: bool) -> float | None:
    return min((c.ts for c in clicks if c.machine == machine), default=None)


def revise(
    stored: Iterable[StoredClick],
    to_machine: set[str],
    found: Mapping[str, DeliveryState],
) -> Revision:
    """The changes when the clicks `to_machine` (human now) become machine; `stored` holds
    every stored click of their deliveries."""
    out = Revision()
    per_delivery: dict[str, list[StoredClick]] = defaultdict(list)
    for c in stored:
        per_delivery[c.delivery_id].append(c)
    for delivery_id, before in sorted(per_delivery.items()):
        if not any(c.event_id in to_machine and not c.machine for c in before):
            continue
        after = [
            StoredClick(c.event_id, c.delivery_id, c.link_id, c.ts, True)
            if c.event_id in to_machine
            else c
            for c in before
        ]
        _revise_delivery(out, found[delivery_id], before, after)
    return out


def _revise_delivery(
    out: Revision, d: DeliveryState, before: list[StoredClick], after: list[StoredClick]
) -> None:
    for old, new in zip(before, after, strict=True):
        if old.link_id is not None and not old.machine and new.machine:
            out.stats[d.message_id, old.link_id]["clicks_human"] -= 1
            out.buckets[d.message_id, bucket_of(old.ts), old.link_id]["human_clicks"] -= 1
    by_link_before: dict[int, list[StoredClick]] = defaultdict(list)
    by_link_after: dict[int, list[StoredClick]] = defaultdict(list)
    for old, new in zip(before, after, strict=True):
        if old.link_id is not None:
            by_link_before[old.link_id].append(old)
            by_link_after[old.link_id].append(new)
    for link_id in sorted(by_link_before):
        _revise_pair(out, d, link_id, by_link_before[link_id], by_link_after[link_id])
    human_before, human_after = _first(before, False), _first(after, False)
    if human_before != human_after:
        out.human_firsts.append({"b_id": d.id, "h": human_after})
        if human_after is None:
            out.counters[d.message_id]["human_clicked"] -= 1


def _revise_pair(
    out: Revision,
    d: DeliveryState,
    link_id: int,
    before: list[StoredClick],
    after: list[StoredClick],
) -> None:
    """A (delivery, link) pair's first human and machine click, and the uniques they count."""
    moved = False
    for column, machine in (("human_uniques", False), ("machine_uniques", True)):
        old, new = _first(before, machine), _first(after, machine)
        if old == new:
            continue
        moved = True
        if old is not None:
            out.buckets[d.message_id, bucket_of(old), link_id][column] -= 1
        if new is not None:
            out.buckets[d.message_id, bucket_of(new), link_id][column] += 1
        if column == "human_uniques" and (old is None) != (new is None):
            out.stats[d.message_id, link_id]["uniques_human"] += 1 if new is not None else -1
    if moved:
        out.pairs.append(
            {
                "delivery_id": d.id,
                "link_id": link_id,
                "message_id": d.message_id,
                "person_id": d.person_id,
                "first_ts": min(c.ts for c in after),
                "first_human_ts": _first(after, False),
                "first_machine_ts": _first(after, True),
            }
        )
