"""Raw bytes over real sockets to `linktrack serve`: generated clicks, opens and short links.

The requests come from `benchmarks/fuzz_clicks.py` (the long run), drawn here
from Hypothesis's random source so a failure shrinks to a short connection:
valid, mutated and forged links, odd methods, versions and headers,
pipelining, and writes cut at random points. Nothing may answer a 5xx other
than 503, redirect anywhere the workspaces did not sign, answer a genuine
click out of order, or log an exception; a genuine click works afterwards.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from random import Random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import Server

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import fuzz_clicks  # noqa: E402  (a script beside the other benchmarks)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, fuzz_clicks.Site]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    server = Server(f"sqlite:///{tmp}/fuzz.db", tmp).start()
    try:
        yield server, fuzz_clicks.build_site(server.port, server.db_url, tmp / "fuzz.db")
    finally:
        server.stop()


def _exceptions(server: Server) -> int:
    """Tracebacks in the server's log, but for uvicorn's own writes to closed connections."""
    text = (server.data_dir / "server.log").read_text(errors="replace")
    return text.count("Traceback (most recent call last)") - text.count(fuzz_clicks.CLOSED_WRITE)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rng=st.randoms(use_true_random=False))
def test_raw_connections_never_crash_or_redirect_elsewhere(
    fuzzed: tuple[Server, fuzz_clicks.Site], rng: Random
) -> None:
    server, site = fuzzed
    inputs = fuzz_clicks.Inputs(site, rng)
    requests = inputs.connection()
    splits = inputs.splits(sum(len(r.data) for r in requests))
    got = asyncio.run(fuzz_clicks.exchange(site.port, requests, splits, pause=True))
    tally = fuzz_clicks.Tally()
    fuzz_clicks.check(site, requests, got, tally)
    assert not (tally.failed or tally.stalls), tally.samples
    assert _exceptions(server) == 0
    path, destination = site.clicks[rng.randrange(len(site.clicks))]
    after = fuzz_clicks.http("GET", site.port, path)
    assert (after.status, after.headers["location"]) == (302, destination)


def test_the_checks_catch_what_they_look_for(fuzzed: tuple[Server, fuzz_clicks.Site]) -> None:
    """A redirect elsewhere, a 500 and a genuine click answered wrongly are each counted."""
    _, site = fuzzed
    path, destination = site.clicks[0]
    click = fuzz_clicks.Request(
        "click", f"GET {path} HTTP/1.1\r\n\r\n".encode(), expect=destination
    )
    other = fuzz_clicks.Request("other", b"GET / HTTP/1.1\r\n\r\n")
    answers = [
        fuzz_clicks.Answer(302, [(b"location", b"https://evil.example/")], b""),
        fuzz_clicks.Answer(500, [], b""),
    ]
    tally = fuzz_clicks.Tally()
    fuzz_clicks.check(site, [click, other], fuzz_clicks.Exchange(answers), tally)
    assert (tally.open_redirects, tally.crashes, tally.wrong) == (1, 1, 1)
    assert tally.failed


def test_the_long_run_command_runs(tmp_path: Path) -> None:
    """`benchmarks/fuzz_clicks.py` end to end, with a tiny count (the README's figures are 1M)."""
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "fuzz_clicks.py"), "--requests", "3000",
         "--connections", "8", "--seed", "3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = f"stdout:\n{out.stdout}\nstderr:\n{out.stderr[-5000:]}"
    sent = re.search(r"^inputs sent: ([\d,]+) requests on ([\d,]+) connections", out.stdout, re.M)
    assert sent and int(sent.group(1).replace(",", "")) >= 3000, report
    statuses = re.search(r"^answers by status: (.*)$", out.stdout, re.M)
    assert statuses and "302 " in statuses.group(1) and "404 " in statuses.group(1), report
    for name in ("crashes", "open redirects", "wrong answers", "garbled answers"):
        assert re.search(rf"^{name}\b[^:]*: 0$", out.stdout, re.M), report
    assert re.search(r"^wall time: [\d.]+ s", out.stdout, re.M), report
    assert out.returncode == 0, report
