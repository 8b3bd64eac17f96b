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
import threading
import time
from collections import deque
from typing import Final

import orjson

from linktrack.bootstrap import LOG_FORMATS, LOG_LEVELS

PIPE_BUF: Final = select.PIPE_BUF  # a write this long to a pipe is never split by another's
LIMIT: Final = 32 << 20  # bytes waiting for the stream; more are dropped and counted


class LogSink:
    """Lines for one file descriptor, written in order by a thread of their own.

    Callers hand over whole lines and go on. The thread writes them in pieces of
    at most PIPE_BUF bytes that end at a line's end, so the lines of the writer
    process, which shares the stream, never land inside one of these.
    """

    def __init__(self, fd: int = 2, limit: int = LIMIT) -> None:
        self.fd = fd
        self.limit = limit
        self._chunks: deque[bytes] = deque()
        self._waiting = 0  # bytes in _chunks
        self._dropped = 0  # lines dropped since the last report
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="log-sink", daemon=True)
        self._thread.start()

    def put(self, chunk: bytes) -> None:
        """Queue `chunk` (whole lines, each ending in a newline) for the stream."""
        with self._lock:
            if self._waiting + len(chunk) > self.limit or self._closed:
                self._dropped += chunk.count(b"\n")
                return
            self._waiting += len(chunk)
            self._chunks.append(chunk)
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Write what waits, then stop the thread (at exit: no line is left behind)."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._chunks:
                chunk = self._chunks.popleft()
                with self._lock:
                    self._waiting -= len(chunk)
                self._write(chunk)
            if self._dropped:
                with self._lock:
                    dropped, self._dropped = self._dropped, 0
                notice = f"{iso_time(time.time())} WARNING linktrack.logs: {dropped} log "
                notice += "line(s) dropped: the log stream's reader did not keep up\n"
                self._write(notice.encode())
            if self._closed and not self._chunks:
                return

    def _write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        start, size = 0, len(chunk)
        while start < size:
            end = start + PIPE_BUF
            if end >= size:
                end = size
            else:  # the last line's end within PIPE_BUF; a longer line goes alone
                cut = chunk.rfind(b"\n", start, end)
                end = cut + 1 if cut >= start else (chunk.find(b"\n", end) + 1 or size)
            piece = view[start:end]
            while piece:
                try:
                    piece = piece[os.write(self.fd, piece) :]
                except InterruptedError:
                    continue
                except OSError:  # the stream is gone (closed stderr, EPIPE): nothing to do
                    return
            start = end


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
