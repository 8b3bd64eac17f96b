"""Rollup arithmetic of one writer batch: totals, hourly buckets, uniques, first times."""

from __future__ import annotations

from linktrack.core import rollups
from linktrack.core.events import Event
from linktrack.core.rollups import DeliveryState

T0 = 1_700_000_000.0  # 22:13:20 UTC


def click(event_id: str, ts: float, link_id: int = 1, delivery: str = "d1") -> Event:
    return Event(event_id, "click", "k", delivery, link_id, 1, "https://x", ts, "UA", None, "GET",
                 "link")  # fmt: skip


def delivery(opened: float | None = None) -> DeliveryState:
    return DeliveryState("d1", 1, 10, 100, T0 - 3600, opened, None, None)


def test_buckets_are_hours() -> None:
    assert rollups.bucket_of(T0) == T0 - T0 % 3600
    assert rollups.bucket_of(rollups.bucket_of(T0)) == rollups.bucket_of(T0)


def test_a_new_pair_counts_one_unique_in_the_hour_of_its_first_click() -> None:
    batch = [click("a", T0 + 10), click("b", T0)]
    verdicts = {"a": (False, []), "b": (True, ["burst"])}
    done = rollups.link_rollups(batch, verdicts, {"d1": delivery()}, {})
    assert done.stats[10, 1] == {"clicks_total": 2, "clicks_human": 1, "uniques_total": 1,
                                 "uniques_human": 1}  # fmt: skip
    hour = rollups.bucket_of(T0)
    assert done.buckets[10, hour, 1] == {"clicks": 2, "human_clicks": 1, "uniques": 1,
                                         "human_uniques": 1, "machine_uniques": 1}  # fmt: skip
    (pair,) = done.pairs
    assert (pair["first_ts"], pair["first_human_ts"], pair["first_machine_ts"]) == (
        T0, T0 + 10, T0,
    )  # fmt: skip


def test_an_earlier_click_moves_the_unique_to_its_bucket_without_counting_it_twice() -> None:
    late = T0 + 7200
    stored = {("d1", 1): (late, late, None)}
    done = rollups.link_rollups([click("a", T0)], {"a": (False, [])}, {"d1": delivery()}, stored)
    assert "uniques_total" not in done.stats[10, 1]  # the pair was already counted
    assert done.buckets[10, rollups.bucket_of(late), 1]["uniques"] == -1
    assert done.buckets[10, rollups.bucket_of(T0), 1]["uniques"] == 1
    assert done.pairs[0]["first_ts"] == T0


def test_a_later_click_changes_no_first_time() -> None:
    stored = {("d1", 1): (T0, T0, None)}
    done = rollups.link_rollups(
        [click("a", T0 + 60)], {"a": (False, [])}, {"d1": delivery()}, stored
    )
    assert done.pairs == []


def test_bursts_count_distinct_links_in_the_window_with_stored_clicks() -> None:
    batch = [click("a", T0, link_id=1), click("b", T0 + 0.5, link_id=2)]
    stored = [("old", "d1", 3, "https://x", T0 + 1.0), ("a", "d1", 1, "https://x", T0)]
    counts = rollups.bursts(batch, stored, 2.0)
    assert counts == {"a": 3, "b": 3, "old": 3}


def test_a_first_click_without_an_open_gets_one_synthetic_open() -> None:
    batch = [click("a", T0 + 5), click("b", T0 + 1)]
    assert [e.id for e in rollups.first_clicks_without_open(batch, {"d1": delivery()}, set())] == [
        "b"
    ]
    assert rollups.first_clicks_without_open(batch, {"d1": delivery(opened=T0)}, set()) == []
    assert rollups.first_clicks_without_open(batch, {"d1": delivery()}, {"d1"}) == []


def test_first_times_move_only_earlier_and_count_each_delivery_once() -> None:
    updates, counters = rollups.first_times(
        {"d1": delivery()}, [click("a", T0)], {"a": (True, ["burst"])}, [{"delivery_id": "d1",
                                                                          "ts": T0 + 1}]
    )  # fmt: skip
    assert updates == [{"b_id": "d1", "o": T0, "c": T0, "h": None}]
    assert counters[10] == {"opened": 1, "clicked": 1, "human_clicked": 0}
