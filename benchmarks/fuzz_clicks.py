"""Fuzz the tracking endpoints over HTTP: mutated and forged clicks, opens and short links.

Starts `linktrack serve` on a fresh SQLite store, sends two workspaces' emails
(odd destinations, cio_link mailto:, an open pixel) and a shortened SMS, then
sends `--requests` generated requests over many concurrent raw connections:
valid links, links with bits flipped, cut, percent-encoded or padded, tokens
re-signed with the other workspace's key or the development key (to
`javascript:`, `data:`, `//evil`, CR/LF destinations), odd methods, versions
and headers, pipelining, and every write split at random points. It checks:

* crash: the server died, or answered a 5xx other than the documented 503;
* open redirect: a `Location` that is not one of the destinations the
  workspaces' keys signed (as the server writes it: `responses.location`), nor
  one of the dashboard's own pages (a path under `/ui/`);
* wrong answer: a well-formed click of a genuine link, in the part of a
  connection that was well framed, not answered 302 to its own destination
  (pipelined answers out of order show up here);
* garbled: an answer that is not HTTP/1.1.

Usage: python benchmarks/fuzz_clicks.py [--requests 1000000] [--seed 1] [--connections 32]
Prints inputs sent, answers by status and the counts above; exits 1 on any crash,
open redirect, wrong or garbled answer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from linktrack.entrypoints.cli.compose import DEV_SECRET
from linktrack.entrypoints.http.responses import location
from redirect_bench import LINKTRACK, Process, free_port, http, wait_http

REDIRECTABLE = ("https://", "http://", "mailto:", "tel:", "sms:")
# Destinations of the workspaces' own emails: each is a signed target.
HREFS = [
    "https://example.com/{n}", "https://example.com/ü/{n}?q=a b", "http://example.com/'{n}\"<x>",
    "https://example.com/a%20b/{n}", "HTTPS://EXAMPLE.com/{n}?x=1&y=2#frag",
    "https://example.com/{n}/\u2028tab\there", "https://example.com/{n}?reset=&amp;",
]  # fmt: skip
# What a forger wants a redirect to.
EVIL = [
    "https://evil.example/", "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x",
    "//evil.example/", "\\\\evil.example", " https://evil.example/", "\r\nhttps://evil.example/",
    "https://ok.example/\r\nLocation: https://evil.example/", "vbscript:x", "https:evil.example",
]  # fmt: skip
USER_AGENTS = [
    b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", b"", b"curl/8.0", b"\xff\xfe\x80 agent",
    b"Googlebot/2.1", b"a" * 3000,
]  # fmt: skip


def log(message: str) -> None:
    print(f"[fuzz_clicks] {message}", file=sys.stderr, flush=True)


# -- the site: a server with signed links -------------------------------------------------


@dataclass
class Site:
    """A running server's genuine links, the keys that signed them, and what they may answer."""

    port: int
    clicks: list[tuple[str, str]]  # (path, the Location its 302 must carry)
    opens: list[str]
    shorts: list[tuple[str, str]]  # (/lnk.code, Location)
    keys: dict[str, bytes]  # kid → secret, every workspace's
    signed: set[bytes] = field(default_factory=set)  # every Location a signed link may answer

    def __post_init__(self) -> None:
        self.signed = {loc.encode("ascii") for _, loc in self.clicks + self.shorts}


