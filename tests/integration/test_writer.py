"""The writer on SQLite and PostgreSQL: idempotent replays, synthetic opens, verdicts, rollups."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.adapters.eventlog import MemoryEventLog, RedisStreamEventLog
from linktrack.adapters.store.schema import (
    clicks,
    deliveries,
    delivery_links,
    link_buckets,
    link_stats,
    message_stats,
    opens,
)
from linktrack.core import model
from linktrack.core.events import encode_event
from linktrack.core.rollups import bucket_of
from linktrack.service.writer import Writer

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
T0 = 1_700_000_000.0  # deliveries are created at T0; clicks come an hour later


@dataclass
class World:
    engine: Engine
    ws: model.NewWorkspace
    message_id: int
    links: list[int]
    deliveries: list[str]
    people: list[int]

    def click(
        self,
        d: int,
        link: int,
        ts: float,
        *,
        ua: str = CHROME,
        method: str = "GET",
        ip: str | None = None,
        event_id: str | None = None,
        kid: str | None = None,
    ) -> bytes:
        return encode_event(
            "click",
            kid=kid or self.ws.kid,
            delivery_id=self.deliveries[d],
            link_id=self.links[link],
            position=link,
            href=f"https://example.com/{link}",
            ts=ts,
            ua=ua,
            ip=ip,
            method=method,
            event_id=event_id,
        )

    def open(self, d: int, ts: float, *, event_id: str | None = None) -> bytes:
        return encode_event(
            "open",
            kid=self.ws.kid,
            delivery_id=self.deliveries[d],
            ts=ts,
            ua=CHROME,
            event_id=event_id,
        )


def make_world(engine: Engine, n_deliveries: int = 4, n_links: int = 3) -> World:
    ws = store.create_workspace(engine, f"w-{uuid.uuid4().hex[:6]}")
    m = store.create_message(engine, ws.id, kind="campaign", channel="email", name="M")
    links = [
        store.resolve_link(engine, m.id, f"url:https://example.com/{i}", f"https://example.com/{i}")
        for i in range(n_links)
    ]
    people, ds = [], []
    for i in range(n_deliveries):
        p = store.upsert_person(engine, ws.id, f"p{i}-{uuid.uuid4().hex[:6]}")
        people.append(p.id)
        d = store.create_delivery(
            engine,
            workspace_id=ws.id,
            message_id=m.id,
            person_id=p.id,
            channel="email",
            recipient=f"p{i}@example.com",
            created_at=T0,
        )
        store.mark_delivery(engine, d, "sent", at=T0)
        ds.append(d)
    return World(engine, ws, m.id, links, ds, people)


def rows(engine: Engine, table: sa.Table, *where: Any) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table).where(*where)))


def test_a_click_is_stored_once_with_its_synthetic_open(engine: Engine) -> None:
    w = make_world(engine)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    log.extend([w.click(0, 1, T0 + 3600, event_id="c1")])
    assert writer.run_once() == 1

    [c] = rows(engine, clicks)
    assert (c.event_id, c.delivery_id, c.link_id, c.person_id, c.machine) == (
        "c1",
        w.deliveries[0],
        w.links[1],
        w.people[0],
        False,
    )
    assert c.message_id == w.message_id and c.workspace_id == w.ws.id and c.source == "link"
    [o] = rows(engine, opens)
    assert (o.event_id, o.synthetic, o.ts) == ("c1:open", True, T0 + 3600)
    d = store.get_delivery(engine, w.ws.id, w.deliveries[0])
    assert d is not None and d.opened_at == d.clicked_at == d.human_clicked_at == T0 + 3600
    assert {link.id: link.first_clicked_at for link in d.links}[w.links[1]] == T0 + 3600
    [s] = rows(engine, link_stats)
    assert (s.clicks_total, s.clicks_human, s.uniques_total, s.uniques_human) == (1, 1, 1, 1)
    [ms] = rows(engine, message_stats, message_stats.c.message_id == w.message_id)
    assert (ms.opened, ms.clicked, ms.human_clicked) == (1, 1, 1)
    activity = store.person_activities(engine, w.ws.id, w.people[0])
    assert [a.type for a in activity] == ["clicked", "opened", "sent"]
    assert activity[0].link_id == w.links[1] and activity[1].synthetic


def test_replays_never_double_count(engine: Engine) -> None:
    w = make_world(engine)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    events = [
        w.click(d, link, T0 + 3600 + d * 100 + link * 10) for d in range(3) for link in range(3)
    ]
    events += [w.open(3, T0 + 4000)]
    log.extend(events)
    writer.drain(limit=4)
    before = {
        t.name: sorted(map(tuple, rows(engine, t)))
        for t in (
            clicks,
            opens,
            link_stats,
            link_buckets,
            delivery_links,
            deliveries,
            message_stats,
        )
    }
    writer.reset_checkpoint()
    log.extend(events[:5])  # and the producer retried a few
    assert writer.drain(limit=3) == len(events) + 5
    after = {
        t.name: sorted(map(tuple, rows(engine, t)))
        for t in (
            clicks,
            opens,
            link_stats,
            link_buckets,
            delivery_links,
            deliveries,
            message_stats,
        )
    }
    assert after == before
    assert writer.stats.duplicates == len(events) + 5
    assert len(after["clicks"]) == 9 and len(after["opens"]) == 4


def test_a_real_open_means_no_synthetic_one(engine: Engine) -> None:
    w = make_world(engine)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    log.extend([w.open(0, T0 + 3000, event_id="o1"), w.click(0, 0, T0 + 3600)])
    writer.run_once()
    log.extend([w.click(0, 1, T0 + 4000)])  # a later batch: the delivery is open already
    writer.run_once()
    assert [(o.event_id, o.synthetic) for o in rows(engine, opens)] == [("o1", False)]
    d = store.get_delivery(engine, w.ws.id, w.deliveries[0])
    assert d is not None and d.opened_at == T0 + 3000 and d.clicked_at == T0 + 3600


def test_unknown_deliveries_and_bad_events_do_not_block_the_log(engine: Engine) -> None:
    w = make_world(engine)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    stranger = encode_event("click", kid=w.ws.kid, delivery_id="nope", link_id=1, ts=T0)
    log.extend([stranger, b"not json", b'{"id": 5}', w.click(0, 0, T0 + 3600)])
    assert writer.run_once() == 4
    assert writer.stats.unknown_delivery == 1 and writer.stats.rejected == 2
    assert len(rows(engine, clicks)) == 1
    assert writer.checkpoint() == "000000000004"
    assert writer.run_once() == 0


def test_a_key_of_another_workspace_cannot_write_onto_a_delivery(engine: Engine) -> None:
    w = make_world(engine)
    intruder = store.create_workspace(engine, "intruder")
    log = MemoryEventLog()
    writer = Writer(engine, log)
    log.extend([w.click(0, 0, T0 + 3600, kid=intruder.kid)])
    writer.run_once()
    assert rows(engine, clicks) == [] and writer.stats.rejected == 1


def test_machine_verdicts_from_each_signal(engine: Engine) -> None:
    w = make_world(engine, n_deliveries=5, n_links=4)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    log.extend(
        [
            w.click(0, 0, T0 + 3600, method="HEAD", event_id="head"),
            w.click(1, 0, T0 + 1, event_id="fast"),
            w.click(2, 0, T0 + 3600, ua="Slackbot-LinkExpanding 1.0", event_id="ua"),
            w.click(3, 0, T0 + 3600, ip="40.107.10.10", event_id="net"),
            # delivery 4: a scanner walks three links in one second, then a person comes back
            w.click(4, 0, T0 + 3600.0, event_id="b1"),
            w.click(4, 1, T0 + 3600.4, event_id="b2"),
            w.click(4, 2, T0 + 3600.8, event_id="b3"),
            w.click(4, 0, T0 + 7200, event_id="person"),
        ]
    )
    writer.run_once()
    got = {c.event_id: (c.machine, list(c.machine_reasons)) for c in rows(engine, clicks)}
    assert got == {
        "head": (True, ["head_request"]),
        "fast": (True, ["too_fast"]),
        "ua": (True, ["previewer"]),
        "net": (True, ["scanner_network"]),
        "b1": (True, ["burst"]),
        "b2": (True, ["burst"]),
        "b3": (True, ["burst"]),
        "person": (False, []),
    }
    d4 = store.get_delivery(engine, w.ws.id, w.deliveries[4])
    assert d4 is not None and d4.clicked_at == T0 + 3600 and d4.human_clicked_at == T0 + 7200
    with engine.connect() as conn:
        from linktrack.adapters.store.reports import message_metrics

        assert message_metrics(conn, [w.message_id])["human_clicked"] == 1
        assert message_metrics(conn, [w.message_id])["clicked"] == 5


def test_a_burst_is_most_of_the_links_the_delivery_holds(engine: Engine) -> None:
    """Four links opened into tabs within a second: a person when the delivery holds six
    links, a scanner's walk when it holds five (80 %)."""
    w = make_world(engine, n_deliveries=0, n_links=6)
    made = []
    for held in (6, 5):
        p = store.upsert_person(engine, w.ws.id, f"tabs-{held}")
        d = store.create_delivery(engine, workspace_id=w.ws.id, message_id=w.message_id,
                                  person_id=p.id, channel="email", recipient="t@example.com",
                                  created_at=T0, link_ids=w.links[:held])  # fmt: skip
        store.mark_delivery(engine, d, "sent", at=T0)
        made.append(d)
    w.deliveries[:] = made
    log = MemoryEventLog()
    log.extend([w.click(d, link, T0 + 3600 + link * 0.2, event_id=f"d{d}l{link}")
                for d in (0, 1) for link in range(4)])  # fmt: skip
    Writer(engine, log).run_once()
    got = {c.event_id: c.machine for c in rows(engine, clicks)}
    assert [got[f"d0l{link}"] for link in range(4)] == [False] * 4
    assert [got[f"d1l{link}"] for link in range(4)] == [True] * 4


