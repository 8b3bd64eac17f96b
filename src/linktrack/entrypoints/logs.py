"""The process's log: event lines (`logging`) and access lines in one stream, one writer.

`configure` sends every logger (linktrack's, uvicorn's) to a `LogSink` on
stderr, as text or as JSON lines, at the level the operator chose. The access
log (`entrypoints/http/access.py`) hands the sink whole batches of lines, so
the click path never builds a `LogRecord` and never waits for the stream: a
slow reader of stderr (a full pipe, a stalled log shipper) costs lines, which
are counted and reported, never a click.
"""

from __future__ import annotations

import atexit
import logging
import os
import select
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

import orjson

from linktrack.bootstrap import LOG_FORMATS, LOG_LEVELS

PIPE_BUF: Final = select.PIPE_BUF  # a write this long to a pipe is never split by another's
LIMIT: Final = 32 << 20  # bytes waiting for the stream; more are dropped and counted


class LogSink:
    """Lines for one file descriptor: written at once by the caller, never waited for.

    A caller hands over whole lines. They are written there and then, without
    blocking: a file takes them at once; a pipe or a socket is written through
    a non-blocking handle of its own (stderr's flags are shared with the
    writer process, so they stay as they are). What the stream cannot take now
    waits in a backlog that a thread writes, blocking, while later lines queue
    behind it; over `limit` bytes waiting, lines are dropped and counted. Writes
    end at a line's end; into a pipe they are at most PIPE_BUF bytes, so the
    writer process's lines never land inside one of these. The thread is the
    rare path: with every batch handed to it, the click path kept 0.85-0.86 of
    its rate without access log; written in the loop's own turn, 0.91-0.96
    (`redirect_bench.py --access-log both`, server and threads on one core).
    """

    def __init__(self, fd: int = 2, limit: int = LIMIT) -> None:
        self.fd = fd
        self.limit = limit
        self.piece, self._write_now = _nonblocking_writer(fd)
        self._backlog: deque[bytes] = deque()
        self._waiting = 0  # bytes in the backlog
        self._dropped = 0  # lines dropped since the last report
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="log-sink", daemon=True)
        self._thread.start()

    def put(self, chunk: bytes) -> None:
        """Write `chunk` (whole lines, each ending in a newline), or queue what is left."""
        with self._lock:
            if self._waiting + len(chunk) > self.limit or self._closed:
                self._dropped += chunk.count(b"\n")
                self._wake.set()
                return
            if not self._backlog:
                chunk = self._pieces(chunk, self._write_now)
                if not chunk:
                    return
            self._waiting += len(chunk)
            self._backlog.append(chunk)
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Write what waits, then stop the thread (at exit: no line is left behind)."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        """Write the backlog, blocking, in order; then say what was dropped."""
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._backlog:
                        break
                    chunk = self._backlog[0]
                self._pieces(chunk, self._write_blocking)  # puts queue behind it meanwhile
                with self._lock:
                    self._backlog.popleft()
                    self._waiting -= len(chunk)
            if self._dropped:
                with self._lock:
                    dropped, self._dropped = self._dropped, 0
                notice = f"{iso_time(time.time())} WARNING linktrack.logs: {dropped} log "
                notice += "line(s) dropped: the log stream's reader did not keep up\n"
                self._pieces(notice.encode(), self._write_blocking)
            if self._closed and not self._backlog:
                return

    def _pieces(self, chunk: bytes, write: Callable[[memoryview], int]) -> bytes:
        """Write `chunk` in pieces that end at a line's end; return what `write` did not
        take (a stream that is gone, EPIPE say, takes everything: nothing is left to do)."""
        view = memoryview(chunk)
        start, size = 0, len(chunk)
        while start < size:
            end = start + self.piece
            if end >= size:
                end = size
            else:  # the last line's end within the piece; a longer line goes alone
                cut = chunk.rfind(b"\n", start, end)
                end = cut + 1 if cut >= start else (chunk.find(b"\n", end) + 1 or size)
            piece = view[start:end]
            while piece:
                try:
                    written = write(piece)
                except InterruptedError:
                    continue
                except OSError:
                    return b""
                if written == 0:  # full for now
                    return bytes(view[end - len(piece) :])
                piece = piece[written:]
            start = end
        return b""

    def _write_blocking(self, piece: memoryview) -> int:
        return os.write(self.fd, piece)


def _nonblocking_writer(fd: int) -> tuple[int, Callable[[memoryview], int]]:
    """(piece size, a write that returns 0 rather than wait) for `fd`."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:  # no stream at all: every write fails, and is let go
        return PIPE_BUF, lambda piece: os.write(fd, piece)
    if stat.S_ISFIFO(mode):
        try:  # a description of its own, so O_NONBLOCK stays ours (Linux)
            own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            own = -1
        if own >= 0:
            return PIPE_BUF, _or_zero(lambda piece: os.write(own, piece))
        return PIPE_BUF, lambda piece: 0  # every line through the thread
    if stat.S_ISSOCK(mode):
        sock = socket.socket(fileno=os.dup(fd))
        return PIPE_BUF, _or_zero(lambda piece: sock.send(piece, socket.MSG_DONTWAIT))
    return 1 << 16, lambda piece: os.write(fd, piece)  # a file, /dev/null: never waits


def _or_zero(write: Callable[[memoryview], int]) -> Callable[[memoryview], int]:
    def attempt(piece: memoryview) -> int:
        try:
            return write(piece)
        except BlockingIOError:
            return 0

    return attempt


class SinkHandler(logging.Handler):
    """A `logging` handler that hands each formatted record to the sink."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record).replace("\n", "\n    ") + "\n"
            self.sink.put(line.encode("utf-8", "backslashreplace"))
        except Exception:  # logging's own contract: report, never raise
            self.handleError(record)


class TextFormatter(logging.Formatter):
    """`2026-12-03T14:10:00.123Z WARNING linktrack.writer: message`"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{iso_time(record.created)} {record.levelname} {record.name}: "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


_seconds: tuple[int, str] = (0, "1970-01-01T00:00:00")


def iso_time(wall: float) -> str:
    """UTC with milliseconds; the part up to the second is cached (one per second)."""
    global _seconds
    whole = int(wall)
    if _seconds[0] != whole:
        _seconds = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_seconds[1]}.{int((wall - whole) * 1000):03d}Z"


_sink: LogSink | None = None


def configure(level: str = "info", fmt: str = "text") -> LogSink:
    """Every logger to the stderr sink, as `fmt`, at `level` (bootstrap's LOG_* names)."""
    if level not in LOG_LEVELS or fmt not in LOG_FORMATS:
        raise ValueError(f"log level {level!r} or format {fmt!r} unknown")
    stream = sink()
    handler = SinkHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic says at info how it sets itself up, at every start: noise unless debugging.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    logging.captureWarnings(True)
    return stream


def sink() -> LogSink:
    """The process's sink on stderr, made at first use and drained at exit."""
    global _sink
    if _sink is None:
        _sink = LogSink()
        atexit.register(_sink.close)
    return _sink
