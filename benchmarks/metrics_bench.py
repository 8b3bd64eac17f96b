"""Report queries at scale: one message, ~40 links, N deliveries, 1M+ clicks.

    python benchmarks/metrics_bench.py [--db URL] [--clicks 1000000] [--deliveries 100000]

The store is filled by the real Writer (events in a MemoryEventLog, drained in
5,000-event batches), not by bulk-inserting rows: the rollups the queries read
are then exactly the ones production computes, and the fill rate doubles as a
writer throughput figure. Deliveries and people, which the writer only reads,
are bulk-inserted. A store already filled for the same sizes is reused. On
PostgreSQL the fill ends with VACUUM ANALYZE, standing in for autovacuum.

Prints one line per query, the median of several runs, e.g.
`metrics: message_metrics 1,000,000 clicks: 0.4 ms`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.adapters.eventlog import MemoryEventLog
from linktrack.adapters.store import make_engine, migrate
from linktrack.adapters.store.schema import clicks, deliveries, message_stats, messages, people
from linktrack.core.events import encode_event
from linktrack.core.segments import AnyOf, ClickedLink, MessageRef, Rule
from linktrack.service.writer import Writer

N_LINKS = 40
DAYS = 30
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)",  # a scanner
]


FILL_CHUNK = 250_000


class _ForgettingLog(MemoryEventLog):
    """A memory log that lets go of what the writer has stored (acked)."""

    def __init__(self) -> None:
        super().__init__()
        self._gone = 0  # events before the list's first, already let go

    def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        start = int(after) if after else 0
        chunk = self._events[start - self._gone : start - self._gone + limit]
        return [(f"{start + i + 1:012d}", e) for i, e in enumerate(chunk)]

    def ack(self, position: str) -> None:
        stored = int(position) - self._gone
        del self._events[:stored]
        self._gone += stored


def _name(n_clicks: int, n_deliveries: int) -> str:
    return f"metrics-bench-{n_clicks}-{n_deliveries}"


def _existing(engine: Engine, name: str) -> tuple[int, int] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT w.id, m.id FROM workspaces w JOIN messages m ON m.workspace_id = w.id "
                "WHERE w.name = :n"
            ),
            {"n": name},
        ).first()
    return (row[0], row[1]) if row else None


def _stored_clicks(engine: Engine, message_id: int) -> int:
    """Clicks the writer stored for the bench message (from the rollup: no scan)."""
    with engine.connect() as conn:
        total = conn.execute(
            sa.text("SELECT COALESCE(SUM(clicks_total), 0) FROM link_stats WHERE message_id = :m"),
            {"m": message_id},
        ).scalar_one()
    return int(total)


def fill(engine: Engine, n_clicks: int, n_deliveries: int) -> tuple[int, int]:
    """Create the workspace, message, links, people, deliveries and clicks; return ids."""
    name = _name(n_clicks, n_deliveries)
    found = _existing(engine, name)
    if found and _stored_clicks(engine, found[1]) >= n_clicks:
        print(f"fill: reusing the store filled earlier ({name})")
        return found
    if found:  # a fill that was stopped part way: set it aside, fill again
        print(f"fill: an earlier fill of {name} stopped at "
              f"{_stored_clicks(engine, found[1]):,} clicks; filling again")  # fmt: skip
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE workspaces SET name = :n WHERE id = :id"),
                         {"n": f"{name}-unfinished-{found[0]}", "id": found[0]})  # fmt: skip
    rng = random.Random(42)
    ws = store.create_workspace(engine, name)
    m = store.create_message(engine, ws.id, kind="newsletter", channel="email", name="Bench")
    link_ids = store.resolve_links(
        engine,
        m.id,
        [
            (f"url:https://example.com/page-{i}", f"https://example.com/page-{i}", None)
            for i in range(N_LINKS)
        ],
    )
    start = time.time() - DAYS * 86400
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(people),
            [
                {
                    "workspace_id": ws.id,
                    "cio_id": f"b{ws.id}x{i:08d}",
                    "external_id": f"u{i}",
                    "email": f"u{i}@example.com",
                    "attributes": {},
                    "created_at": start,
                    "updated_at": start,
                }
                for i in range(n_deliveries)
            ],
        )
        person_ids = (
            conn.execute(
                sa.select(people.c.id).where(people.c.workspace_id == ws.id).order_by(people.c.id)
            )
            .scalars()
            .all()
        )
        delivery_ids = [f"bench{ws.id}-{i:08d}" for i in range(n_deliveries)]
        conn.execute(
            sa.insert(deliveries),
            [
                {
                    "id": d,
                    "workspace_id": ws.id,
                    "message_id": m.id,
                    "person_id": p,
                    "channel": "email",
                    "recipient": f"u{i}@example.com",
                    "subject": "Hi",
                    "settings": {},
                    "warnings": [],
                    "status": "sent",
                    "created_at": start,
                    "sent_at": start,
                }
                for i, (d, p) in enumerate(zip(delivery_ids, person_ids, strict=True))
            ],
        )
        conn.execute(
            sa.update(message_stats)
            .where(message_stats.c.message_id == m.id)
            .values(status_sent=n_deliveries)
        )
    print(f"fill: {n_deliveries:,} people and deliveries in {time.perf_counter() - t:.1f} s")

    # Clicks in time order over DAYS days; popular links and keen readers click more.
    weights = [1 / (i + 1) for i in range(N_LINKS)]
    chosen_links = rng.choices(link_ids, weights=weights, k=n_clicks)
    chosen = [rng.randrange(n_deliveries) for _ in range(n_clicks)]

    def encoded(lo: int, hi: int) -> list[bytes]:
        out = []
        for i in range(lo, hi):
            link = chosen_links[i]
            out.append(encode_event(
                "click", kid=ws.kid, delivery_id=delivery_ids[chosen[i]], link_id=link,
                position=link, href=f"https://example.com/page-{link}",
                ts=start + 60 + (DAYS * 86400 - 120) * i / n_clicks,
                ua=UAS[0 if rng.random() < 0.5 else rng.randrange(len(UAS))],
                ip="81.2.69.142", event_id=f"b{ws.id}-{i:09d}",
            ))  # fmt: skip
        return out

    # Encoded and stored a chunk at a time, the log forgetting what is stored: 10 M
    # encoded clicks at once would not fit in memory. Only the writer's time is counted.
    log = _ForgettingLog()
    writer = Writer(engine, log, consumer=f"bench-{ws.id}")
    done, took, shown = 0, 0.0, time.perf_counter()
    for lo in range(0, n_clicks, FILL_CHUNK):
        log.extend(encoded(lo, min(n_clicks, lo + FILL_CHUNK)))
        t = time.perf_counter()
        while n := writer.run_once(5000):
            done += n
        took += time.perf_counter() - t
        if time.perf_counter() - shown >= 10:  # minutes of filling: say how far it is
            shown = time.perf_counter()
            print(f"fill: {done:,} of {n_clicks:,} clicks stored, {done / took:,.0f} events/s, "
                  f"about {(n_clicks - done) * took / done:,.0f} s to go", flush=True)  # fmt: skip
    print(
        f"fill: writer stored {done:,} clicks in {took:.1f} s ({done / took:,.0f} events/s, "
        f"{writer.stats.synthetic_opens:,} synthetic opens)"
    )
    if engine.dialect.name == "postgresql":
        # Autovacuum's job (statistics, visibility map for index-only scans),
        # done by hand because a test server may run with autovacuum off.
        tables = "clicks, opens, deliveries, delivery_links, link_buckets, link_stats, people, links, messages, message_stats"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM ANALYZE {tables}")
    return ws.id, m.id


def newsletter_of(engine: Engine, ws_id: int, message_id: int) -> int:
    """The newsletter the bench message is the content of (made for a store filled before
    segments existed)."""
    with engine.begin() as conn:
        parent = conn.execute(
            sa.select(messages.c.parent_id).where(messages.c.id == message_id)
        ).scalar_one()
        if parent is not None:
            return int(parent)
        made = store.create_container(conn, ws_id, "newsletter", "Bench")
        conn.execute(
            sa.update(messages).where(messages.c.id == message_id).values(parent_id=made.id)
        )
        return made.id


def segment_checks(engine: Engine, ws_id: int, message_id: int) -> list[tuple[str, Rule]]:
    """A clicked_link segment over the newsletter's links with a wildcard, and an `or` of two."""
    newsletter = MessageRef("newsletter", newsletter_of(engine, ws_id, message_id))
    page_1 = ClickedLink(newsletter, "https://example.com/page-1*")
    page_2 = ClickedLink(newsletter, "https://example.com/page-2*")
    return [("page-1*", page_1), ("page-1* or page-2*", AnyOf((page_1, page_2)))]


