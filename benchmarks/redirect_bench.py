"""Redirect benchmark: linktrack's click endpoint against nginx `return 302`, on loopback.

In one run, each server pinned to CPU 0 and wrk pinned to CPU 1 (`wrk -t1
-c64 --latency`, median of several passes):
  * nginx, one worker, `return 302` for every path (the ceiling: wrk is the limit);
  * `linktrack serve` on a fresh SQLite store, clicking ~40 real tracked links
    of an ad-hoc email, durable capture on (its normal mode);
  * linktrack again, paced to half of its measured maximum, for latency under
    a load it can hold;
then counts the clicks that reached the store against the redirects wrk saw.
With `--access-log both`, a second linktrack without its access log is measured
too, passes alternating with the first, and the ratio printed.
Usage: python benchmarks/redirect_bench.py [--duration 10] [--connections 64] [--passes 3]
                                           [--access-log on|off|both]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_paths.lua"
# The console script sits beside the interpreter running this file (the venv's).
LINKTRACK = Path(sys.executable).parent / "linktrack"
SERVER_CPU = "0"
LOAD_CPU = "1"
# wrk runs this much longer than the measured window; the Lua script stops
# sending at the window's end, so every request sent is answered and counted.
GRACE_S = 1
LINKS = 40
# Real clicks come from browsers: the server parses and stores this header.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
# Enough connections that each waits ~4 ms between its paced requests: the
# schedule then holds even when a response is slow, at 1 ms timer resolution.
PACED_HEADROOM_S = 0.004
# The writer commits a batch per transaction: a count this long unchanged is final.
STABLE_S = 15.0


def log(message: str) -> None:
    """Progress goes to stderr so stdout carries only the result lines."""
    print(f"[redirect_bench] {message}", file=sys.stderr, flush=True)


def find_binary(name: str) -> str | None:
    """`which`, also looking in sbin directories a non-login PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


def ensure_tools() -> tuple[str, str]:
    """Paths of wrk and nginx, installing the Debian packages when missing."""
    if not (find_binary("wrk") and find_binary("nginx")):
        log("installing wrk and nginx-light with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "wrk", "nginx-light"]
        # apt output to stderr: stdout is for results only.
        if subprocess.run(install, env=env, stdout=sys.stderr).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, stdout=sys.stderr, check=True)
            subprocess.run(install, env=env, stdout=sys.stderr, check=True)
    wrk, nginx = find_binary("wrk"), find_binary("nginx")
    if not (wrk and nginx):
        raise RuntimeError("wrk and nginx are still missing after apt-get install")
    return wrk, nginx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child in its own process group: stopping it also stops what it forked."""

    def __init__(
        self, name: str, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self.stopped = False
        with log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group, SIGKILL it if it lingers (children outlive a dead leader too)."""
        if self.stopped:
            return
        self.stopped = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=timeout)


