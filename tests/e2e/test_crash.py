"""kill -9 while clicks are being appended: every acknowledged click reaches the store once.

A child process appends click events to a FileEventLog from many concurrent
tasks and prints each event id only after `append` returned — the moment the
HTTP server would answer 302. The child is killed with SIGKILL mid-run, several
times; then the writer drains the log into SQLite.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from linktrack.adapters import store
from linktrack.adapters.eventlog import FileEventLog
from linktrack.adapters.store import make_engine, migrate
from linktrack.adapters.store.schema import clicks, link_stats
from linktrack.service.writer import Writer

CHILD = r"""
import asyncio, os, sys, time
from linktrack.adapters.eventlog import FileEventLog
from linktrack.core.events import encode_event

directory, kid, deliveries, links, tag = sys.argv[1:6]
deliveries, links = deliveries.split(","), [int(x) for x in links.split(",")]
log = FileEventLog(directory, segment_bytes=64 * 1024)  # small: rotate often
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"

async def worker(w):
    i = 0
    while True:
        event_id = f"{tag}-{w}-{i}"
        await log.append(encode_event(
            "click", kid=kid, delivery_id=deliveries[i % len(deliveries)],
            link_id=links[(w + i) % len(links)], href="https://example.com/", ts=time.time(),
            ua=UA, event_id=event_id))
        os.write(1, (event_id + "\n").encode())  # the 302 goes out now
        i += 1

async def main():
    await asyncio.gather(*(worker(w) for w in range(32)))

asyncio.run(main())
"""


def _run_and_kill(args: list[str], min_lines: int) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, env=os.environ.copy()
    )
    assert child.stdout is not None
    lines: list[str] = []
    enough = threading.Event()

    def pump() -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            lines.append(raw.decode().strip())
            if len(lines) >= min_lines:
                enough.set()
        enough.set()

    reader = threading.Thread(target=pump)
    reader.start()
    assert enough.wait(60), "the child printed too little"
    time.sleep(random.uniform(0, 0.05))  # land the kill at an arbitrary point
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join()
    return [line for line in lines if line]


def test_no_acknowledged_click_is_lost_or_counted_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    migrate(url)
    engine = make_engine(url)
    ws = store.create_workspace(engine, "crash")
    m = store.create_message(engine, ws.id, kind="campaign", channel="email")
    links = [
        store.resolve_link(engine, m.id, f"url:https://example.com/{i}", "https://example.com/")
        for i in range(5)
    ]
    ds = [
        store.create_delivery(
            engine,
            workspace_id=ws.id,
            message_id=m.id,
            channel="email",
            recipient=f"{i}@example.com",
            created_at=time.time() - 3600,
        )
        for i in range(50)
    ]
    logdir = tmp_path / "events"
    acknowledged: list[str] = []
    for round_ in range(3):  # kill, restart (torn-tail recovery), kill again
        acknowledged += _run_and_kill(
            [str(logdir), ws.kid, ",".join(ds), ",".join(map(str, links)), f"r{round_}"], 2000
        )
    assert len(acknowledged) == len(set(acknowledged)) >= 6000

    # The writer deletes segments it has checkpointed past: keep a copy to replay.
    shutil.copytree(logdir, tmp_path / "replay")
    log = FileEventLog(logdir)
    writer = Writer(engine, log)
    writer.drain()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(clicks.c.event_id)).scalars().all()
    assert len(stored) == len(set(stored))
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged clicks lost, e.g. {sorted(missing)[:3]}"

    def totals() -> tuple[int, int]:
        with engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(clicks)).scalar_one()
            rolled = conn.execute(sa.select(sa.func.sum(link_stats.c.clicks_total))).scalar_one()
        return n, int(rolled)

    first = totals()
    assert first[0] == first[1]
    replay = Writer(engine, FileEventLog(tmp_path / "replay", readonly=True))
    replay.reset_checkpoint()  # a second pass over the whole log, from the start
    assert replay.drain() >= len(acknowledged)
    assert replay.stats.clicks == 0
    assert totals() == first
    log.close()
    engine.dispose()