def timed(fn: Callable[[], Any], runs: int = 7) -> float:
    fn()  # warm caches: the report runs on a live, warm database
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=100_000)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{os.path.join(tempfile.mkdtemp(), 'bench.db')}"
    migrate(url)
    engine = make_engine(url)
    ws_id, message_id = fill(engine, args.clicks, args.deliveries)
    with engine.connect() as conn:
        n = conn.execute(
            sa.select(sa.func.count()).select_from(clicks).where(clicks.c.message_id == message_id)
        ).scalar_one()
    now = time.time()
    label = f"{n:,} clicks"
    with engine.connect() as conn:
        checks: list[tuple[str, Callable[[], Any]]] = [
            ("message_metrics", lambda: store.message_metrics(conn, [message_id])),
            ("top_links", lambda: store.top_links(conn, [message_id])),
            (
                "link_series hours x168",
                lambda: store.link_series(conn, [message_id], "hours", 168, False, now),
            ),
            (
                "link_series hours x720 unique",
                lambda: store.link_series(conn, [message_id], "hours", 720, True, now),
            ),
            (
                "link_series days x30",
                lambda: store.link_series(conn, [message_id], "days", 30, False, now),
            ),
            (
                "link_series months x12",
                lambda: store.link_series(conn, [message_id], "months", 12, True, now),
            ),
        ]
        first = store.message_metrics(conn, [message_id])
        print(
            f"store: {engine.dialect.name}, clicked {first['clicked']:,} of {first['delivered']:,} "
            f"deliveries"
        )
        for name, fn in checks:
            print(f"metrics: {name} {label}: {timed(fn):.1f} ms")
    for name, rule in segment_checks(engine, ws_id, message_id):
        with engine.connect() as conn:
            count = store.segment_count(conn, ws_id, rule)
            middle = store.segment_page(conn, ws_id, rule, None, count // 2)[-1].id

            def counted(rule: Rule = rule) -> int:
                return store.segment_count(conn, ws_id, rule)

            def first_page(rule: Rule = rule) -> object:
                return store.segment_page(conn, ws_id, rule, None, 1000)

            def middle_page(rule: Rule = rule, middle: int = middle) -> object:
                return store.segment_page(conn, ws_id, rule, middle, 1000)

            print(
                f"segment {name}: {count:,} people; customer_count {timed(counted):.1f} ms, "
                f"first 1,000 members {timed(first_page):.1f} ms, "
                f"1,000 from the middle {timed(middle_page):.1f} ms ({label})"
            )
    engine.dispose()


if __name__ == "__main__":
    main()
