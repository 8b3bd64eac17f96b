"""Writer throughput: events/s from a pre-filled log into the store, on one core.

    python benchmarks/writer_bench.py [--db URL] [--events 200000] [--deliveries 20000]
                                      [--webhooks N] [--runs 3]

A fresh store (a temporary SQLite file, or a fresh schema of the PostgreSQL
database given) gets one message with 40 links and `--deliveries` people and
deliveries; a MemoryEventLog is filled with `--events` clicks spread over them
(browser and scanner user agents, 30 days); then the real Writer drains it in
5,000-event batches and the time is taken. `--webhooks N` registers N
reporting webhooks that take every click and open, so each stored event also
queues N webhook events in the same transaction. Each run uses a fresh store;
the median is printed, e.g. `writer: sqlite 200,000 events, 0 webhooks: 9,800 events/s`.

To compare with an older writer, run this same file with that commit's code
first on the path: `PYTHONPATH=<worktree>/src python benchmarks/writer_bench.py`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid

import sqlalchemy as sa

from linktrack.adapters import store
from linktrack.adapters.eventlog import MemoryEventLog
from linktrack.adapters.store import make_engine, migrate
from linktrack.adapters.store.schema import deliveries, people
from linktrack.core.events import encode_event
from linktrack.service.writer import Writer

N_LINKS = 40
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)",
]


def _store(db: str | None) -> tuple[sa.Engine, str | None]:
    """A fresh store, and its PostgreSQL schema (dropped after the run)."""
    if db is None:
        path = tempfile.mkdtemp(prefix="writer-bench-")
        url, schema = f"sqlite:///{path}/w.db", None
    else:
        schema = f"wb_{uuid.uuid4().hex[:10]}"
        with sa.create_engine(db).begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{db}{'&' if '?' in db else '?'}options=-csearch_path%3D{schema}"
    migrate(url)
    return make_engine(url), schema


def _fill(engine: sa.Engine, n_deliveries: int, n_webhooks: int) -> tuple[list[str], list[int]]:
    ws = store.create_workspace(engine, "writer-bench")
    m = store.create_message(engine, ws.id, kind="newsletter", channel="email", name="Bench")
    link_ids = store.resolve_links(engine, m.id, [
        (f"url:https://example.com/p{i}", f"https://example.com/p{i}", None) for i in range(N_LINKS)
    ])  # fmt: skip
    start = time.time() - 30 * 86400
    ids = [f"wb{ws.id}-{i:08d}" for i in range(n_deliveries)]
    with engine.begin() as conn:
        conn.execute(sa.insert(people), [
            {"workspace_id": ws.id, "cio_id": f"w{i:08d}", "external_id": f"u{i}",
             "email": f"u{i}@example.com", "attributes": {}, "created_at": start,
             "updated_at": start} for i in range(n_deliveries)])  # fmt: skip
        pids = conn.execute(sa.select(people.c.id).order_by(people.c.id)).scalars().all()
        conn.execute(sa.insert(deliveries), [
            {"id": d, "workspace_id": ws.id, "message_id": m.id, "person_id": p,
             "channel": "email", "recipient": f"u{i}@example.com", "subject": "Hi",
             "settings": {}, "warnings": [], "status": "sent", "created_at": start,
             "sent_at": start} for i, (d, p) in enumerate(zip(ids, pids, strict=True))])  # fmt: skip
    if n_webhooks:
        for n in range(n_webhooks):
            store.create_webhook(engine, ws.id, "k" * 64, name=f"hook {n}",
                                 endpoint="https://127.0.0.1:9/hook", disabled=False,
                                 events=["email_clicked", "email_opened"])  # fmt: skip
    return ids, link_ids


def _log(n_events: int, ids: list[str], link_ids: list[int]) -> MemoryEventLog:
    rng = random.Random(7)
    log = MemoryEventLog()
    now = time.time()
    for _ in range(n_events):
        i = rng.randrange(N_LINKS)
        log.append_sync(encode_event(
            "click", kid=None, delivery_id=rng.choice(ids), link_id=link_ids[i],
            href=f"https://example.com/p{i}", ts=now - rng.uniform(0, 30 * 86400),
            ua=rng.choice(UAS), ip=f"203.0.113.{rng.randrange(256)}", method="GET",
        ))  # fmt: skip
    return log


def run(db: str | None, n_events: int, n_deliveries: int, n_webhooks: int) -> float:
    engine, schema = _store(db)
    ids, link_ids = _fill(engine, n_deliveries, n_webhooks)
    log = _log(n_events, ids, link_ids)
    writer = Writer(engine, log)
    t = time.perf_counter()
    stored = writer.drain(5000)
    elapsed = time.perf_counter() - t
    assert stored == n_events, (stored, n_events)
    engine.dispose()
    if db is not None:
        with sa.create_engine(db).begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    return n_events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--webhooks", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates = [run(args.db, args.events, args.deliveries, args.webhooks) for _ in range(args.runs)]
    kind = "postgresql" if args.db else "sqlite"
    print(f"writer: {kind} {args.events:,} events, {args.webhooks} webhooks: "
          f"{statistics.median(rates):,.0f} events/s (runs: "
          f"{', '.join(f'{r:,.0f}' for r in rates)})")  # fmt: skip


if __name__ == "__main__":
    main()
