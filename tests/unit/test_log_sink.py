"""The log sink: whole lines in order, and a stalled reader costs lines, never the caller."""

from __future__ import annotations

import os
import threading
import time

from linktrack.entrypoints.logs import PIPE_BUF, LogSink


def _read_all(fd: int, until: bytes, timeout: float = 10.0) -> bytes:
    os.set_blocking(fd, False)
    got = b""
    deadline = time.monotonic() + timeout
    while until not in got and time.monotonic() < deadline:
        try:
            got += os.read(fd, 1 << 16)
        except BlockingIOError:
            time.sleep(0.01)
    return got


def test_lines_arrive_whole_and_in_order_in_pipe_sized_writes() -> None:
    read, write = os.pipe()
    sink = LogSink(write)
    lines = [b"%d %s\n" % (n, b"x" * (n * 37 % 900)) for n in range(2000)]
    lines.append(b"long " + b"y" * (3 * PIPE_BUF) + b"\n")  # longer than a pipe write
    for start in range(0, len(lines), 50):
        sink.put(b"".join(lines[start : start + 50]))
    got = _read_all(read, b"long ")
    got += _read_all(read, b"\n", timeout=1) if not got.endswith(b"\n") else b""
    sink.close()
    os.close(read)
    os.close(write)
    assert got == b"".join(lines)


def test_a_reader_that_stalls_costs_lines_not_the_caller() -> None:
    read, write = os.pipe()  # nobody reads until the end: the pipe fills (64 KiB)
    sink = LogSink(write, limit=1 << 20)
    line = b"z" * 99 + b"\n"
    started = time.monotonic()
    for _ in range(400):  # 4 MiB offered, 1 MiB may wait
        sink.put(line * 100)
    assert time.monotonic() - started < 2.0  # put never waited for the stream
    reader_done = threading.Event()
    got = bytearray()

    def drain() -> None:
        got.extend(_read_all(read, b"dropped", timeout=20))
        reader_done.set()

    threading.Thread(target=drain, daemon=True).start()
    assert reader_done.wait(30)
    sink.close()
    os.close(read)
    os.close(write)
    text = bytes(got)
    assert b"line(s) dropped: the log stream's reader did not keep up" in text
    dropped = int(text.rsplit(b"WARNING linktrack.logs: ", 1)[1].split()[0])
    kept = text.count(line)
    assert dropped > 0 and kept + dropped == 400 * 100
