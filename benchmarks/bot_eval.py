"""Replay a labelled bot/human trace against a real `linktrack serve`; score its verdicts.

    .venv/bin/python benchmarks/bot_eval.py [--deliveries 300] [--seed 1]

It starts `linktrack serve` on a temporary SQLite store (a free loopback port,
`LINKTRACK_TRUST_PROXY=1`, so `X-Forwarded-For` is each click's address),
creates a workspace, sends each delivery of `bot_traces.generate` through the
API, clicks each trace item's tracked link with its method, user agent and
address, waits for the writer, and reads back every click's verdict
(`/v1/exports/clicks.csv`) and each message's `human_clicked`
(`/v1/transactional/{id}/metrics`). It prints, per category and overall,
"machine" precision and recall and the human clicked series error.

Time. The verdicts use seconds since the delivery's `sent_at`, and a trace
spans days, so the replay runs in compressed time. The sends use an SMTP relay
where nothing listens, so deliveries stay queued without a `sent_at`; a Track
API `delivered` report (`POST /api/v1/metrics` with a timestamp) then sets it,
just before the delivery's first replayed click, to that click's time minus
its age. Each delivery's clicks are replayed in order at offsets `r` from that
`sent_at` (the trace's ages `a`, sorted):

* r = a while a <= HORIZON (15 s): the first seconds after delivery are
  replayed in real time, so every click's age is exact there;
* after that, each gap between consecutive clicks is kept when <= GAP (3 s)
  and replaced by GAP when longer, and no click is replayed before HORIZON.

So: a click truly younger than HORIZON has its exact age, and one older is
replayed at an age >= HORIZON (exactly its age when it is the delivery's first
click). Any rule on "age < T" for T <= HORIZON (`too_fast`: 10 s today, the
2 s peers use) is judged exactly as on the real trace. Every relation "within
w seconds" between two clicks of a delivery, for w < GAP (`burst`'s 2 s, a
time-of-click pair's ~1.5 s), is exact too: gaps <= GAP are kept, and longer
ones stay longer than w. Rules on user agent, method or address do not depend
on time. What the replay cannot evaluate: absolute ages above HORIZON for a
delivery's later clicks (e.g. "a detonation 30–120 s after delivery" when an
earlier click exists), and spans longer than GAP (e.g. a revision window of
minutes between an actor's first and last click). The simpler scheme (anchor
on the first click, compress every gap) would replay a reader clicking hours
after a gateway's sweep a few seconds after delivery, and flag them too fast.

Deliveries run concurrently on a few threads (each delivery pinned to one, so
its clicks keep their order); the lateness of the replay against its schedule
is printed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import heapq
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bot_traces
from bot_traces import HUMAN, MACHINE, Click, Trace

HORIZON: Final = 15.0  # seconds after delivery replayed in real time
GAP: Final = 3.0  # longer gaps between a delivery's clicks are replayed as this
LEAD: Final = 0.3  # the `delivered` report goes this long before the first click
THREADS: Final = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def replay_offsets(ages: list[float]) -> list[float]:
    """A delivery's click offsets from its replayed `sent_at` (ages sorted; see the docstring)."""
    out: list[float] = []
    for i, age in enumerate(ages):
        if i == 0 or age <= HORIZON:
            out.append(age)
        else:
            out.append(max(HORIZON, out[-1] + min(age - ages[i - 1], GAP)))
    return out


class Api:
    """JSON over one keep-alive connection (one per thread)."""

    IDLE: Final = 2.0  # reconnect after this long unused: the server closes idle ones (5 s)

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers
        self.used = time.monotonic()

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Any:
        if time.monotonic() - self.used > self.IDLE:  # never race the server's idle close
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        self.used = time.monotonic()
        return resp

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        resp = self._request(method, path, data, headers)
        raw = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return (
            json.loads(raw) if raw and resp.getheader("content-type", "").endswith("json") else raw
        )

    def click(self, path: str, c: Click) -> int:
        headers = {"User-Agent": c.user_agent, "X-Forwarded-For": c.ip}
        resp = self._request(c.method, path, None, headers)
        resp.read()
        return int(resp.status)


