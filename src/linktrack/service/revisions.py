"""The actor rules in the writer: judge a batch's clicks with the stored ones near them,
and revise stored clicks the batch showed to be a machine's (`core.actors`,
`core.revision`), in the batch's transaction."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from linktrack.adapters import store
from linktrack.core import actors, revision
from linktrack.core.events import Event
from linktrack.core.rollups import DeliveryState, Verdicts
from linktrack.service.reporting import ReportingFeed

Reasons = dict[str, list[str]]  # event id → reasons


def judge(
    clicks: Sequence[Event],
    verdicts: Verdicts,
    nearby: Sequence[store.NearbyClick],
    found: Mapping[str, DeliveryState],
) -> tuple[Reasons, Reasons]:
    """(reasons the rules add to the batch's clicks, stored human clicks to revise with
    all their reasons). A tap an app reported (source sdk) is neither judged nor a witness."""
    # A batch event already stored (a replay, a redelivery) is seen as its stored row.
    stored = {r.event_id: r for r in nearby if r.source != "sdk"}
    fresh = [e for e in clicks if e.id not in stored and e.src != "sdk"]
    # Only deliveries where a new click has another within the revision window can make
    # a rule fire: the rest (most of them: one click, or clicks far apart) are skipped.
    near = _crowded(fresh, stored.values())
    fresh = [e for e in fresh if e.delivery_id in near]
    stored = {k: r for k, r in stored.items() if r.delivery_id in near}
    seen = [
        actors.Seen(e.id, e.delivery_id, e.link_id or e.href, e.ts, e.ua, e.ip, verdicts[e.id][0])
        for e in fresh
    ]
    seen += [
        actors.Seen(
            r.event_id,
            r.delivery_id,
            r.link_id or r.href,
            r.ts,
            r.user_agent,
            r.ip,
            _own_signals(r.machine_reasons),
            new=False,
        )
        for r in stored.values()
    ]
    extra = actors.judge_actors(seen, {d.id: d.links for d in found.values()})
    fresh_ids = {e.id for e in fresh}
    added = {event_id: why for event_id, why in extra.items() if event_id in fresh_ids}
    revised = {
        event_id: stored[event_id].machine_reasons + why
        for event_id, why in extra.items()
        if event_id in stored and not stored[event_id].machine
    }
    return added, revised


def _crowded(fresh: Sequence[Event], stored: Iterable[store.NearbyClick]) -> set[str]:
    """Deliveries where some new click has another click within REVISION_SECONDS."""
    times: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for e in fresh:
        times[e.delivery_id].append((e.ts, True))
    if not times:
        return set()
    for r in stored:
        if r.delivery_id in times:
            times[r.delivery_id].append((r.ts, False))
    out = set()
    for delivery_id, items in times.items():
        if len(items) < 2:
            continue
        items.sort()
        for (a, a_new), (b, b_new) in itertools.pairwise(items):
            if (a_new or b_new) and b - a <= actors.REVISION_SECONDS:
                out.add(delivery_id)
                break
    return out


def _own_signals(reasons: Sequence[str]) -> bool:
    """Whether a stored click's own signals made it machine (not the actor rules)."""
    return any(reason not in actors.REASONS for reason in reasons)


def revise(
    conn: store.Connection,
    revised: Reasons,
    nearby: Sequence[store.NearbyClick],
    found: Mapping[str, DeliveryState],
    reporting: ReportingFeed,
) -> int:
    """Make the stored clicks `revised` machine: their rows, every rollup they count in,
    and a correcting event for reporting webhooks. Returns how many were revised."""
    if not revised:
        return 0
    rows = [r for r in nearby if r.event_id in revised]
    stored = store.delivery_clicks(conn, sorted({r.delivery_id for r in rows}))
    change = revision.revise(stored, set(revised), found)
    store.add_link_stats(conn, change.stats)
    store.add_link_buckets(conn, change.buckets)
    store.save_pair_first_times(conn, change.pairs)
    store.set_human_firsts(conn, change.human_firsts)
    store.save_first_times(conn, [], change.counters)
    store.mark_machine(conn, revised)
    workspace_of = {d.id: d.workspace_id for d in found.values()}
    reporting.revised(conn, rows, revised, workspace_of)
    return len(rows)
