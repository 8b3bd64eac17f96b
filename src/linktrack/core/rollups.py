"""What one batch of stored clicks adds to the rollups: pure arithmetic, no SQL.

The writer inserts a batch's clicks and opens, then applies what this module
computes from the rows actually inserted (a replay adds nothing): per-link
totals (`link_stats`), hourly buckets (`link_buckets`), each (delivery, link)
pair's first click times (`delivery_links`, what makes a click unique) and the
deliveries' first open/click times with the message counters they move.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from linktrack.core.events import Event

BUCKET_SECONDS: Final = 3600
FIRST_COUNTERS: Final = ("opened", "clicked", "human_clicked")
_INF: Final = math.inf

Verdicts = Mapping[str, tuple[bool, list[str]]]  # event id → (machine?, reasons)
Deltas = dict[Any, Counter[str]]  # rollup key → counter deltas
FirstTimes = tuple[float | None, float | None, float | None]  # first click, human, machine


def bucket_of(ts: float) -> int:
    """Start (epoch seconds) of the hour holding `ts`."""
    return int(ts // BUCKET_SECONDS) * BUCKET_SECONDS


@dataclass(slots=True)
class DeliveryState:
    """What the writer needs of a delivery its events name (read, locked, per batch)."""

    id: str
    workspace_id: int
    message_id: int
    person_id: int | None
    sent_at: float
    opened_at: float | None
    clicked_at: float | None
    human_clicked_at: float | None
    links: int | None = None  # how many of the message's links this delivery holds


def burst_counts(items: list[tuple[float, object, str]], window: float) -> dict[str, int]:
    """Per event id: most distinct links seen in any `window`-second span holding it.

    O(n): one sweep gives each start i its span [i, j_i) and distinct count; a
    second takes, for every event, the best span still covering it (spans end in
    start order, so a monotonic deque holds the candidates). A scanner's burst
    can be thousands of clicks on one delivery: no quadratic pass.
    """
    items.sort(key=lambda item: item[0])
    n = len(items)
    spans: list[tuple[int, int]] = []
    seen: Counter[object] = Counter()
    j = 0
    for i in range(n):
        while j < n and items[j][0] - items[i][0] <= window:
            seen[items[j][1]] += 1
            j += 1
        spans.append((j, len(seen)))
        seen[items[i][1]] -= 1
        if not seen[items[i][1]]:
            del seen[items[i][1]]
    best: dict[str, int] = {}
    candidates: deque[tuple[int, int]] = deque()
    for k in range(n):
        end, distinct = spans[k]
        while candidates and candidates[-1][1] <= distinct:
            candidates.pop()  # ends no earlier and counts no more: never the best again
        candidates.append((end, distinct))
        while candidates[0][0] <= k:
            candidates.popleft()
        best[items[k][2]] = candidates[0][1]
    return best


def bursts(
    clicks: Sequence[Event],
    stored: Iterable[tuple[str, str, int | None, str, float]],
    window: float,
) -> dict[str, int]:
    """Burst counts of a batch's clicks, with the stored clicks (event id, delivery id,
    link id, href, ts) of their deliveries near them in time."""
    per_delivery: dict[str, list[tuple[float, object, str]]] = defaultdict(list)
    ids_in_batch = set()
    for e in clicks:
        per_delivery[e.delivery_id].append((e.ts, e.link_id or e.href, e.id))
        ids_in_batch.add(e.id)
    for event_id, delivery_id, link_id, href, ts in stored:
        if event_id not in ids_in_batch:
            per_delivery[delivery_id].append((ts, link_id or href, event_id))
    out: dict[str, int] = {}
    for items in per_delivery.values():
        out.update(burst_counts(items, window))
    return out


def first_clicks_without_open(
    clicks: Iterable[Event], found: Mapping[str, DeliveryState], has_open: set[str]
) -> list[Event]:
    """The earliest inserted click of each delivery that has no open yet: a click
    implies an open, so each of these gets a synthetic one."""
    first: dict[str, Event] = {}
    for e in clicks:
        d = found[e.delivery_id]
        if d.opened_at is None and d.id not in has_open:
            cur = first.get(d.id)
            if cur is None or e.ts < cur.ts:
                first[d.id] = e
    return list(first.values())


@dataclass(slots=True)
class LinkRollups:
    """A batch's additions to link_stats and link_buckets, and the (delivery, link)
    pairs whose first-click times change."""

    stats: Deltas
    buckets: Deltas
    pairs: list[dict[str, Any]]


def link_clicks(
    linked: Iterable[Event], verdicts: Verdicts, found: Mapping[str, DeliveryState]
) -> tuple[Deltas, Deltas, dict[tuple[str, int], list[float]]]:
    """Click counts per (message, link) and per (message, hour, link), and each pair's
    earliest click in the batch [all, human, machine] (inf: none)."""
    stats: Deltas = defaultdict(Counter)
    buckets: Deltas = defaultdict(Counter)
    firsts: dict[tuple[str, int], list[float]] = {}
    for e in linked:
        assert e.link_id is not None
        message_id = found[e.delivery_id].message_id
        human = not verdicts[e.id][0]
        stats[message_id, e.link_id]["clicks_total"] += 1
        stats[message_id, e.link_id]["clicks_human"] += human
        b = buckets[message_id, bucket_of(e.ts), e.link_id]
        b["clicks"] += 1
        b["human_clicks"] += human
        f = firsts.setdefault((e.delivery_id, e.link_id), [_INF, _INF, _INF])
        f[0] = min(f[0], e.ts)
        if human:
            f[1] = min(f[1], e.ts)
        else:
            f[2] = min(f[2], e.ts)
    return stats, buckets, firsts


def link_rollups(
    linked: Sequence[Event],
    verdicts: Verdicts,
    found: Mapping[str, DeliveryState],
    stored_firsts: Mapping[tuple[str, int], FirstTimes],
) -> LinkRollups:
    """Everything the batch's inserted link clicks add, given the stored first times
    of their (delivery, link) pairs."""
    stats, buckets, firsts = link_clicks(linked, verdicts, found)
    pairs = []
    for (delivery_id, link_id), batch_firsts in sorted(firsts.items()):
        message_id = found[delivery_id].message_id
        old = stored_firsts.get((delivery_id, link_id))
        olds: FirstTimes = old if old is not None else (None, None, None)
        news: list[float | None] = []
        for column, stat, old_ts, new_ts in (
            ("uniques", "uniques_total", olds[0], batch_firsts[0]),
            ("human_uniques", "uniques_human", olds[1], batch_firsts[1]),
            ("machine_uniques", None, olds[2], batch_firsts[2]),
        ):
            if new_ts == _INF or (old_ts is not None and old_ts <= new_ts):
                news.append(old_ts)
                continue
            # The pair's first click moved earlier (or is new): the unique
            # belongs to the bucket of the earliest click.
            news.append(new_ts)
            if old_ts is None:
                if stat is not None:
                    stats[message_id, link_id][stat] += 1
            else:
                buckets[message_id, bucket_of(old_ts), link_id][column] -= 1
            buckets[message_id, bucket_of(new_ts), link_id][column] += 1
        if old is None or tuple(news) != olds:
            pairs.append(
                {
                    "delivery_id": delivery_id,
                    "link_id": link_id,
                    "message_id": message_id,
                    "person_id": found[delivery_id].person_id,
                    "first_ts": news[0],
                    "first_human_ts": news[1],
                    "first_machine_ts": news[2],
                }
            )
    return LinkRollups(stats, buckets, pairs)


def _min(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


def first_times(
    found: Mapping[str, DeliveryState],
    inserted_clicks: Iterable[Event],
    verdicts: Verdicts,
    inserted_opens: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[int, Counter[str]]]:
    """Deliveries whose first open/click/human click moved ({"b_id", "o", "c", "h"}),
    and per message how many deliveries got their first of each (FIRST_COUNTERS)."""
    new: dict[str, list[float | None]] = {}

    def times(delivery_id: str) -> list[float | None]:
        d = found[delivery_id]
        return new.setdefault(delivery_id, [d.opened_at, d.clicked_at, d.human_clicked_at])

    for row in inserted_opens:
        t = times(row["delivery_id"])
        t[0] = _min(t[0], row["ts"])
    for e in inserted_clicks:
        t = times(e.delivery_id)
        t[0] = _min(t[0], e.ts)  # a click is also an open
        t[1] = _min(t[1], e.ts)
        if not verdicts[e.id][0]:
            t[2] = _min(t[2], e.ts)
    updates = []
    counters: dict[int, Counter[str]] = defaultdict(Counter)
    for delivery_id in sorted(new):
        d = found[delivery_id]
        opened, clicked, human = new[delivery_id]
        if (opened, clicked, human) == (d.opened_at, d.clicked_at, d.human_clicked_at):
            continue
        updates.append({"b_id": delivery_id, "o": opened, "c": clicked, "h": human})
        c = counters[d.message_id]
        c["opened"] += d.opened_at is None and opened is not None
        c["clicked"] += d.clicked_at is None and clicked is not None
        c["human_clicked"] += d.human_clicked_at is None and human is not None
    return updates, counters
