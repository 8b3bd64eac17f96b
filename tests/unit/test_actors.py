"""The actor rules (core.actors) and what revising stored clicks changes (core.revision)."""

from __future__ import annotations

from collections import Counter

from linktrack.core.actors import (
    REVISION_SECONDS,
    Seen,
    judge_actors,
    network_of,
    scan_threshold,
)
from linktrack.core.revision import StoredClick, revise
from linktrack.core.rollups import DeliveryState, bucket_of

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def seen(event_id: str, link: int, ts: float, ip: str = "20.40.1.9", ua: str = CHROME,
         machine: bool = False, delivery: str = "d") -> Seen:  # fmt: skip
    return Seen(event_id, delivery, link, ts, ua, ip, machine)


def test_actors_are_a_user_agent_and_a_network() -> None:
    assert network_of("20.40.1.9") == network_of("20.40.1.200") == "20.40.1.0/24"
    assert network_of("2003:e0:1:2:3:4:5:6") == "2003:e0:1:2::/64"
    assert network_of(None) == "-" and network_of("not an address") == "not an address"
    assert [scan_threshold(n) for n in (None, 1, 2, 4, 5, 10)] == [3, 2, 2, 4, 4, 8]


def test_a_rescan_of_every_link_makes_all_of_the_actors_clicks_machine() -> None:
    # One page load per link 1-2 s apart, from a cloud address with a browser's UA,
    # and the same actor's first click minutes earlier (stored already).
    clicks = [seen("early", 0, 1000.0)] + [seen(f"s{i}", i, 1200.0 + 1.5 * i) for i in range(4)]
    person = seen("person", 1, 1300.0, ip="73.1.2.3", ua=SAFARI)
    got = judge_actors([*clicks, person], {"d": 4})
    assert got == {e: ["actor_scan"] for e in ("early", "s0", "s1", "s2", "s3")}


def test_an_actor_is_judged_within_the_revision_window_only() -> None:
    walk = [seen(f"s{i}", i, 5000.0 + i) for i in range(4)]
    back = seen("back", 0, 5003.0 + REVISION_SECONDS + 1)  # the same browser, much later
    assert "back" not in judge_actors([*walk, back], {"d": 4})
    # Three of four links is no walk, nor are four links over more than the window.
    assert judge_actors(walk[:3], {"d": 4}) == {}
    spread = [seen(f"t{i}", i, 5000.0 + 11 * i) for i in range(4)]
    assert judge_actors(spread, {"d": 4}) == {}


def test_clicks_already_machine_keep_their_own_reasons() -> None:
    walk = [seen(f"s{i}", i, 10.0 + i, machine=i == 0) for i in range(2)]
    assert judge_actors(walk, {"d": 2}) == {"s1": ["actor_scan"]}


def test_a_time_of_click_check_is_the_request_just_before_the_persons() -> None:
    check = seen("check", 2, 100.0, ip="148.163.130.4")
    person = seen("person", 2, 100.9, ip="73.1.2.3", ua=SAFARI)
    assert judge_actors([check, person], {"d": 4}) == {"check": ["time_of_click"]}
    # The same actor twice (a double click), a gap over 1.5 s, or a machine after: no pair.
    twice = seen("twice", 2, 100.5, ip="148.163.130.4")
    assert judge_actors([check, twice], {"d": 4}) == {}
    late = seen("late", 2, 101.6, ip="73.1.2.3", ua=SAFARI)
    assert judge_actors([check, late], {"d": 4}) == {}
    bot = seen("bot", 2, 100.5, ip="73.1.2.3", ua="curl/8", machine=True)
    assert judge_actors([check, bot], {"d": 4}) == {}
    # Other links or other deliveries are no witnesses.
    other_link = seen("o", 3, 100.5, ip="73.1.2.3", ua=SAFARI)
    other_delivery = seen("od", 2, 100.5, ip="73.1.2.3", ua=SAFARI, delivery="e")
    assert judge_actors([check, other_link, other_delivery], {"d": 4, "e": 4}) == {}


