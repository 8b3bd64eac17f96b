"""Verdicts revised after a click was stored (core.actors, service.revisions), on SQLite
and PostgreSQL: the clicks, every rollup (equal to a recount from the raw rows), reporting
webhooks' correcting events, and replays that change nothing."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import hypothesis
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from test_writer import CHROME, T0, make_world, recomputed, rows, stored

from linktrack.adapters import store
from linktrack.adapters.eventlog import MemoryEventLog
from linktrack.adapters.store.schema import clicks, webhook_events
from linktrack.service.writer import Writer

SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile"
CLOUD, HOME, VENDOR = "20.40.1.9", "73.1.2.3", "148.163.130.4"
ACTORS = [(CHROME, CLOUD), (CHROME, CLOUD), (SAFARI, HOME), (CHROME, VENDOR), ("curl/8", CLOUD)]


def recount(engine: Engine, message_id: int) -> dict[str, Any]:
    """Every rollup recomputed from the raw rows (test_writer's recount)."""
    want = recomputed(engine, message_id)
    assert want.pop("max_synthetic") <= 1
    return want


def verdicts(engine: Engine, message_id: int) -> dict[str, tuple[bool, list[str]]]:
    return {
        c.event_id: (c.machine, list(c.machine_reasons))
        for c in rows(engine, clicks, clicks.c.message_id == message_id)
    }


def test_a_rescan_revises_the_actors_stored_click_and_every_rollup(engine: Engine) -> None:
    w = make_world(engine, n_deliveries=2, n_links=3)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    hook = store.create_webhook(engine, w.ws.id, "k" * 64, name="h", endpoint="http://127.0.0.1:9/",
                                events=["email_clicked"], disabled=False)  # fmt: skip
    # Batch 1: the scanner's first page load looks like a person's; a real person on
    # the other delivery.
    log.extend([w.click(0, 0, T0 + 3600, ip=CLOUD, event_id="scan-0"),
                w.click(1, 0, T0 + 3650, ip=HOME, ua=SAFARI, event_id="person")])  # fmt: skip
    writer.run_once()
    assert verdicts(engine, w.message_id)["scan-0"] == (False, [])
    before = stored(engine, w.message_id)
    assert before["message_stats"][2] == 2  # both deliveries human-clicked, for now
    # Batch 2: the same actor walks the other links: it was a scanner all along.
    log.extend([w.click(0, 1, T0 + 3601.5, ip=CLOUD, event_id="scan-1"),
                w.click(0, 2, T0 + 3603, ip=CLOUD, event_id="scan-2")])  # fmt: skip
    writer.run_once()
    got = verdicts(engine, w.message_id)
    assert got == {
        "scan-0": (True, ["actor_scan"]),
        "scan-1": (True, ["actor_scan"]),
        "scan-2": (True, ["actor_scan"]),
        "person": (False, []),
    }
    assert writer.stats.revised == 1
    assert stored(engine, w.message_id) == recount(engine, w.message_id)
    assert stored(engine, w.message_id)["message_stats"][2] == 1
    d0 = store.get_delivery(engine, w.ws.id, w.deliveries[0])
    assert d0 is not None and d0.human_clicked_at is None and d0.clicked_at == T0 + 3600
    # The webhook heard each click as it was stored, then the correction.
    queued = {r.event_id: orjson.loads(r.body) for r in rows(engine, webhook_events)}
    assert set(queued) == {"scan-0", "person", "scan-1", "scan-2", "scan-0:revised"}
    assert queued["scan-0"]["data"]["machine"] is False
    correction = queued["scan-0:revised"]
    assert correction["metric"] == "clicked" and correction["data"]["machine"] is True
    assert correction["data"]["revises"] == "scan-0"
    assert correction["data"]["machine_reasons"] == ["actor_scan"]
    assert hook["id"]
    # A replay of the whole log changes nothing and queues nothing again.
    snapshot = stored(engine, w.message_id)
    writer.reset_checkpoint(None)
    writer.drain()
    assert stored(engine, w.message_id) == snapshot
    assert len(rows(engine, webhook_events)) == 5


def test_a_time_of_click_check_stored_before_the_persons_click_is_revised(
    engine: Engine,
) -> None:
    w = make_world(engine, n_deliveries=1, n_links=3)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    log.extend([w.click(0, 1, T0 + 3600, ip=VENDOR, event_id="check")])
    writer.run_once()
    log.extend([w.click(0, 1, T0 + 3600.8, ip=HOME, ua=SAFARI, event_id="person")])
    writer.run_once()
    assert verdicts(engine, w.message_id) == {
        "check": (True, ["time_of_click"]),
        "person": (False, []),
    }
    want = recount(engine, w.message_id)
    assert stored(engine, w.message_id) == want
    # The person's click is the pair's first human one now, and still unique.
    [(_, human_first, machine_first)] = want["delivery_links"].values()
    assert (human_first, machine_first) == (T0 + 3600.8, T0 + 3600)


event_strategy = st.tuples(
    st.integers(0, 2),  # delivery
    st.integers(0, 2),  # link
    st.floats(0, 60),  # seconds after T0 + 1 h: dense enough for walks and pairs
    st.sampled_from(ACTORS),
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(event_strategy, min_size=8, max_size=30),
    batch=st.integers(1, 8),
    replay_from=st.integers(0, 40),
)
def test_revised_rollups_equal_a_recount_from_the_raw_rows(
    engine: Engine, events: list[tuple[Any, ...]], batch: int, replay_from: int
) -> None:
    w = make_world(engine, n_deliveries=3, n_links=3)
    counter = itertools.count()
    encoded = []
    for d, link, offset, (ua, ip) in events:
        event_id = f"{uuid.uuid4().hex[:8]}-{next(counter)}"
        encoded.append(w.click(d, link, T0 + 3600 + offset, ua=ua, ip=ip, event_id=event_id))
    log = MemoryEventLog()
    log.extend(encoded)
    writer = Writer(engine, log, consumer=f"c-{uuid.uuid4().hex[:6]}")
    writer.drain(limit=batch)
    hypothesis.event(f"revised {min(writer.stats.revised, 3)}+")
    first = stored(engine, w.message_id)
    assert first == recount(engine, w.message_id)
    writer.reset_checkpoint(f"{min(replay_from, len(encoded)):012d}" if replay_from else None)
    writer.drain(limit=batch + 1)
    assert stored(engine, w.message_id) == first