def payload_of(path: str) -> dict[str, Any]:
    """The JSON a tracking path carries (no key needed to read it)."""
    payload = path.split("/")[3]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _workspace(port: int, db: str, name: str) -> str:
    created = subprocess.run(
        [str(LINKTRACK), "workspace", "create", name, "--json", "--db", db,
         "--public-url", f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return str(json.loads(created.stdout)["app_api_key"])


def _sent_body(port: int, key: str, channel: str, fields: dict[str, Any]) -> str:
    sent = http("POST", port, f"/v1/send/{channel}", body=fields, key=key)
    if sent.status != 200:
        raise RuntimeError(f"send {channel}: {sent.status} {sent.body!r}")
    got = http("GET", port, f"/v1/deliveries/{sent.json()['delivery_id']}", key=key)
    return str(got.json()["delivery"]["body"])


def build_site(port: int, db: str, db_file: Path) -> Site:
    """Two workspaces' emails and one shortened SMS, sent through the API."""
    public = f"http://127.0.0.1:{port}"
    clicks: list[tuple[str, str]] = []
    opens: list[str] = []
    for name, links in (("fuzz-a", 20), ("fuzz-b", 5)):
        key = _workspace(port, db, name)
        anchors = "".join(
            f'<a href="{HREFS[n % len(HREFS)].format(n=n).replace(chr(34), "&quot;")}">{n}</a>'
            for n in range(links)
        )
        cio = "{% cio_link url:mailto:fuzz@example.com %} {% cio_link url:tel:+15550100 %}"
        body = _sent_body(port, key, "email", {
            "to": "f@example.com", "from": "s@example.com", "subject": "fuzz",
            "identifiers": {"email": "f@example.com"},
            "body": f"<html><body>{anchors}<p>{cio}</p></body></html>",
        })  # fmt: skip
        paths = [u[len(public) :] for u in re.findall(re.escape(public) + r"/e/c/[\w-]+/\w+", body)]
        clicks += [(p, location(payload_of(p)["h"]).decode("ascii")) for p in paths]
        opens += [
            u[len(public) :] for u in re.findall(re.escape(public) + r"/e/o/[\w-]+/\w+", body)
        ]
    http("PUT", port, "/v1/workspace/settings", key=key,
         body={"shorten_links": True, "short_domain": "sms.example"})  # fmt: skip
    sms = _sent_body(port, key, "sms", {"to": "+15550100", "identifiers": {"id": "p-1"},
                     "body": "a https://example.com/sms/1 b https://example.com/sms/2?x=ü"})  # fmt: skip
    shorts = []
    for code in re.findall(r"/lnk\.\w+", sms):
        got = http("GET", port, code)
        shorts.append((code, got.headers.get("location", "")))
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        keys = {kid: bytes.fromhex(secret) for kid, secret in conn.execute(
            "SELECT kid, secret FROM signing_keys")}  # fmt: skip
    if len(clicks) < 20 or not opens or len(shorts) != 2 or len(keys) != 2:
        raise RuntimeError(f"site incomplete: {len(clicks)} clicks, {opens}, {shorts}, {keys}")
    return Site(port, clicks, opens, shorts, keys)


# -- requests -------------------------------------------------------------------------------


@dataclass
class Request:
    """One generated request: its bytes and what its answer may be checked against."""

    kind: str  # click, open, short, other
    data: bytes
    head: bool = False
    expect: str | None = None  # the Location a genuine, well-formed click must get
    framed: bool = True  # well framed: the answers after it still line up with requests
    complete: bool = True  # the server has every byte of it (else it waits for more)


def _sign(secret: bytes, data: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
    return f"{payload.decode()}/{hmac.new(secret, payload, hashlib.sha256).hexdigest()}"


class Inputs:
    """Generates requests from a `random.Random` (the e2e test passes Hypothesis's)."""

    def __init__(self, site: Site, rng: random.Random) -> None:
        self.site = site
        self.rng = rng
        self.kids = sorted(site.keys)

    def forged(self) -> str:
        """A click token signed with a key that is not the one its kid names."""
        rng = self.rng
        kid = rng.choice([*self.kids, "dev", "unknown-kid", ""])
        if rng.random() < 0.3 and kid in self.site.keys:
            # The real key, to a destination the click path must refuse anyway.
            secret, href = (
                self.site.keys[kid],
                rng.choice([e for e in EVIL if not e.lower().startswith(REDIRECTABLE)]),
            )
        else:
            others = [s for k, s in self.site.keys.items() if k != kid]
            secret = rng.choice([*others, DEV_SECRET.encode(), b"guess"])
            href = rng.choice(EVIL)
        data = {"k": kid, "d": "dlv", "h": href, "l": rng.randrange(100), "p": 1}
        return "/e/c/" + _sign(secret, data)

    def mutated(self, path: str) -> str:
        """`path` changed the way a forger or a broken mail client changes it."""
        rng = self.rng
        at = rng.randrange(len(path))
        kind = rng.randrange(12)
        if kind == 0:
            return path[:at] + chr(ord(path[at]) ^ (1 << rng.randrange(7))) + path[at + 1 :]
        if kind == 1:
            return path[:at]
        if kind == 2:
            return path[:at] + rng.choice("=+/%.~!\"'<>\\ \t\x00\x7fé") + path[at:]
        if kind == 3:
            return path[:at] + f"%{ord(path[at]):02x}" + path[at + 1 :]  # same link, encoded
        if kind == 4:
            return path[:at] + "%" + rng.choice(["zz", "0", "", "%", "C3%28"]) + path[at:]
        if kind == 5:
            return path + rng.choice(["?x=1", "#frag", "/", "//", "?", "?h=javascript:x"])
        if kind == 6:
            return path.replace("/", "//", 1 + rng.randrange(3))
        if kind == 7:
            return path[:at] + path[at:].swapcase()
        if kind == 8:
            payload, _, signature = path[5:].partition("/")
            return f"/e/c/{payload}{'=' * rng.randrange(1, 4)}/{signature}"
        if kind == 9:
            return path.replace("-", "+").replace("_", "/")
        if kind == 10:
            return f"http://127.0.0.1:{self.site.port}{path}"  # absolute-form target
        return path.replace("/e/c/", rng.choice(["/e/o/", "/E/C/", "/e/c/x/", "/e/x/"]), 1)

    def target(self) -> tuple[str, str, str | None]:
        """(kind, request target, the Location a well-formed request of it must get)."""
        rng = self.rng
        roll = rng.random()
        site = self.site
        if roll < 0.25:
            path, loc = rng.choice(site.clicks)
            return "click", path, loc
        if roll < 0.45:
            return "click", self.mutated(rng.choice(site.clicks)[0]), None
        if roll < 0.55:
            return "click", self.forged(), None
        if roll < 0.65:
            path = rng.choice(site.opens)
            return "open", path if rng.random() < 0.5 else self.mutated(path), None
        if roll < 0.75:
            code, loc = rng.choice(site.shorts)
            if rng.random() < 0.5:
                return "short", code, loc
            return "short", self.mutated(code + "/")[:-1] or "/lnk.", None
        return "other", rng.choice(
            ["/", "/e/c/", "/e/c/a/b", "/e/o/x/y", "/lnk.", "/lnk.abcdefghjk", "/v1/workspace",
             "/openapi.json", "*", "/" + "x" * rng.randrange(20000), "/e/c/" + "A" * 9000 + "/0"]
        ), None  # fmt: skip

    def request(self, last: bool) -> Request:
        """One request; only the last of a connection may break framing or stay incomplete."""
        rng = self.rng
        kind, target, expect = self.target()
        method = b"GET"
        roll = rng.random()
        if roll < 0.15:
            method = b"HEAD"
        elif roll < 0.25:
            method = rng.choice([b"POST", b"PUT", b"OPTIONS", b"DELETE", b"get", b"PATCH"])
        version = b"HTTP/1.1" if rng.random() < 0.9 else rng.choice([b"HTTP/1.0", b"HTTP/1.2"])
        headers = [b"Host: t", b"User-Agent: " + rng.choice(USER_AGENTS)]
        if rng.random() < 0.2:
            headers.append(rng.choice([b"Connection: close", b"Connection: keep-alive",
                                       b"X-Forwarded-For: 203.0.113.9, ::1", b"Accept: */*",
                                       b"X-Big: " + b"b" * 17000, b"X-Huge: " + b"h" * 70000]))  # fmt: skip
        body = b""
        if method in (b"POST", b"PUT", b"PATCH") or rng.random() < 0.05:
            body = b'{"a": 1}'
            headers.append(b"Content-Length: %d" % len(body))
        data = b"%s %s %s\r\n%s\r\n\r\n%s" % (
            method,
            target.encode("utf-8"),
            version,
            b"\r\n".join(headers),
            body,
        )
        clean = method in (b"GET", b"HEAD") and version == b"HTTP/1.1" and len(headers) == 2
        request = Request(kind, data, head=method == b"HEAD", expect=expect if clean else None)
        if last and rng.random() < 0.3:
            return self.broken(request)
        if request.head and not (self._well_formed(target) and version == b"HTTP/1.1"):
            # A refusal (400) carries its body even to a HEAD: only a request the
            # server parses is sent as HEAD, so answers can be read back in order.
            request.head = False
            request.data = request.data.replace(b"HEAD ", b"GET ", 1)
        return request

    @staticmethod
    def _well_formed(target: str) -> bool:
        return target.isascii() and not any(c in target for c in " \t\x00\x7f\r\n")

    def broken(self, request: Request) -> Request:
        """A request whose framing is unsure: the server may refuse it, or wait for more."""
        rng = self.rng
        data = request.data.replace(b"HEAD ", b"GET ", 1)
        head = data.partition(b"\r\n\r\n")[0]
        choice = rng.randrange(8)
        if choice == 0:
            data = head + b"\r\nBad Header\r\n\r\n"
        elif choice == 1:
            data = head.replace(b"\r\n", b"\n") + b"\n\n"
        elif choice == 2:
            data = head + b"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        elif choice == 3:
            data = head + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        elif choice == 4:
            data = head + b"\r\nContent-Length: 100\r\n\r\nshort"
        elif choice == 5:
            data = head + b"\r\n X-Folded: yes\r\n\r\n"
        elif choice == 6:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        else:
            data = data[: rng.randrange(1, len(data))]
        return Request(request.kind, data, framed=False, complete=choice in (0, 1, 2, 5))

    def connection(self) -> list[Request]:
        count = 1 + min(int(self.rng.expovariate(0.4)), 11)
        return [self.request(last=i == count - 1) for i in range(count)]

    def splits(self, size: int) -> list[int]:
        """Where the bytes of one connection are cut into separate writes."""
        rng = self.rng
        if size < 2 or rng.random() < 0.5:
            return []
        return sorted(rng.sample(range(1, size), min(size - 1, rng.randrange(1, 6))))


# -- answers --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]

    @property
    def refusal(self) -> bool:
        """A request refused before it was read whole (then the connection closes).

        uvicorn writes its 400 for an unparsable request at once, even ahead of the
        answers to requests pipelined before it: such an answer may jump the queue.
        """
        return self.status in (400, 413, 431) and (b"connection", b"close") in self.headers


class Garbled(Exception):
    """Bytes from the server that are not an HTTP/1.1 response."""


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?")


def _chunked(buffer: bytes, start: int) -> tuple[bytes, int] | None:
    body, pos = b"", start
    while True:
        end = buffer.find(b"\r\n", pos)
        if end < 0:
            return None
        try:
            size = int(buffer[pos:end].split(b";")[0], 16)
        except ValueError:
            raise Garbled(buffer[pos:end][:80]) from None
        if size == 0:
            trailer = buffer.find(b"\r\n\r\n", end)
            return (body, trailer + 4) if trailer >= 0 else None
        if len(buffer) < end + 2 + size + 2:
            return None
        body += buffer[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def parse_answer(buffer: bytes, head: bool, closed: bool) -> tuple[Answer, int] | None:
    """One response from the front of `buffer` and its length; None if more bytes are due."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if closed and buffer:
            raise Garbled(buffer[:200])
        return None
    lines = buffer[:end].split(b"\r\n")
    match = _STATUS.fullmatch(lines[0])
    if match is None:
        raise Garbled(buffer[:200])
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or name != name.strip():
            raise Garbled(line[:200])
        headers.append((name.lower(), value.strip()))
    status = int(match.group(1))
    answer = Answer(status, headers, b"")
    start = end + 4
    if head and answer.refusal:
        head = False  # a refusal carries its body, to a HEAD too
    if head or status < 200 or status in (204, 304):
        return answer, start
    if (b"transfer-encoding", b"chunked") in headers:
        chunked = _chunked(buffer, start)
        if chunked is None:
            return None
        answer.body, size = chunked
        return answer, size
    lengths = answer.header(b"content-length")
    if not lengths:  # delimited by the close
        if not closed:
            return None
        answer.body = buffer[start:]
        return answer, len(buffer)
    if len(set(lengths)) != 1 or not lengths[0].isdigit():
        raise Garbled(b"content-length " + b",".join(lengths))
    size = int(lengths[0])
    if len(buffer) < start + size:
        if closed:
            raise Garbled(b"closed inside a body")
        return None
    answer.body = buffer[start : start + size]
    return answer, start + size


# -- one connection ---------------------------------------------------------------------------

# uvicorn (with uvloop) still runs requests pipelined behind one it refused, after the
# close, and logs each answer it then cannot write: upstream, and nothing reaches a client.
CLOSED_WRITE = "RuntimeError: unable to perform operation on <TCPTransport closed=True"
STALL_S = 10.0  # an answer due for this long: the server hangs
GRACE_S = 0.3  # how long an answer to a badly framed last request is waited for


@dataclass
class Exchange:
    """What one connection got back."""

    answers: list[Answer] = field(default_factory=list)
    garbled: bytes | None = None
    stalled: bool = False
    reset: bool = False
    splits: list[int] = field(default_factory=list)  # where the bytes sent were cut


def fast_requests(requests: Sequence[Request], splits: Sequence[int]) -> int:
    """How many leading requests the fast path surely answers itself.

    It takes a request whose bytes start a read with `GET /e/c/` or `HEAD /e/c/` and
    whose head is under 16 KiB; a read that starts shorter goes to uvicorn, and so
    does everything after it.
    """
    start = 0
    for index, request in enumerate(requests):
        cut_early = any(start < cut < start + 10 for cut in splits)
        clicks = request.data.startswith((b"GET /e/c/", b"HEAD /e/c/"))
        if cut_early or not clicks or len(request.data) >= 16000:
            return index
        start += len(request.data)
    return len(requests)


def due_answers(requests: Sequence[Request]) -> int:
    """Answers that must come (unless an earlier answer closes the connection)."""
    for index, request in enumerate(requests):
        if not request.framed:
            return index
    return len(requests)


async def _send(writer: asyncio.StreamWriter, data: bytes, splits: list[int], pause: bool) -> None:
    last = 0
    with contextlib.suppress(OSError):
        for cut in [*splits, len(data)]:
            writer.write(data[last:cut])
            await writer.drain()
            last = cut
            # Let the piece leave as its own segment (TCP_NODELAY), so the server reads it alone.
            await asyncio.sleep(0.001 if pause else 0)


async def exchange(
    port: int, requests: Sequence[Request], splits: list[int], pause: bool = False
) -> Exchange:
    """Send the requests (cut at `splits`) on one connection and read the answers back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
    sender = asyncio.create_task(_send(writer, b"".join(r.data for r in requests), splits, pause))
    out, buffer, closed = Exchange(splits=splits), b"", False
    due = due_answers(requests)
    try:
        while True:
            try:
                while (
                    parsed := parse_answer(
                        buffer,
                        len(out.answers) < due and requests[len(out.answers)].head,
                        closed,
                    )
                ) is not None:
                    answer, size = parsed
                    buffer = buffer[size:]
                    if answer.status >= 200:
                        out.answers.append(answer)
            except Garbled as exc:
                out.garbled = exc.args[0]
                break
            if closed or (len(out.answers) >= due and due == len(requests)):
                break
            wait = STALL_S if len(out.answers) < due else GRACE_S
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 16), wait)
            except TimeoutError:
                out.stalled = len(out.answers) < due
                break
            except OSError:
                # Reset: the server closed (after a refusal or HTTP/1.0) while requests were
                # still arriving, and the kernel may drop what was unread: stop here.
                out.reset = True
                break
            closed = not chunk
            buffer += chunk
    finally:
        sender.cancel()
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await sender
    return out


# -- checks -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Everything counted over a run."""

    requests: int = 0
    connections: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    unanswered: int = 0
    crashes: int = 0  # 5xx other than 503, or the server died
    open_redirects: int = 0
    wrong: int = 0
    checked: int = 0  # genuine, well-formed clicks whose answer was checked in order
    garbled: int = 0
    stalls: int = 0
    closed_writes: int = 0  # tracebacks of uvicorn writing to a closed connection (upstream)
    samples: list[str] = field(default_factory=list)

    def note(self, what: str, requests: Sequence[Request], detail: object) -> None:
        if len(self.samples) < 20:
            sent = [r.data[:300] for r in requests]
            self.samples.append(f"{what}: {detail!r}\n    requests: {sent!r}")

    @property
    def failed(self) -> bool:
        return bool(self.crashes or self.open_redirects or self.wrong or self.garbled)


def check(site: Site, requests: Sequence[Request], got: Exchange, tally: Tally) -> None:
    """Count one connection's answers and every rule they break."""
    tally.connections += 1
    tally.requests += len(requests)
    tally.kinds.update(r.kind for r in requests)
    tally.unanswered += max(0, len(requests) - len(got.answers))
    if got.garbled is not None:
        tally.garbled += 1
        tally.note("garbled", requests, got.garbled)
    if got.stalled:
        tally.stalls += 1
        tally.note("stalled", requests, len(got.answers))
    due = due_answers(requests)
    fast = fast_requests(requests, got.splits)
    for index, answer in enumerate(got.answers):
        tally.statuses[answer.status] += 1
        if answer.status >= 500 and answer.status != 503:
            tally.crashes += 1
            tally.note(f"{answer.status}", requests, answer.body[:200])
        locations = answer.header(b"location")
        if any(loc not in site.signed and not own_page(loc) for loc in locations):
            tally.open_redirects += 1
            tally.note("open redirect", requests, locations)
        # uvicorn's refusal may jump the queue; the fast path's never does.
        jumped = answer.refusal and index == len(got.answers) - 1 and index >= fast
        expect = requests[index].expect if index < due and not jumped else None
        tally.checked += expect is not None
        if expect is not None and (answer.status != 302 or locations != [expect.encode()]):
            tally.wrong += 1
            tally.note(f"wrong answer #{index}", requests, (answer.status, locations, expect))


async def run(site: Site, total: int, concurrency: int, seed: int, server: Process) -> Tally:
    """`total` requests over `concurrency` connections at a time."""
    inputs = Inputs(site, random.Random(seed))
    tally = Tally()
    started = reported = time.monotonic()

    async def worker() -> None:
        nonlocal reported
        while tally.requests < total and server.alive():
            requests = inputs.connection()
            size = sum(len(r.data) for r in requests)
            splits = inputs.splits(size)
            got = await exchange(site.port, requests, splits, pause=inputs.rng.random() < 0.05)
            check(site, requests, got, tally)
            if time.monotonic() - reported >= 10:
                reported = time.monotonic()
                rate = tally.requests / (reported - started)
                log(f"{tally.requests:,} requests, {rate:,.0f}/s; {dict(tally.statuses)}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def final_check(site: Site, tally: Tally, server: Process) -> None:
    """After the run: alive, no exception logged, every genuine link still redirecting."""
    if not server.alive():
        tally.crashes += 1
        tally.samples.append(f"the server died:\n{server.tail()}")
        return
    text = server.log_path.read_text(errors="replace")
    tally.closed_writes = text.count(CLOSED_WRITE)
    logged = text.count("Traceback (most recent call last)") - tally.closed_writes
    if logged:
        tally.crashes += logged
        tally.samples.append(f"the server logged {logged} exceptions:\n{server.tail(60)}")
    for path, loc in site.clicks + site.shorts:
        got = http("GET", site.port, path)
        if got.status != 302 or got.headers.get("location") != loc:
            tally.wrong += 1
            tally.samples.append(f"after the run, {path} answered {got.status} {got.headers}")


def own_page(location: bytes) -> bool:
    """A redirect to one of the server's own dashboard pages (`/` → `/ui/`, a page →
    its login): a path on this origin, never another site."""
    return location.startswith(b"/ui/")


def report(tally: Tally, seconds: float) -> None:
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(tally.kinds.items()))
    print(
        f"inputs sent: {tally.requests:,} requests on {tally.connections:,} connections ({kinds})"
    )
    statuses = "  ".join(f"{status} {n:,}" for status, n in sorted(tally.statuses.items()))
    print(f"answers by status: {statuses}")
    print(f"unanswered (after a refusal or close, or incomplete): {tally.unanswered:,}")
    print(f"crashes (server died, or 5xx other than 503): {tally.crashes}")
    print(f"open redirects: {tally.open_redirects}")
    print(f"genuine clicks checked in order: {tally.checked:,}")
    print(f"wrong answers (a genuine click not redirected to its own destination, in order): "
          f"{tally.wrong}")  # fmt: skip
    print(f"garbled answers: {tally.garbled}")
    print(f"stalls (an answer due for {STALL_S:.0f} s): {tally.stalls}")
    print(f"uvicorn writes to a closed connection logged (upstream): {tally.closed_writes}")
    print(f"wall time: {seconds:.1f} s ({tally.requests / seconds:,.0f} requests/s)")
    for sample in tally.samples:
        log(sample)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32, help="at a time")
    args = parser.parse_args(argv)

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    with contextlib.ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-clicks-")))
        port = free_port()
        db = f"sqlite:///{workdir / 'store.db'}"
        server = Process(
            "linktrack serve",
            [str(LINKTRACK), "serve", "--db", db, "--data-dir", str(workdir / "data"),
             "--host", "127.0.0.1", "--port", str(port), "--public-url", f"http://127.0.0.1:{port}"],
            workdir / "server.log",
        )  # fmt: skip
        cleanup.callback(server.stop)
        wait_http(server, port)
        site = build_site(port, db, workdir / "store.db")
        log(f"{len(site.clicks)} links, {len(site.opens)} pixels, {len(site.shorts)} short links")
        started = time.monotonic()
        tally = asyncio.run(run(site, args.requests, args.connections, args.seed, server))
        seconds = time.monotonic() - started
        final_check(site, tally, server)
        report(tally, seconds)
        if tally.failed:
            log(f"server log (tail):\n{server.tail()}")
        return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
