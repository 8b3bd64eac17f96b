"""A newsletter to N people, in process: how many deliveries per second a send job records.

    python benchmarks/newsletter_bench.py [--db URL] [--people 10000] [--batch 500] [--profile]

People are bulk-inserted; the send then runs exactly as `POST
/v1/newsletters/{id}/send` runs it (`BulkSends.run`: batches of people, compose
with one compiled message and one link table, one transaction per batch for
the deliveries and the job's progress). Prints the time, deliveries/s, and
the share of the time spent composing versus writing (`--profile`: cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import secrets
import tempfile
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.adapters.store import make_engine, migrate
from linktrack.adapters.store.schema import people
from linktrack.core.audience import parse_audience
from linktrack.service.bulk_sends import BulkSends
from linktrack.service.containers import Containers, NewContainer
from linktrack.service.keys import KeyStore
from linktrack.service.sending import Sender

BODY = """<!DOCTYPE html><html><body>
<h1>News for {{ customer.first_name }}</h1>
<p>This month: <a href="https://blog.example.com/post-1">a first post</a>,
<a href="https://blog.example.com/post-2?utm_content=list">a second one</a> and
<a href="https://shop.example.com/sale" data-cio-tag="sale">the sale</a>.</p>
<p><a href="https://example.com/unsubscribe" class="untracked">Unsubscribe</a></p>
</body></html>"""


def add_people(engine: Engine, workspace_id: int, n: int, **attributes: Any) -> list[str]:
    """Bulk-insert n people (ids p0…; emails p0@example.com…) and return their ids."""
    now = time.time()
    ids = [f"p{i}" for i in range(n)]
    rows = [
        {
            "workspace_id": workspace_id,
            "cio_id": secrets.token_hex(8),
            "external_id": pid,
            "email": f"{pid}@example.com",
            "attributes": {"first_name": pid.upper(), **attributes},
            "created_at": now,
            "updated_at": now,
        }
        for pid in ids
    ]
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(sa.insert(people), rows[start : start + 5000])
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/newsletter-bench.db"
    schema = None
    if url.startswith("postgresql"):
        # A schema of its own, dropped at the end: the database is left as found.
        schema = f"newsletter_bench_{secrets.token_hex(4)}"
        with make_engine(url).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url += f"{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    try:
        run(make_engine(url), args)
    finally:
        if schema:
            with make_engine(args.db).begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def run(engine: Engine, args: argparse.Namespace) -> None:
    migrate(engine)
    ws_id = store.create_workspace(engine, "bench", {"tracking_domain": "t.example.com"}).id
    ws = store.get_workspace(engine, ws_id)
    assert ws is not None
    ids = add_people(engine, ws_id, args.people)
    kinds = BulkSends(Containers(engine), Sender(engine, KeyStore(engine), has_transport={}), batch=args.batch)
    content = {"name": "News", "channel": "email", "subject": "News", "body": BODY,
               "tracked": True}  # fmt: skip
    created, _ = kinds.containers.create(ws, NewContainer("newsletter", "News", [content], {}))
    container = kinds.containers.get(ws, "newsletter", created.id)
    audience = parse_audience({"recipients": {"ids": ids}})
    job = store.create_job(engine, container, audience.summary)
    profile = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profile:
        profile.enable()
    done = kinds.run(job, ws, container, audience, {})
    if profile:
        profile.disable()
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:
        sent = store.message_metrics(conn, kinds.containers.message_ids(container))["sent"]
    print(
        f"newsletter: {args.people:,} people on {engine.dialect.name}: {elapsed:.2f} s, "
        f"{sent / elapsed:,.0f} deliveries/s (job {done.status}, sent {done.sent:,}, "
        f"metrics sent {sent:,})"
    )
    if profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
