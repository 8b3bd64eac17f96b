"""The log sink: whole lines in order, and a stalled reader costs lines, never the caller."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from linktrack.entrypoints.logs import PIPE_BUF, LogSink

# A stream the sink writes to: (its fd, a function reading what arrived).
Stream = tuple[int, Callable[[bytes, float], bytes]]


def _reader(fd: int) -> Callable[[bytes, float], bytes]:
    os.set_blocking(fd, False)

    def read(until: bytes, timeout: float) -> bytes:
        got = b""
        deadline = time.monotonic() + timeout
        while until not in got and time.monotonic() < deadline:
            try:
                got += os.read(fd, 1 << 16)
            except BlockingIOError:
                time.sleep(0.01)
        return got

    return read


@contextmanager
def _stream(kind: str, tmp_path: Path) -> Iterator[Stream]:
    if kind == "pipe":
        read, write = os.pipe()
    elif kind == "socket":
        a, b = socket.socketpair()
        read, write = a.detach(), b.detach()
    else:
        path = tmp_path / "log"
        write = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        read = os.open(path, os.O_RDONLY)
    try:
        yield write, _reader(read)
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.parametrize("kind", ["pipe", "socket", "file"])
def test_lines_arrive_whole_and_in_order(kind: str, tmp_path: Path) -> None:
    lines = [b"%d %s\n" % (n, b"x" * (n * 37 % 900)) for n in range(2000)]
    lines.append(b"long " + b"y" * (3 * PIPE_BUF) + b"\n")  # longer than a pipe write
    lines.append(b"end\n")
    with _stream(kind, tmp_path) as (fd, read):
        sink = LogSink(fd)
        for start in range(0, len(lines), 50):
            sink.put(b"".join(lines[start : start + 50]))
        got = read(b"end\n", 10)
        sink.close()
    assert got == b"".join(lines)


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_a_reader_that_stalls_costs_lines_not_the_caller(kind: str, tmp_path: Path) -> None:
    line = b"z" * 99 + b"\n"
    with _stream(kind, tmp_path) as (fd, read):  # nobody reads until the end: it fills
        sink = LogSink(fd, limit=1 << 20)
        started = time.monotonic()
        for _ in range(400):  # 4 MiB offered, 1 MiB may wait
            sink.put(line * 100)
        assert time.monotonic() - started < 2.0  # put never waited for the stream
        got = bytearray()
        done = threading.Event()
        threading.Thread(target=lambda: (got.extend(read(b"dropped", 20)), done.set())).start()
        assert done.wait(30)
        sink.close()
    text = bytes(got)
    assert b"line(s) dropped: the log stream's reader did not keep up" in text
    dropped = int(text.rsplit(b"WARNING linktrack.logs: ", 1)[1].split()[0])
    kept = text.count(line)
    assert dropped > 0 and kept + dropped == 400 * 100
