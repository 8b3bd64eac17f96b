"""Dashboard page load times on a store of N clicks (issue 12: every page < 300 ms at 1 M).

    python benchmarks/ui_bench.py [--db URL] [--clicks 1000000] [--deliveries 100000] [--requests 20]

The store is metrics_bench.py's (one newsletter, ~40 links, filled by the real
writer; a store filled earlier for the same sizes is reused), served by a real
`linktrack serve`. A dashboard user of the bench workspace logs in as a
browser does (the login form's CSRF token, then the session cookie), and
each page is fetched over one keep-alive connection: once to warm it, then
`--requests` times. The message report and person pages are the first ones
the Messages and People pages link to (else the bench's newsletter and its
first person). Prints one line per page, e.g.
`ui: /ui/messages 1,000,000 clicks: median 12.3 ms, p95 15.0 ms (200, 20 requests)`,
or `not built` for a page that answers 404.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.adapters.store import make_engine, migrate
from linktrack.adapters.store.schema import clicks
from linktrack.core.segments import ClickedLink, MessageRef
from linktrack.service.accounts import Accounts
from metrics_bench import fill, newsletter_of

PASSWORD = "ui bench password"  # the bench user's, on a bench store only
BUDGET_MS = 300.0


def bench_user(engine: sa.Engine, ws_id: int) -> str:
    """The bench workspace's dashboard login (made once per store)."""
    email = f"ui-bench-{ws_id}@example.com"
    if store.user_by_email(engine, email) is None:
        Accounts(engine).create(ws_id, email, PASSWORD)
    return email


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(db: str, workdir: Path) -> Iterator[str]:
    """`linktrack serve` on the bench store; its URL until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "linktrack.entrypoints.cli", "serve", "--db", db,
            "--data-dir", str(workdir / "data"), "--port", str(port), "--public-url", url,
            "--no-access-log"]  # fmt: skip
    log = workdir / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("serve did not get ready")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def log_in(client: httpx.Client, email: str) -> None:
    form = client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError(f"no login form at /ui/login ({form.status_code})")
    done = client.post("/ui/login", data={"email": email, "password": PASSWORD,
                                          "csrf_token": token.group(1)})  # fmt: skip
    if done.status_code != 303:
        raise RuntimeError(f"the bench user cannot log in: {done.status_code} {done.text[:300]}")


def first_link(client: httpx.Client, page: str, pattern: str) -> str | None:
    """The first link on `page` whose path matches `pattern` (None if the page is not built)."""
    answer = client.get(page)
    found = re.search(rf'href="({pattern})"', answer.text) if answer.status_code == 200 else None
    return found.group(1) if found else None


def pages(client: httpx.Client, newsletter_id: int, cio_id: str, segment_id: int) -> list[str]:
    """The dashboard's pages, the report, who-clicked and person pages found as a user
    finds them."""
    report = first_link(client, "/ui/messages", r"/ui/messages/[a-z_]+/\d+")
    report = report or f"/ui/messages/newsletter/{newsletter_id}"
    clickers = first_link(client, report, r"/ui/people\?clicked_link=\d+")
    person = first_link(client, "/ui/people", r"/ui/people/[A-Za-z0-9_-]+")
    return [
        "/ui/messages",
        "/ui/messages?machine=1",
        report,
        f"{report}?period=hours",
        f"{report}/clickmap",
        f"{report}/settings",
        clickers or "/ui/people?clicked_link=1",
        "/ui/people",
        person or f"/ui/people/{cio_id}",
        "/ui/segments",
        f"/ui/segments/{segment_id}",
        "/ui/settings",
    ]


def bench_segment(engine: Engine, ws_id: int, newsletter_id: int) -> int:
    """A segment of the newsletter's page-1 clickers (metrics_bench's first segment)."""
    rule = ClickedLink(MessageRef("newsletter", newsletter_id), "https://example.com/page-1*")
    return store.create_segment(engine, ws_id, "Bench: page-1 clickers", "", rule).id


def timed(client: httpx.Client, path: str, requests: int) -> str:
    """One page's line: median and p95 of `requests` GETs after a warming one."""
    first = client.get(path)
    if first.status_code == 404:
        return "not built (404)"
    samples = []
    for _ in range(requests):
        t = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        if answer.status_code != first.status_code:
            return f"answered {answer.status_code} after {first.status_code}"
    median = statistics.median(samples)
    p95 = (
        statistics.quantiles(samples, n=20, method="inclusive")[18]
        if len(samples) > 1
        else samples[0]
    )
    over = "" if p95 < BUDGET_MS else f", OVER the {BUDGET_MS:.0f} ms budget"
    return (f"median {median:.1f} ms, p95 {p95:.1f} ms "
            f"({first.status_code}, {requests} requests{over})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="timed GETs of each page")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    url = args.db or f"sqlite:///{workdir / 'bench.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        ws_id, message_id = fill(engine, args.clicks, args.deliveries)
        newsletter_id = newsletter_of(engine, ws_id, message_id)
        email = bench_user(engine, ws_id)
        segment_id = bench_segment(engine, ws_id, newsletter_id)
        with engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(clicks)
                             .where(clicks.c.message_id == message_id)).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    print(f"store: {url.split(':', 1)[0]}, {n:,} clicks of {args.deliveries:,} deliveries")
    with serving(url, workdir) as base, httpx.Client(base_url=base, timeout=60) as client:
        log_in(client, email)
        for path in pages(client, newsletter_id, f"b{ws_id}x{0:08d}", segment_id):
            print(f"ui: {path} {n:,} clicks: {timed(client, path, args.requests)}", flush=True)


if __name__ == "__main__":
    main()