def wait_http(process: Process, port: int, timeout: float = 60.0) -> None:
    """Until the server answers HTTP at all (the port opens before the app is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited early:\n{process.tail()}")
        with contextlib.suppress(OSError):
            http("GET", port, "/")
            return
        time.sleep(0.1)
    raise TimeoutError(f"{process.name} did not answer on port {port}:\n{process.tail()}")


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, port: int, path: str, body: Any = None, key: str | None = None) -> Response:
    """One request on a fresh connection; redirects are not followed."""
    headers = {"User-Agent": USER_AGENT}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float  # the measured window: wrk's run minus the idle grace
    status_errors: int  # responses >= 400 ("Non-2xx or 3xx responses")
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def redirects(self) -> int:
        return self.requests - self.status_errors


def run_wrk(
    wrk: str, url: str, paths: Path, duration: int, connections: int, rate: float = 0.0
) -> WrkResult:
    """One wrk pass through the Lua script; `rate` > 0 paces to that many req/s."""
    cmd = [
        "taskset", "-c", LOAD_CPU, wrk, "-t1", f"-c{connections}",
        f"-d{duration + GRACE_S}s", "--latency", "-H", f"User-Agent: {USER_AGENT}",
        "-s", str(WRK_SCRIPT), url, "--", str(paths), str(duration), f"{rate:.3f}",
    ]  # fmt: skip
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=duration + GRACE_S + 60, check=False
    )
    match = re.search(r"^WRK_RESULT (.*)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    fields = {k: int(v) for k, _, v in (item.partition("=") for item in match.group(1).split())}
    socket_errors = sum(
        fields[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return WrkResult(
        requests=fields["requests"],
        seconds=float(duration),
        status_errors=fields["status_errors"],
        socket_errors=socket_errors,
        p50_ms=fields["p50_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
    )


@dataclass(frozen=True)
class Summary:
    rate: float
    p50_ms: float
    p99_ms: float

    def line(self) -> str:
        return f"{self.rate:,.0f} req/s  p50 {self.p50_ms:.2f} ms  p99 {self.p99_ms:.2f} ms"


def measure(
    name: str, wrk: str, url: str, paths: Path, args: argparse.Namespace
) -> tuple[Summary, list[WrkResult]]:
    """Median of `--passes` full-speed passes (each metric's median on its own)."""
    results = []
    for n in range(1, args.passes + 1):
        result = run_wrk(wrk, url, paths, args.duration, args.connections)
        log(
            f"{name} pass {n}: {result.rate:,.0f} req/s  p50 {result.p50_ms:.2f} ms"
            f"  p99 {result.p99_ms:.2f} ms  (>=400: {result.status_errors},"
            f" socket errors: {result.socket_errors})"
        )
        results.append(result)
    return summary_of(results), results


def summary_of(results: Sequence[WrkResult]) -> Summary:
    """Each metric's median over the passes, on its own."""
    return Summary(
        rate=statistics.median(r.rate for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
    )


def start_nginx(nginx: str, workdir: Path) -> tuple[Process, int]:
    """nginx with one worker and its own prefix, answering every path with a 302."""
    prefix = workdir / "nginx"
    prefix.mkdir()
    port = free_port()
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # keepalive_requests: nginx closes a connection after 1000 requests by
    # default; wrk would then pay reconnects that linktrack's server never asks for.
    config = f"""worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    keepalive_requests 1000000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 302 https://example.com/; }}
    }}
}}
"""
    (prefix / "nginx.conf").write_text(config)
    process = Process(
        "nginx",
        ["taskset", "-c", SERVER_CPU, nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
         "-e", str(prefix / "error.log")],
        prefix / "stdout.log",
    )  # fmt: skip
    wait_http(process, port)
    return process, port


def nginx_paths(path: Path, links: int) -> None:
    """Paths as long as tracked links (~220 bytes): nginx ignores them, wrk sends as much."""
    payload = "eyJrIjoiYmVuY2htYXJrIiwiZCI6ImJlbmNobWFyay1kZWxpdmVyeSIsImgiOiJodHRwczovL2V4YW1wbGUu"
    lines = (f"/e/c/{payload}{'A' * 60}{i:04d}/{i:064x}\n" for i in range(links))
    path.write_text("".join(lines))


def start_linktrack(workdir: Path, access_log: bool = True) -> tuple[Process, int, str]:
    """`linktrack serve` on a fresh SQLite store, pinned (its writer process inherits it);
    its log, access lines and all, goes to server.log in `workdir`."""
    port = free_port()
    db = f"sqlite:///{workdir / 'store.db'}"
    public = f"http://127.0.0.1:{port}"
    process = Process(
        "linktrack serve",
        ["taskset", "-c", SERVER_CPU, str(LINKTRACK), "serve", "--db", db,
         "--data-dir", str(workdir / "data"), "--host", "127.0.0.1", "--port", str(port),
         "--public-url", public],
        workdir / "server.log",
        env={**os.environ, "LINKTRACK_ACCESS_LOG": "1" if access_log else "0"},
    )  # fmt: skip
    wait_http(process, port)
    return process, port, db


@dataclass(frozen=True)
class Email:
    app_key: str
    delivery_id: str
    links: list[tuple[str, str]]  # (tracked path, destination) in body order


def send_email(port: int, db: str) -> Email:
    """Create a workspace and send one ad-hoc email with LINKS distinct links."""
    public = f"http://127.0.0.1:{port}"
    created = subprocess.run(
        [str(LINKTRACK), "workspace", "create", "bench", "--json", "--db", db,
         "--public-url", public],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    app_key = json.loads(created.stdout)["app_api_key"]
    hrefs = [f"https://example.com/{i}" for i in range(1, LINKS + 1)]
    anchors = "".join(f'<p><a href="{href}">Link {i}</a></p>' for i, href in enumerate(hrefs))
    sent = http(
        "POST", port, "/v1/send/email", key=app_key,
        body={
            "to": "a@example.com", "from": "b@example.com", "subject": "benchmark",
            "identifiers": {"email": "a@example.com"},
            "body": f"<html><body>{anchors}</body></html>",
        },
    )  # fmt: skip
    if sent.status >= 300:
        raise RuntimeError(f"send failed: {sent.status} {sent.body!r}")
    delivery_id = str(sent.json()["delivery_id"])
    body = read_delivery(port, app_key, delivery_id)["body"]
    prefix = f"{public}/e/c/"
    urls = [u for u in re.findall(r'href="([^"]+)"', body) if u.startswith(prefix)]
    if len(urls) != LINKS:
        raise RuntimeError(f"expected {LINKS} tracked links, found {len(urls)} in:\n{body}")
    # Links are rewritten in place, so the n-th tracked URL stands for the n-th href.
    links = [(url[len(public) :], href) for url, href in zip(urls, hrefs, strict=True)]
    return Email(app_key, delivery_id, links)


def read_delivery(port: int, app_key: str, delivery_id: str) -> dict[str, Any]:
    got = http("GET", port, f"/v1/deliveries/{delivery_id}", key=app_key)
    if got.status != 200:
        raise RuntimeError(f"reading delivery {delivery_id}: {got.status} {got.body!r}")
    return dict(got.json()["delivery"])


def same_destination(location: str, href: str) -> bool:
    """`location` is `href`, give or take tracking parameters the workspace adds (`_cio_id`)."""
    got, want = urlsplit(location), urlsplit(href)
    return got[:3] == want[:3] and set(parse_qsl(want.query)) <= set(parse_qsl(got.query))


def check_redirects(port: int, links: Sequence[tuple[str, str]]) -> int:
    """Each tracked path answers 302 to its own destination; returns the redirects made."""
    for path, href in links:
        resp = http("GET", port, path)
        location = resp.headers.get("location", "")
        if resp.status != 302 or not same_destination(location, href):
            raise RuntimeError(
                f"GET {path}: expected 302 to {href}, got {resp.status} {location!r}"
            )
    return len(links)


def count_clicks(db_file: Path, expected: int, timeout: float = 900.0) -> int:
    """Rows in `clicks`, polled read-only until `expected`, stable for a while, or `timeout`."""
    uri = f"file:{db_file}?mode=ro"
    started = time.monotonic()
    last, changed_at, reported_at = -1, started, started
    while True:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            count = int(conn.execute("SELECT count(*) FROM clicks").fetchone()[0])
        now = time.monotonic()
        if count != last:
            last, changed_at = count, now
        if count == expected or now - changed_at >= STABLE_S or now - started >= timeout:
            log(f"clicks in the store: {count} after {now - started:.1f} s of waiting")
            return count
        if now - reported_at >= 5:
            log(f"waiting for the writer: {count} of {expected} clicks stored")
            reported_at = now
        time.sleep(0.25)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=positive, default=10, help="seconds per pass")
    parser.add_argument("--connections", type=positive, default=64)
    parser.add_argument("--passes", type=positive, default=3)
    parser.add_argument(
        "--access-log", choices=("on", "off", "both"), default="on",
        help="linktrack's access log (on by default, as serve runs); both: also measure "
        "a second server without it, passes alternating, and print the ratio",
    )  # fmt: skip
    args = parser.parse_args(argv)

    # SIGTERM must unwind through the cleanup too, or the servers outlive us.
    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    wrk, nginx = ensure_tools()
    # Other work on the box skews both servers: say so next to the numbers.
    log(f"load average before the run: {load_average()}")

    with contextlib.ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="redirect-bench-")))

        paths = workdir / "nginx-paths.txt"
        nginx_paths(paths, LINKS)
        nginx_server, port = start_nginx(nginx, workdir)
        cleanup.callback(nginx_server.stop)
        ngx, _ = measure("nginx", wrk, f"http://127.0.0.1:{port}", paths, args)
        nginx_server.stop()
        # Each line as soon as it is known: a later failure keeps what was measured.
        print(f"nginx return 302: {ngx.line()}", flush=True)

        lt = Linktrack.start(workdir, access_log=args.access_log != "off")
        cleanup.callback(lt.process.stop)
        ok = True
        if args.access_log == "both":
            off = Linktrack.start(workdir / "no-access-log", access_log=False)
            cleanup.callback(off.process.stop)
            compare_access_log(wrk, lt, off, args)
            ok = off.check_stored(" (no access log)")
            off.process.stop()
        summary, passes = measure("linktrack", wrk, lt.url, lt.paths, args)
        lt.runs += passes
        print(f"linktrack redirect (durable capture): {summary.line()}")
        # Three places: two would print 0.247 as 0.25, over a bar it does not reach.
        print(f"ratio: linktrack / nginx = {summary.rate / ngx.rate:.3f}", flush=True)

        target = summary.rate / 2
        paced_connections = max(args.connections, math.ceil(target * PACED_HEADROOM_S))
        half = run_wrk(wrk, lt.url, lt.paths, args.duration, paced_connections, rate=target)
        lt.runs.append(half)
        log(f"linktrack paced over {paced_connections} connections")
        print(
            f"linktrack at {target:,.0f} req/s (half of max): p50 {half.p50_ms:.2f} ms"
            f"  p99 {half.p99_ms:.2f} ms  (achieved {half.rate:,.0f} req/s)",
            flush=True,
        )
        ok = lt.check_stored() and ok
        log(f"load average after the run: {load_average()}")
        return 0 if ok else 1