def _state() -> dict[str, DeliveryState]:
    return {"d": DeliveryState("d", 1, 7, 42, 0.0, 10.0, 10.0, 10.0, links=2)}


def test_revising_takes_the_clicks_human_part_out_of_every_rollup() -> None:
    stored = [
        StoredClick("a", "d", 1, 10.0, False),
        StoredClick("b", "d", 2, 11.0, False),
        StoredClick("c", "d", 1, 7300.0, False),  # a person, two hours on
    ]
    change = revise(stored, {"a", "b"}, _state())
    h0, h2 = bucket_of(10.0), bucket_of(7300.0)
    assert change.stats == {(7, 1): Counter(clicks_human=-1), (7, 2): Counter(
        clicks_human=-1, uniques_human=-1)}  # fmt: skip
    assert change.buckets[7, h0, 1] == Counter(human_clicks=-1, human_uniques=-1,
                                               machine_uniques=1)  # fmt: skip
    assert change.buckets[7, h2, 1] == Counter(human_uniques=1)
    assert change.buckets[7, h0, 2] == Counter(human_clicks=-1, human_uniques=-1,
                                               machine_uniques=1)  # fmt: skip
    assert {(p["link_id"], p["first_human_ts"], p["first_machine_ts"]) for p in change.pairs} == {
        (1, 7300.0, 10.0), (2, None, 11.0)}  # fmt: skip
    assert change.human_firsts == [{"b_id": "d", "h": 7300.0}]
    assert change.counters == {}


def test_a_delivery_left_without_a_human_click_leaves_the_human_clicked_count() -> None:
    stored = [StoredClick("a", "d", 1, 10.0, False), StoredClick("b", "d", None, 12.0, False)]
    change = revise(stored, {"a", "b"}, _state())
    assert change.human_firsts == [{"b_id": "d", "h": None}]
    assert change.counters == {7: Counter(human_clicked=-1)}
    # Nothing left to revise (a replay): nothing changes.
    again = [StoredClick("a", "d", 1, 10.0, True), StoredClick("b", "d", None, 12.0, True)]
    empty = revise(again, {"a", "b"}, _state())
    assert (empty.stats, empty.buckets, empty.pairs, empty.human_firsts) == ({}, {}, [], [])


def test_links_opened_into_tabs_are_no_walk() -> None:
    tabs = [seen(f"t{i}", i, 500.0 + 0.2 * i, ip="73.1.2.3", ua=SAFARI) for i in range(4)]
    assert judge_actors(tabs, {"d": 5}) == {}
    paced = [seen(f"p{i}", i, 500.0 + 1.2 * i) for i in range(4)]
    assert set(judge_actors(paced, {"d": 5})) == {"p0", "p1", "p2", "p3"}


def test_only_new_clicks_make_a_rule_fire() -> None:
    """A replay sees only stored clicks: nothing fires, whatever they show."""
    walk = [Seen(f"s{i}", "d", i, 10.0 + 1.2 * i, CHROME, "20.40.1.9", False, new=False)
            for i in range(4)]  # fmt: skip
    check = Seen("check", "d", 1, 100.0, CHROME, "148.163.130.4", False, new=False)
    person = Seen("person", "d", 1, 100.9, SAFARI, "73.1.2.3", False, new=False)
    assert judge_actors([*walk, check, person], {"d": 4}) == {}
    # One new click in the walk, or in the pair, and the rule fires for the stored ones.
    assert set(judge_actors([*walk[:3], seen("s3", 3, 13.6)], {"d": 4})) == {
        "s0", "s1", "s2", "s3"}  # fmt: skip
    assert judge_actors([check, seen("person", 1, 100.9, ip="73.1.2.3", ua=SAFARI)], {"d": 4}) == {
        "check": ["time_of_click"]}  # fmt: skip