def test_a_burst_across_batches_uses_stored_clicks(engine: Engine) -> None:
    w = make_world(engine, n_links=4)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    scanner, person = "198.51.100.7", "203.0.113.9"
    log.extend([w.click(0, 0, T0 + 3600.0, ip=scanner), w.click(0, 1, T0 + 3600.5, ip=scanner)])
    writer.run_once()
    log.extend([w.click(0, 2, T0 + 3601.0, ip=scanner, event_id="third"),
                w.click(0, 3, T0 + 3700, ip=person, event_id="later")])  # fmt: skip
    writer.run_once()
    got = {c.event_id: c.machine for c in rows(engine, clicks)}
    assert got["third"] is True and got["later"] is False


def test_sdk_clicks_are_human_and_clicks_without_a_link_count_for_the_delivery(
    engine: Engine,
) -> None:
    w = make_world(engine)
    log = MemoryEventLog()
    writer = Writer(engine, log)
    log.extend(
        [
            encode_event(
                "click",
                kid=None,
                delivery_id=w.deliveries[0],
                link_id=None,
                href="app://screen",
                ts=T0 + 1,
                ua="",
                src="sdk",
            )
        ]
    )
    writer.run_once()
    [c] = rows(engine, clicks)
    assert (c.machine, c.source, c.link_id) == (False, "sdk", None)
    assert rows(engine, link_stats) == []
    d = store.get_delivery(engine, w.ws.id, w.deliveries[0])
    assert d is not None and d.human_clicked_at == T0 + 1


