"""The access log: one line per request answered, clicks on the fast path included.

A request's answer adds one tuple to a list (`AccessLog.add`, ~0.3 µs); the
event loop formats the list every FLUSH_SECONDS, or at BATCH lines, and hands
the lines to the log sink in one piece, which writes them without blocking.
Formatting stays in the loop's thread: in another, it would hold the GIL the
loop waits for, in slices of up to 5 ms. Batches stay small so that
formatting one (~1.1 µs a line) never holds a click for long.
`redirect_bench.py --access-log both` measures what it all costs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

import orjson

from linktrack.entrypoints.logs import LogSink, iso_time

FLUSH_SECONDS: Final = 0.2
BATCH: Final = 256
LOGGER: Final = "linktrack.access"
# What a text line shows as it is: printable ASCII but quotes and backslashes
# (bytes.translate deletes these in ~0.2 µs for a click's path; a regex takes 0.6).
_PLAIN: Final = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\')
_AGENTS_KEPT: Final = 1024  # user agents repeat: their escaped form is remembered

# uvloop's loop.time() counts whole milliseconds: too coarse for a click's latency.
clock: Final = time.perf_counter
Origin = Callable[[bytes | None, str | None], tuple[str | None, str | None]]
# (answered at, seconds taken, peer, X-Forwarded-For, method, target, status, bytes, UA)
Entry = tuple[float, float, str | None, bytes | None, str, bytes, int, int, bytes]


class AccessLog:
    """Requests answered by this process, as text or JSON lines on the sink."""

    def __init__(self, sink: LogSink, loop: asyncio.AbstractEventLoop, origin: Origin,
                 *, json: bool = False) -> None:  # fmt: skip
        self.sink = sink
        self.loop = loop
        self.origin = origin  # the client as clicks record it (X-Forwarded-For if trusted)
        self.json = json
        self.pending: list[Entry] = []
        self._agents: dict[bytes, bytes] = {}  # user agent → as a text line shows it
        self._millisecond = (-1, b"")  # the last time formatted, by the millisecond

    def add(self, started: float, peer: str | None, forwarded: bytes | None, method: str,
            target: bytes, status: int, size: int, ua: bytes) -> None:  # fmt: skip
        """One answered request; `started` is `clock()` when it was read."""
        now = clock()
        pending = self.pending
        pending.append((now, now - started, peer, forwarded, method, target, status, size, ua))
        if len(pending) == 1:
            self.loop.call_later(FLUSH_SECONDS, self.flush)
        elif len(pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Format what is pending and hand it to the sink (also at shutdown)."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        offset = time.time() - clock()  # → wall time, once per batch
        line = self._json_line if self.json else self._text_line
        self.sink.put(b"".join([line(entry, offset) for entry in pending]))

    def _client(self, peer: str | None, forwarded: bytes | None) -> str:
        if forwarded is None:
            return peer or "-"
        ip, peer = self.origin(forwarded, peer)
        return ip or peer or "-"

    def _time(self, wall: float) -> bytes:
        """`iso_time`, remembered for the millisecond: a batch's lines share most."""
        millisecond = int(wall * 1000)
        if self._millisecond[0] != millisecond:
            self._millisecond = (millisecond, iso_time(wall).encode())
        return self._millisecond[1]

    def _agent(self, ua: bytes) -> bytes:
        safe = self._agents.get(ua)
        if safe is None:
            if len(self._agents) >= _AGENTS_KEPT:
                self._agents.clear()
            safe = self._agents[ua] = _safe(ua)
        return safe

    def _text_line(self, entry: Entry, offset: float) -> bytes:
        """`<time> INFO linktrack.access: <client> "<method> <target>" <status> <bytes>
        <ms>ms "<user agent>"` (~0.8 µs)"""
        at, took, peer, forwarded, method, target, status, size, ua = entry
        return b'%b INFO linktrack.access: %b "%b %b" %d %d %.2fms "%b"\n' % (
            self._time(at + offset), self._client(peer, forwarded).encode(),
            method.encode(), _safe(target), status, size, took * 1000, self._agent(ua),
        )  # fmt: skip

    def _json_line(self, entry: Entry, offset: float) -> bytes:
        at, took, peer, forwarded, method, target, status, size, ua = entry
        return orjson.dumps({
            "time": self._time(at + offset).decode(), "level": "info", "logger": LOGGER,
            "client": self._client(peer, forwarded), "method": method,
            "target": target.decode("utf-8", "backslashreplace"), "status": status,
            "bytes": size, "ms": round(took * 1000, 3),
            "user_agent": ua.decode("utf-8", "backslashreplace"),
        }, option=orjson.OPT_APPEND_NEWLINE)  # fmt: skip


def _safe(value: bytes) -> bytes:
    """`value` as a text line may show it: escaped where it could forge a line or a field."""
    if not value.translate(None, _PLAIN):
        return value
    return value.decode("latin-1").encode("unicode_escape").replace(b'"', b'\\"')
