"""Judging the actor, not only the click: who behind a delivery's clicks is a machine.

A click alone can look human (a browser's user agent, seconds or days after the
send) while the actor making it plainly is not. An actor is a user agent and
a network (a /24 for IPv4, a /64 for IPv6): a scanner's requests share both,
a person's share both too, and two actors rarely do. Two rules look at a
delivery's clicks together, those of the batch being stored and those stored
in the `REVISION_SECONDS` before and after them:

* `actor_scan`: an actor that follows most of the delivery's links (the
  burst share of them, at least 2) within `ACTOR_WINDOW_SECONDS`, a page load
  apart (`PAGE_SECONDS`, the median gap), is a scanner walking the message
  (security rescans, sandbox detonation): its clicks on that delivery are
  machine, earlier ones included, from `REVISION_SECONDS` before that walk to
  as long after it.
* `time_of_click`: a request for a link followed within `PAIR_SECONDS` by a
  human-looking request for the same link of the same delivery from another
  actor is a time-of-click check (Proofpoint, Mimecast, Safe Links fetch the
  URL from their network right before they let the person through).

Only a batch's new clicks can make a rule fire (a walk with a new click in it, a
pair with a new click in it), and a click is a witness by its own signals, never
by what these rules made it: so the rules give the same answer whatever order
the clicks were stored in, and a replay of stored clicks revises nothing.

Pure: the writer gathers the clicks (`Seen`) and revises what this finds.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from linktrack.core.bots import BURST_SHARE
from linktrack.core.rollups import burst_counts

ACTOR_WINDOW_SECONDS: Final = 30.0
ACTOR_MIN_LINKS: Final = 2
# A scanner walking a message loads each page before the next (rescans: a second or
# two apart; sandboxes: several); a person middle-clicking links into tabs opens
# them a tenth to a third of a second apart. The median gap tells them apart.
PAGE_SECONDS: Final = 0.8
PAIR_SECONDS: Final = 1.5
# How far from a batch's clicks stored clicks are read and may be revised: a
# verdict can change only this long after a click was stored (README).
REVISION_SECONDS: Final = 300.0
REASONS: Final = frozenset({"actor_scan", "time_of_click"})  # the reasons these rules give


@dataclass(frozen=True, slots=True)
class Seen:
    """One click as the rules see it: stored already, or in the batch being stored."""

    event_id: str
    delivery_id: str
    link: object  # the link id, or the href when the click names no known link
    ts: float
    user_agent: str
    ip: str | None
    machine: bool  # the click's own signals say machine (core.bots.verdict; not these rules)
    new: bool = True  # in the batch being stored (not stored before)


@lru_cache(maxsize=8192)
def network_of(ip: str | None) -> str:
    """The network an address is judged by: its /24 (IPv4) or /64 (IPv6)."""
    if not ip:
        return "-"
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip()
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def actor_of(user_agent: str, ip: str | None) -> tuple[str, str]:
    return user_agent, network_of(ip)


def scan_threshold(links: int | None) -> int:
    """Distinct links one actor must follow within the window to be a scanner."""
    if not links:
        return 3  # the link count was not recorded: as many as a burst needs
    return max(ACTOR_MIN_LINKS, math.ceil(BURST_SHARE * links))


def judge_actors(seen: Iterable[Seen], links: Mapping[str, int | None]) -> dict[str, list[str]]:
    """event id → the reason the rules make a human-looking click machine (`actor_scan`,
    `time_of_click`); clicks already machine by their own signals keep those."""
    per_delivery: dict[str, list[Seen]] = defaultdict(list)
    for s in seen:
        per_delivery[s.delivery_id].append(s)
    found: dict[str, list[str]] = defaultdict(list)
    for delivery_id, items in per_delivery.items():
        if len(items) < 2 or all(c.machine for c in items):
            continue  # both rules need two clicks, and a human-looking one to change
        for event_id in _scanners(items, scan_threshold(links.get(delivery_id))):
            found[event_id].append("actor_scan")
        for event_id in _checked_before(items):
            found[event_id].append("time_of_click")
    return dict(found)


def _scanners(items: list[Seen], threshold: int) -> list[str]:
    """Clicks of actors that walked the delivery: those in a window where the actor
    followed `threshold` distinct links, and its others within REVISION_SECONDS of one."""
    if len({s.link for s in items}) < threshold:
        return []
    by_actor: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for s in items:
        by_actor[actor_of(s.user_agent, s.ip)].append(s)
    out: list[str] = []
    for clicks in by_actor.values():
        if len({c.link for c in clicks}) < threshold:
            continue
        spans = burst_counts([(c.ts, c.link, c.event_id) for c in clicks], ACTOR_WINDOW_SECONDS)
        walking = sorted(c.ts for c in clicks if spans[c.event_id] >= threshold)
        if walking and _paced(walking):
            lo, hi = min(walking) - REVISION_SECONDS, max(walking) + REVISION_SECONDS
            near = [c for c in clicks if lo <= c.ts <= hi]
            if any(c.new for c in near):  # what was stored was judged when it was stored
                out.extend(c.event_id for c in near if not c.machine)
    return out


def _paced(times: list[float]) -> bool:
    """Whether requests come a page load apart, as a scanner loading each link in turn
    does, not the fraction of a second apart of a person opening links into tabs."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    return bool(gaps) and gaps[len(gaps) // 2] >= PAGE_SECONDS


def _checked_before(items: list[Seen]) -> list[str]:
    by_link: dict[object, list[Seen]] = defaultdict(list)
    for s in items:
        by_link[s.link].append(s)
    out: list[str] = []
    for clicks in by_link.values():
        clicks.sort(key=lambda c: (c.ts, c.event_id))
        for first, then in itertools.pairwise(clicks):
            if (
                (first.new or then.new)
                and then.ts - first.ts <= PAIR_SECONDS
                and not first.machine
                and not then.machine
                and actor_of(first.user_agent, first.ip) != actor_of(then.user_agent, then.ip)
            ):
                out.append(first.event_id)
    return out