# ------------------------------------------------------- rollups == raw rows


def recomputed(engine: Engine, message_id: int) -> dict[str, Any]:
    """Every rollup, recomputed from the raw click/open rows."""
    cs = rows(engine, clicks, clicks.c.message_id == message_id)
    os_ = rows(engine, opens, opens.c.message_id == message_id)
    stats: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    buckets: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    firsts: dict[tuple[str, int], list[float | None]] = {}
    per_delivery: dict[str, list[float | None]] = {}
    for c in cs:
        pd = per_delivery.setdefault(c.delivery_id, [None, None, None])
        pd[1] = c.ts if pd[1] is None else min(pd[1], c.ts)
        if not c.machine:
            pd[2] = c.ts if pd[2] is None else min(pd[2], c.ts)
        if c.link_id is None:
            continue
        stats[c.link_id][0] += 1
        stats[c.link_id][1] += not c.machine
        b = buckets[bucket_of(c.ts), c.link_id]
        b[0] += 1
        b[1] += not c.machine
        f = firsts.setdefault((c.delivery_id, c.link_id), [None, None, None])
        for i, applies in ((0, True), (1, not c.machine), (2, c.machine)):
            if applies and (f[i] is None or c.ts < f[i]):  # type: ignore[operator]
                f[i] = c.ts
    for (_, link_id), f in firsts.items():
        stats[link_id][2] += 1
        stats[link_id][3] += f[1] is not None
        for i, slot in ((0, 2), (1, 3), (2, 4)):
            if f[i] is not None:
                buckets[bucket_of(f[i]), link_id][slot] += 1  # type: ignore[arg-type]
    for o in os_:
        pd = per_delivery.setdefault(o.delivery_id, [None, None, None])
        pd[0] = o.ts if pd[0] is None else min(pd[0], o.ts)
    for pd in per_delivery.values():
        if pd[1] is not None:
            pd[0] = pd[1] if pd[0] is None else min(pd[0], pd[1])
    synthetic_per_delivery = defaultdict(int)
    for o in os_:
        synthetic_per_delivery[o.delivery_id] += o.synthetic
    return {
        "link_stats": {k: tuple(v) for k, v in stats.items()},
        "link_buckets": {k: tuple(v) for k, v in buckets.items() if any(v)},
        "delivery_links": {k: tuple(v) for k, v in firsts.items()},
        "deliveries": {k: tuple(v) for k, v in per_delivery.items()},
        "message_stats": (
            sum(v[0] is not None for v in per_delivery.values()),
            sum(v[1] is not None for v in per_delivery.values()),
            sum(v[2] is not None for v in per_delivery.values()),
        ),
        "max_synthetic": max(synthetic_per_delivery.values(), default=0),
    }