@dataclass
class Server:
    """`linktrack serve` on a temporary SQLite store; `stop()` ends its process group."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> str:
        return f"sqlite:///{self.workdir / 'eval.db'}"

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "linktrack.entrypoints.cli", *args, "--db", self.db,
                "--public-url", self.url]  # fmt: skip

    def start(self) -> None:
        env = {**os.environ, "LINKTRACK_TRUST_PROXY": "1"}
        # Nothing listens on this port: email deliveries stay queued, with no sent_at.
        args = ["serve", "--port", str(self.port), "--data-dir", str(self.workdir / "data"),
                "--smtp", f"smtp://127.0.0.1:{free_port()}"]  # fmt: skip
        with (self.workdir / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(self.cli(*args), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True, env=env)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log_tail()}")
            with contextlib.suppress(OSError, RuntimeError):
                Api(self.port, {}).call("GET", "/readyz")
                return
            time.sleep(0.1)
        raise TimeoutError(f"serve did not get ready: {self.log_tail()}")

    def workspace(self) -> dict[str, Any]:
        out = subprocess.run(self.cli("workspace", "create", "bot-eval", "--json"),
                             capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
        return dict(json.loads(out.stdout))

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-20:]) if path.exists() else ""
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


@dataclass
class Sent:
    """The deliveries as linktrack knows them: ids, tracked paths, messages."""

    delivery_ids: list[str]
    paths: list[list[str]]  # per delivery, the tracked link paths in body order
    messages: dict[str, int]  # scenario → transactional message id


_CLICK_PATH: Final = re.compile(r"https?://[^/\"]+(/e/c/[^\"]+)")


def send_all(api: Api, trace: Trace) -> Sent:
    """One transactional message per scenario; one send per delivery."""
    messages = {}
    for scenario, (links, _, _) in bot_traces.SCENARIOS.items():
        body = "".join(f'<p><a href="https://example.com/{scenario}/{i}">link {i}</a></p>'
                       for i in range(links))  # fmt: skip
        answer = api.call("POST", "/v1/transactional", {
            "name": scenario, "subject": scenario, "from": "eval@example.com", "body": body,
        })  # fmt: skip
        messages[scenario] = int(answer["transactional_message"]["id"])
    ids, paths = [], []
    for d in trace.deliveries:
        answer = api.call("POST", "/v1/send/email", {
            "transactional_message_id": messages[d.scenario],
            "identifiers": {"email": f"r{d.index}@example.com"},
        })  # fmt: skip
        ids.append(answer["delivery_id"])
        body = api.call("GET", f"/v1/deliveries/{ids[-1]}")["delivery"]["body"]
        found = _CLICK_PATH.findall(body)
        if len(found) != d.links:
            raise RuntimeError(f"delivery {ids[-1]}: {len(found)} tracked links, {d.links} sent")
        paths.append(found)
    return Sent(ids, paths, messages)


@dataclass(order=True)
class Step:
    at: float  # time.time() to act at
    seq: int
    kind: str = field(compare=False)  # "delivered" | "click"
    delivery: int = field(compare=False)
    click: Click | None = field(compare=False, default=None)
    sent_at: float = field(compare=False, default=0.0)


def schedule(trace: Trace, start: float, spread: float) -> list[Step]:
    """Every report and click of the replay, at its wall time (see the module docstring)."""
    by_delivery: dict[int, list[Click]] = defaultdict(list)
    for c in trace.clicks:
        by_delivery[c.delivery].append(c)
    steps: list[Step] = []
    count = max(1, len(trace.deliveries))
    for d, clicks in sorted(by_delivery.items()):
        clicks.sort(key=lambda c: c.age)
        offsets = replay_offsets([c.age for c in clicks])
        first = start + spread * (d % count) / count  # spread the first clicks evenly
        sent_at = first - offsets[0]
        steps.append(Step(first - LEAD, len(steps), "delivered", d, sent_at=sent_at))
        for c, r in zip(clicks, offsets, strict=True):
            steps.append(Step(sent_at + r, len(steps), "click", d, c))
    return steps


def replay(port: int, track_auth: str, sent: Sent, steps: list[Step]) -> float:
    """Run the steps, each delivery's on one thread in order; return the worst lateness (s)."""
    lanes: list[list[Step]] = [[] for _ in range(THREADS)]
    for s in steps:
        lanes[s.delivery % THREADS].append(s)
    late = [0.0] * THREADS
    errors: list[BaseException] = []

    def run(lane: int) -> None:
        api = Api(port, {"Authorization": f"Basic {track_auth}"})
        heap = list(lanes[lane])
        heapq.heapify(heap)
        try:
            while heap:
                s = heapq.heappop(heap)
                if (wait := s.at - time.time()) > 0:
                    time.sleep(wait)
                late[lane] = max(late[lane], time.time() - s.at)
                if s.kind == "delivered":
                    api.call("POST", "/api/v1/metrics", {"delivery_id": sent.delivery_ids[s.delivery],
                             "metric": "delivered", "timestamp": s.sent_at})  # fmt: skip
                else:
                    assert s.click is not None
                    status = api.click(sent.paths[s.delivery][s.click.link], s.click)
                    if status != 302:
                        raise RuntimeError(f"click answered {status}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return max(late)


def read_verdicts(api: Api, expected: int, timeout: float = 120.0) -> list[dict[str, str]]:
    """The click export once the writer has stored every replayed click."""
    deadline = time.monotonic() + timeout
    while True:
        raw = api.call("GET", "/v1/exports/clicks.csv")
        rows = list(csv.DictReader(io.StringIO(raw.decode())))
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def match(trace: Trace, sent: Sent, rows: list[dict[str, str]]) -> list[bool | None]:
    """Each trace click's stored verdict (None: not stored), matched by delivery, link
    path, method, user agent and address, in time order."""
    stored: dict[tuple[str, ...], list[bool]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: float(r["ts"])):
        key = (row["delivery_id"], row["href"].split("?")[0], row["method"], row["user_agent"],
               row["ip"])  # fmt: skip
        stored[key].append(row["machine"] == "True")
    out: list[bool | None] = []
    for c in trace.clicks:
        d = trace.deliveries[c.delivery]
        href = f"https://example.com/{d.scenario}/{c.link}"
        key = (sent.delivery_ids[c.delivery], href, c.method, c.user_agent, c.ip)
        out.append(stored[key].pop(0) if stored[key] else None)
    return out


def human_truth(trace: Trace) -> Counter[str]:
    """Per scenario: deliveries with at least one human click."""
    humans = {c.delivery for c in trace.clicks if c.label == HUMAN}
    return Counter(trace.deliveries[d].scenario for d in humans)


def category_rows(trace: Trace, judged: list[bool | None]) -> list[tuple[str, str, int, int, str]]:
    """(category, label, clicks, judged machine, effect) per category, in CATEGORIES order."""
    clicks: Counter[str] = Counter()
    machine: Counter[str] = Counter()
    for c, verdict in zip(trace.clicks, judged, strict=True):
        clicks[c.category] += 1
        machine[c.category] += bool(verdict)
    rows = []
    for category, label in bot_traces.CATEGORIES.items():
        n, m = clicks[category], machine[category]
        effect = f"TP {m}, FN {n - m}" if label == MACHINE else f"FP {m}"
        rows.append((category, label, n, m, effect))
    return rows


def report(trace: Trace, judged: list[bool | None], human: dict[str, int]) -> list[str]:
    """The printed table: clicks per category, human clicked per message, overall."""
    lines = [f"{'category':<22} | {'label':<7} | {'clicks':>6} | {'judged machine':>14} | effect"]
    for category, label, n, m, effect in category_rows(trace, judged):
        lines.append(f"{category:<22} | {label:<7} | {n:>6} | {m:>14} | {effect}")
    truth = human_truth(trace)
    lines += ["", f"{'message':<22} | {'deliveries':>10} | {'human clicked truth':>19} | "
              f"{'counted':>7} | error"]  # fmt: skip
    deliveries = Counter(d.scenario for d in trace.deliveries)
    for scenario in bot_traces.SCENARIOS:
        t, h = truth[scenario], human[scenario]
        lines.append(f"{scenario:<22} | {deliveries[scenario]:>10} | {t:>19} | {h:>7} | "
                     f"{_error(h, t)}")  # fmt: skip
    tp = sum(1 for c, v in zip(trace.clicks, judged, strict=True) if v and c.label == MACHINE)
    fp = sum(1 for c, v in zip(trace.clicks, judged, strict=True) if v and c.label == HUMAN)
    fn = sum(1 for c, v in zip(trace.clicks, judged, strict=True) if not v and c.label == MACHINE)
    total_t, total_h = sum(truth.values()), sum(human.values())
    over = sum(max(0, human[s] - truth[s]) for s in bot_traces.SCENARIOS)
    under = sum(max(0, truth[s] - human[s]) for s in bot_traces.SCENARIOS)
    lines += ["", f"clicks {len(trace.clicks)}: TP {tp}, FP {fp}, FN {fn}, "
              f"TN {len(trace.clicks) - tp - fp - fn}; human clicked {total_h} of truth {total_t}",
              f"machine precision {_ratio(tp, tp + fp)} recall {_ratio(tp, tp + fn)}; "
              f"human clicked series error {_error(total_h, total_t)} "
              f"(messages over: +{over}, under: -{under})"]  # fmt: skip
    return lines


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def _error(counted: int, truth: int) -> str:
    return f"{(counted - truth) / truth * 100:+.0f} %" if truth else f"{counted:+d} (truth 0)"


def evaluate(args: argparse.Namespace, workdir: Path) -> list[str]:
    trace = bot_traces.generate(args.deliveries, args.seed)
    server = Server(workdir)
    try:
        server.start()
        ws = server.workspace()
        app = Api(server.port, {"Authorization": f"Bearer {ws['app_api_key']}"})
        began = time.monotonic()
        sent = send_all(app, trace)
        sending = time.monotonic() - began
        track = base64.b64encode(f"{ws['site_id']}:{ws['track_api_key']}".encode()).decode()
        steps = schedule(trace, time.time() + 1.0, args.spread)
        began = time.monotonic()
        late = replay(server.port, track, sent, steps)
        replaying = time.monotonic() - began
        rows = read_verdicts(app, len(trace.clicks))
        judged = match(trace, sent, rows)
        if None in judged or len(rows) != len(trace.clicks):
            raise RuntimeError(f"{len(rows)} clicks stored of {len(trace.clicks)} replayed")
        human = {s: int(app.call("GET", f"/v1/transactional/{m}/metrics")["metric"]["human_clicked"])
                 for s, m in sent.messages.items()}  # fmt: skip
    finally:
        server.stop()
    return [
        f"trace: seed {args.seed}, {len(trace.deliveries)} deliveries, {len(trace.clicks)} clicks; "
        f"sent in {sending:.1f} s, replayed in {replaying:.1f} s (latest step {late * 1000:.0f} ms "
        f"behind schedule; horizon {HORIZON:g} s, gaps over {GAP:g} s as {GAP:g} s)",
        "",
        *report(trace, judged, human),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300, help="sends in the trace (300)")
    parser.add_argument("--seed", type=int, default=1, help="the trace's seed (1)")
    parser.add_argument("--spread", type=float, default=10.0,
                        help="seconds over which the deliveries' first clicks start (10)")  # fmt: skip
    args = parser.parse_args()
    # SIGTERM unwinds through the finally that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bot-eval-") as tmp:
        print("\n".join(evaluate(args, Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