@dataclass
class Linktrack:
    """A `linktrack serve` under test: its email's links and the passes run against it."""

    process: Process
    port: int
    workdir: Path
    email: Email
    paths: Path
    redirects: int  # made outside wrk, by the checks
    runs: list[WrkResult]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workdir: Path, *, access_log: bool) -> Linktrack:
        workdir.mkdir(exist_ok=True)
        process, port, db = start_linktrack(workdir, access_log)
        email = send_email(port, db)
        redirects = check_redirects(port, email.links)
        paths = workdir / "linktrack-paths.txt"
        paths.write_text("".join(f"{path}\n" for path, _ in email.links))
        return cls(process, port, workdir, email, paths, redirects, [])

    def stored(self) -> int:
        """Clicks in the store once the writer has stored every redirect made so far
        (or its count stopped moving)."""
        redirects = self.redirects + sum(r.redirects for r in self.runs)
        return count_clicks(self.workdir / "store.db", redirects)

    def check_stored(self, label: str = "") -> bool:
        """Still healthy after the load, and every redirect wrk saw is a stored click."""
        if not self.process.alive():
            raise RuntimeError(f"linktrack died under load:\n{self.process.tail()}")
        self.redirects += check_redirects(self.port, self.email.links[:1])
        read_delivery(self.port, self.email.app_key, self.email.delivery_id)
        redirects = self.redirects + sum(r.redirects for r in self.runs)
        recorded = self.stored()
        print(f"clicks recorded{label}: {recorded} of {redirects} redirects", flush=True)
        errors = sum(r.status_errors + r.socket_errors for r in self.runs)
        if errors:
            log(f"linktrack answered {errors} requests with >= 400 or a socket error")
        if recorded != redirects or errors:
            log(f"server log (tail):\n{self.process.tail()}")
        return recorded == redirects and not errors


def compare_access_log(wrk: str, on: Linktrack, off: Linktrack, args: argparse.Namespace) -> None:
    """Full-speed passes alternating between a server logging each request and one not,
    each pass once both writers have stored every click (a writer storing a backlog
    shares the pinned core, and would weigh on whichever pass came next)."""
    results: dict[str, list[WrkResult]] = {"on": [], "off": []}
    for n in range(1, args.passes + 1):
        for name, server in (("on", on), ("off", off)):
            on.stored()
            off.stored()
            result = run_wrk(wrk, server.url, server.paths, args.duration, args.connections)
            server.runs.append(result)
            results[name].append(result)
            log(f"access log {name} pass {n}: {result.rate:,.0f} req/s"
                f"  p99 {result.p99_ms:.2f} ms")  # fmt: skip
    with_log, without = summary_of(results["on"]), summary_of(results["off"])
    lines = sum(1 for line in (on.workdir / "server.log").open() if "linktrack.access" in line)
    print(f"access log on:  {with_log.line()}  ({lines:,} access lines written)")
    print(f"access log off: {without.line()}")
    print(f"ratio: access log on / off = {with_log.rate / without.rate:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