def stored(engine: Engine, message_id: int) -> dict[str, Any]:
    ls = rows(engine, link_stats, link_stats.c.message_id == message_id)
    lb = rows(engine, link_buckets, link_buckets.c.message_id == message_id)
    dl = rows(engine, delivery_links, delivery_links.c.message_id == message_id)
    ds = rows(engine, deliveries, deliveries.c.message_id == message_id)
    [ms] = rows(engine, message_stats, message_stats.c.message_id == message_id)
    return {
        "link_stats": {
            r.link_id: (r.clicks_total, r.clicks_human, r.uniques_total, r.uniques_human)
            for r in ls
        },
        "link_buckets": {
            (r.bucket_start, r.link_id): (
                r.clicks,
                r.human_clicks,
                r.uniques,
                r.human_uniques,
                r.machine_uniques,
            )
            for r in lb
            if (r.clicks, r.uniques, r.human_uniques, r.machine_uniques) != (0, 0, 0, 0)
        },
        "delivery_links": {
            (r.delivery_id, r.link_id): (r.first_ts, r.first_human_ts, r.first_machine_ts)
            for r in dl
        },
        "deliveries": {
            r.id: (r.opened_at, r.clicked_at, r.human_clicked_at)
            for r in ds
            if r.opened_at is not None
        },
        "message_stats": (ms.opened, ms.clicked, ms.human_clicked),
    }


