"""The file event log's on-disk layout: length+crc32 framed records, positions, locks.

A position is `<segment, 16 digits>:<byte offset after the record>`. `LOCK` is
held by the one process that appends, `READER.LOCK` by the one writer that
stores the log.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Final

from linktrack.adapters.eventlog.base import EventLogError

_HEADER: Final = struct.Struct("<II")  # payload length, crc32(payload)
MAX_EVENT_BYTES: Final = 1 << 20
SEGMENT_DIGITS: Final = 16


def position_of(segment: int, offset: int) -> str:
    return f"{segment:0{SEGMENT_DIGITS}d}:{offset}"


_POSITION = re.compile(rf"[0-9]{{{SEGMENT_DIGITS}}}:[0-9]{{1,19}}")


def parse_position(position: str) -> tuple[int, int]:
    """(segment, offset) of a file-log position."""
    segment, _, offset = position.partition(":")
    return int(segment), int(offset)


def check_file_position(position: str | None) -> None:
    """Raise `EventLogError` unless `position` is a file-log position (or None)."""
    if position is not None and not _POSITION.fullmatch(position):
        raise EventLogError(
            f"the saved position {position!r} is not a file event log position: it was "
            "written by another kind of log (LINKTRACK_EVENT_LOG=redis?). Drain that log "
            "with the same LINKTRACK_EVENT_LOG first, or run `linktrack consume --replay` "
            "once to store this log from its start (nothing is counted twice)"
        )


def frame(event: bytes) -> bytes:
    if not event or len(event) > MAX_EVENT_BYTES:
        raise EventLogError(f"an event must be 1 to {MAX_EVENT_BYTES} bytes")
    return _HEADER.pack(len(event), zlib.crc32(event)) + event


def scan(buf: bytes | memoryview, start: int = 0) -> tuple[list[tuple[int, bytes]], int, bool]:
    """Whole, intact records in `buf` from `start`: ([(end, payload)], end, corrupt?).

    Stops at a partial record (maybe still being written) or at a bad one; a
    zero length is bad because a torn write can leave zero-filled blocks.
    """
    out: list[tuple[int, bytes]] = []
    pos = start
    size = len(buf)
    while pos + _HEADER.size <= size:
        length, crc = _HEADER.unpack_from(buf, pos)
        if length == 0 or length > MAX_EVENT_BYTES:
            return out, pos, True
        end = pos + _HEADER.size + length
        if end > size:
            break
        payload = bytes(buf[pos + _HEADER.size : end])
        if zlib.crc32(payload) != crc:
            return out, pos, True
        out.append((end, payload))
        pos = end
    return out, pos, False


def locked(path: Path, holder: str) -> int:
    """An fd holding an exclusive lock on `path`; EventLogError naming `holder` if taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise EventLogError(f"{holder} {path.parent}") from exc
    return fd


def unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