event_strategy = st.tuples(
    st.sampled_from(["click", "click", "click", "open"]),
    st.integers(0, 3),  # delivery
    st.integers(0, 2),  # link
    st.floats(0, 3 * 3600),  # seconds after T0 (early ones are "too fast")
    st.sampled_from([CHROME, CHROME, "curl/8", ""]),
    st.sampled_from(["GET", "GET", "HEAD"]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(event_strategy, min_size=1, max_size=40),
    dup_indexes=st.lists(st.integers(0, 39), max_size=15),
    batch=st.integers(1, 12),
    replay_from=st.integers(0, 60),
)
def test_rollups_equal_counts_recomputed_from_raw_rows(
    engine: Engine,
    events: list[tuple[Any, ...]],
    dup_indexes: list[int],
    batch: int,
    replay_from: int,
) -> None:
    w = make_world(engine)
    counter = itertools.count()
    encoded = []
    for kind, d, link, offset, ua, method in events:
        eid = f"{uuid.uuid4().hex[:8]}-{next(counter)}"
        if kind == "open":
            encoded.append(
                encode_event(
                    "open",
                    kid=w.ws.kid,
                    delivery_id=w.deliveries[d],
                    ts=T0 + offset,
                    ua=ua,
                    event_id=eid,
                )
            )
        else:
            encoded.append(w.click(d, link, T0 + offset, ua=ua, method=method, event_id=eid))
    # Producers retry: some events appear again, later in the log.
    encoded += [encoded[i] for i in dup_indexes if i < len(encoded)]
    log = MemoryEventLog()
    log.extend(encoded)
    writer = Writer(engine, log, consumer=f"c-{uuid.uuid4().hex[:6]}")
    writer.drain(limit=batch)
    # A rewound checkpoint replays a tail of the log: nothing may change.
    writer.reset_checkpoint(f"{min(replay_from, len(encoded)):012d}" if replay_from else None)
    writer.drain(limit=batch + 1)

    want = recomputed(engine, w.message_id)
    got = stored(engine, w.message_id)
    assert want.pop("max_synthetic") <= 1
    assert got == want
    n_unique = len({e for e in encoded})
    n_rows = len(rows(engine, clicks, clicks.c.message_id == w.message_id)) + len(
        [o for o in rows(engine, opens, opens.c.message_id == w.message_id) if not o.synthetic]
    )
    assert n_rows == n_unique


# ------------------------------------------------------------------ redis path


def test_the_writer_drains_a_redis_stream_through_a_consumer_group(
    engine: Engine, redis_url: str
) -> None:
    import redis

    w = make_world(engine)
    stream = f"linktrack:test:{uuid.uuid4().hex}"
    try:
        producer = RedisStreamEventLog(redis_url, stream)
        events = [w.click(d, 0, T0 + 3600 + d) for d in range(4)]
        for e in events:
            producer.append_sync(e)
        # Consumer A reads a batch and dies before committing.
        dead = RedisStreamEventLog(redis_url, stream, consumer="a")
        assert len(dead.read(None, 2)) == 2
        # Consumer B takes over A's stale entries and the rest.
        log_b = RedisStreamEventLog(redis_url, stream, consumer="b", claim_idle_ms=1)
        time.sleep(0.01)
        writer = Writer(engine, log_b, consumer="b")
        assert writer.drain() == 4
        assert log_b.pending_count() == 0
        # A producer retry of the same events is stored as duplicates, not new clicks.
        for e in events:
            producer.append_sync(e)
        writer.drain()
        assert len(rows(engine, clicks)) == 4
        [s] = rows(engine, link_stats)
        assert (s.clicks_total, s.uniques_total) == (4, 4)
        assert writer.stats.duplicates == 4
        for log in (producer, dead, log_b):
            log.close()
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(stream)
        client.close()


def test_a_failed_commit_leaves_redis_entries_pending_for_the_retry(
    engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    w = make_world(engine)
    stream = f"linktrack:test:{uuid.uuid4().hex}"
    try:
        log = RedisStreamEventLog(redis_url, stream, consumer="solo")
        log.append_sync(w.click(0, 0, T0 + 3600))
        writer = Writer(engine, log, consumer="solo")

        def boom(*args: object) -> None:
            raise RuntimeError("database went away")

        monkeypatch.setattr(writer, "_store", boom)
        with pytest.raises(RuntimeError):
            writer.run_once()
        assert log.pending_count() == 1
        monkeypatch.undo()
        assert writer.run_once() == 1
        assert log.pending_count() == 0 and len(rows(engine, clicks)) == 1
        log.close()
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(stream)
        client.close()


def test_a_checkpoint_moved_during_a_batch_drops_that_read(engine: Engine) -> None:
    w = make_world(engine)
    inner = MemoryEventLog()
    inner.extend([w.click(d, 0, T0 + 3600 + d, event_id=f"e{d}") for d in range(4)])
    writer: Writer

    class Meddling:
        moved = False

        async def append(self, event: bytes) -> None:
            await inner.append(event)

        def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
            items = inner.read(after, limit)
            if not self.moved:
                self.moved = True
                writer.reset_checkpoint("000000000002")  # someone else moved it
            return items

        def ack(self, position: str) -> None:
            inner.ack(position)

    writer = Writer(engine, Meddling())
    assert writer.run_once() == 0 and rows(engine, clicks) == []
    assert writer.run_once() == 2
    assert sorted(c.event_id for c in rows(engine, clicks)) == ["e2", "e3"]


def test_a_checkpoint_of_another_kind_of_log_is_a_clear_error_not_a_wedge(
    engine: Engine, tmp_path: Path
) -> None:
    from linktrack.adapters.eventlog import EventLogError, FileEventLog
    from linktrack.bootstrap import Config, build

    # A store a Redis-mode writer drained (its checkpoint is a stream id), then
    # opened with the file log.
    redis_writer = Writer(engine, MemoryEventLog())
    redis_writer.reset_checkpoint("1796182495672-44")
    log = FileEventLog(tmp_path / "events")
    try:
        with pytest.raises(EventLogError, match="written by another kind of log"):
            Writer(engine, log).check_checkpoint()
        Writer(engine, log, "fresh").check_checkpoint()  # no checkpoint yet: fine
    finally:
        log.close()
    # A Redis-mode writer keeps its own checkpoint, so the file log's is never a stream id.
    url = engine.url.render_as_string(hide_password=False)
    services = build(Config(db_url=url, data_dir=tmp_path / "d", event_log="file"))
    try:
        with pytest.raises(EventLogError, match="LINKTRACK_EVENT_LOG=redis"):
            services.background()
    finally:
        services.stop()


def test_the_writer_saves_its_lag_and_rate_with_each_batch_and_says_when_idle(
    engine: Engine,
) -> None:
    from linktrack.service.progress import HEARTBEAT_SECONDS, writer_status

    world = make_world(engine, n_deliveries=2)
    log = MemoryEventLog()
    now = [T0 + 3600.0]
    name = f"progress-{uuid.uuid4().hex[:6]}"
    writer = Writer(engine, log, name, max_lag=30.0, clock=lambda: now[0])

    def status() -> dict[str, Any]:
        return writer_status(store.writer_progress(engine), name, 30.0, now[0])

    assert status()["state"] == "not_started"
    for i in range(10):  # clicks 45 s old when read: over the 30 s bound
        log.append_sync(world.click(i % 2, 0, now[0] - 45.0 + i))
    assert writer.run_once(limit=4) == 4
    said = status()
    assert said["state"] == "behind" and said["lag_seconds"] == 45.0
    now[0] += 2.0
    assert writer.run_once(limit=100) == 6
    said = status()
    assert said["lag_seconds"] == 43.0 and said["events_per_second"] == 3.0  # 6 in 2 s
    # Idle: lag 0, said at once and then every HEARTBEAT_SECONDS, not at every read.
    now[0] += 1.0
    assert writer.run_once() == 0
    assert status()["state"] == "ok" and status()["lag_seconds"] == 0.0
    heartbeat = status()["heartbeat_at"]
    now[0] += HEARTBEAT_SECONDS / 2
    writer.run_once()
    assert status()["heartbeat_at"] == heartbeat
    now[0] += HEARTBEAT_SECONDS
    writer.run_once()
    assert status()["heartbeat_at"] == now[0]
    # A writer that stops saying anything is stalled, whatever it said last.
    now[0] += 31.0
    assert status()["state"] == "stalled"


def test_a_restored_log_takes_new_clicks_after_a_checkpoint_past_its_copy(
    tmp_path: Path,
) -> None:
    """A backup copies the log, then the store: the store's checkpoint may lie past the
    copy's end. New clicks on the restored log must not land inside the skipped range."""
    from linktrack.adapters.eventlog import FileEventLog
    from linktrack.adapters.eventlog.backup import copy_segments, restore_segments

    engine = store.make_engine(f"sqlite:///{tmp_path}/live.db")
    store.migrate(engine)
    world = make_world(engine)
    live = FileEventLog(tmp_path / "live")
    for i in range(5):
        live.append_sync(world.click(0, 0, T0 + 3600 + i, event_id=f"a{i}"))
    copy_segments(tmp_path / "live", tmp_path / "backup")  # the log first …
    for i in range(5):  # … clicks the copy misses …
        live.append_sync(world.click(1, 0, T0 + 3700 + i, event_id=f"b{i}"))
    Writer(engine, FileEventLog(tmp_path / "live", readonly=True), "writer").drain()
    store.backup_sqlite(engine, tmp_path / "restored.db")  # … then the store, past the copy
    live.close()
    engine.dispose()
    restore_segments(tmp_path / "backup", tmp_path / "restored")
    restored = store.make_engine(f"sqlite:///{tmp_path}/restored.db")
    appender = FileEventLog(tmp_path / "restored")
    try:
        for i in range(3):
            appender.append_sync(world.click(2, 0, T0 + 3800 + i, event_id=f"c{i}"))
        Writer(restored, FileEventLog(tmp_path / "restored", readonly=True), "writer").drain()
        ids = sorted(r.event_id for r in rows(restored, clicks))
    finally:
        appender.close()
        restored.dispose()
    assert ids == sorted([f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
                         + [f"c{i}" for i in range(3)])  # fmt: skip


def test_the_writer_judges_by_the_operators_scanner_networks(engine: Engine, tmp_path: Path) -> None:
    from linktrack.adapters import scanner_networks

    ours = tmp_path / "nets.txt"
    ours.write_text("# our own gateway, checked 2026-12-04\n198.51.100.0/24\n")
    w = make_world(engine, n_deliveries=2)
    log = MemoryEventLog()
    writer = Writer(engine, log, networks=scanner_networks.load(ours))
    log.extend([w.click(0, 0, T0 + 3600, ip="198.51.100.9", event_id="ours"),
                w.click(1, 0, T0 + 3600, ip="40.107.10.10", event_id="eop")])  # fmt: skip
    writer.run_once()
    got = {c.event_id: (c.machine, list(c.machine_reasons)) for c in rows(engine, clicks)}
    # The operator's list replaces the shipped one.
    assert got == {"ours": (True, ["scanner_network"]), "eop": (False, [])}
