"""The embedded event log: append-only segment files on local disk.

Records are length+crc32 framed. Concurrent appends are group-committed: one
write and one fdatasync cover every record queued for a commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from linktrack.adapters.eventlog.base import EventLogError, settle_one
from linktrack.adapters.eventlog.commits import Batch, FileLogStats, SyncWaiter, volume_health
from linktrack.adapters.eventlog.framing import (
    SEGMENT_DIGITS,
    check_file_position,
    frame,
    locked,
    parse_position,
    position_of,
    scan,
    unlock,
)

log = logging.getLogger(__name__)

_READ_CHUNK: Final = 1 << 20


class FileEventLog:
    """Append-only segment files with length+crc32 framing and group commit.

    One process appends (it holds a lock on the directory); any number may
    read. Opened for appending, a torn tail left by a crash is cut off.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_bytes: int = 64 << 20,
        readonly: bool = False,
        fsync: bool = True,
        sole_reader: bool = False,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.readonly = readonly
        self._fsync = fsync
        self.stats = FileLogStats()
        self._lock = threading.Lock()
        # A binary semaphore: released when a batch gets its first record (or
        # on close), taken by the flusher before it swaps the batch out.
        self._wake = threading.Lock()
        self._wake.acquire()
        self._batch = Batch()  # the flusher thread's next commit (append_sync)
        # Per event loop, the appends of its current turn (append_future).
        self._turns: dict[asyncio.AbstractEventLoop, Batch] = {}
        # One writer at a time: the flusher thread or a loop ending its turn.
        self._io_lock = threading.Lock()
        self._closing = False
        self._fd = -1
        self._lock_fd = -1
        self._segment = 0
        self._size = 0
        self._durable = (0, 0)
        self._failed = False  # the last write failed: the next one starts a new segment
        self._failing = False  # writes fail (logged once, until one works again)
        self._thread: threading.Thread | None = None
        self._reader_fd = -1
        if not readonly:
            self._open_for_append()
        if sole_reader:
            # The writer that stores this log: a second one on the same log (a serve
            # restarted beside a writer still draining) waits for the first to go.
            holder = "another writer is storing the click log in"
            self._reader_fd = locked(self.dir / "READER.LOCK", holder)

    # -- paths

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:0{SEGMENT_DIGITS}d}.log"

    def segments(self) -> list[int]:
        """Numbers of the segment files present, ascending."""
        out = []
        for p in self.dir.glob("*.log"):
            if p.stem.isdigit():
                out.append(int(p.stem))
        return sorted(out)

    # -- appending

    def _open_for_append(self) -> None:
        self._lock_fd = locked(self.dir / "LOCK", "another process is appending to")
        segs = self.segments()
        self._segment = segs[-1] if segs else 1
        path = self._path(self._segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = self._recover(path)
        if not segs:
            self._sync_dir()
        self._durable = (self._segment, self._size)
        self._thread = threading.Thread(target=self._flush_loop, name="eventlog-flush", daemon=True)
        self._thread.start()

    def _recover(self, path: Path) -> int:
        """Cut a torn tail off the last segment; return its valid size."""
        data = path.read_bytes()
        _, end, corrupt = scan(data)
        if end < len(data):
            log.warning(
                "event log %s: dropping %d bytes of torn tail%s",
                path,
                len(data) - end,
                " (bad record)" if corrupt else "",
            )
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        return end

    def _sync_dir(self) -> None:
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    async def append(self, event: bytes, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Queue the event for the next group commit and wait until it is on disk."""
        await self.append_future(event, loop or asyncio.get_running_loop())

    def append_future(self, event: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """Queue the event; the future (of `loop`) completes once it is on disk."""
        fut = loop.create_future()
        self.append_then(event, loop, lambda error: settle_one(fut, error))
        return fut

    def append_then(
        self,
        event: bytes,
        loop: asyncio.AbstractEventLoop,
        then: Callable[[BaseException | None], None],
    ) -> None:
        """Queue the event; once it is on disk, `then(None)` runs in `loop` (`then(error)`
        if the write failed).

        The loop's appends are committed together at the end of its current
        turn, in its own thread: one write and one fdatasync for every request
        that turn read, and no other thread to wake (Redis's `appendfsync
        always` does the same). The click path's form: no future, coroutine or
        task per click; `then` writes the answer.
        """
        if self.readonly:
            raise EventLogError("this event log was opened read-only")
        record = frame(event)
        with self._lock:
            if self._closing:
                raise EventLogError("the event log is closed")
            batch = self._turns.get(loop)
            if batch is None:
                batch = self._turns[loop] = Batch()
                loop.call_soon(self._commit_turn, loop)
            batch.records.append(record)
            batch.calls.append(then)

    def _commit_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch = self._turns.pop(loop, None)
        if batch is not None:  # else close() committed it
            self._commit(batch)

    def append_sync(self, event: bytes) -> None:
        """Blocking append for threads without an event loop."""
        if self.readonly:
            raise EventLogError("this event log was opened read-only")
        record = frame(event)
        waiter = SyncWaiter()
        with self._lock:
            if self._closing:
                raise EventLogError("the event log is closed")
            batch = self._batch
            batch.records.append(record)
            batch.sync.append(waiter)
            if len(batch.records) == 1:
                self._wake.release()
        waiter.done.wait()
        if waiter.error is not None:
            raise EventLogError(f"event log write failed: {waiter.error}") from waiter.error

    def _flush_loop(self) -> None:
        while True:
            self._wake.acquire()
            with self._lock:
                batch, self._batch = self._batch, Batch()
                closing = self._closing
            if batch.records:
                self._commit(batch)
            if closing:  # no append is taken once closing: nothing can follow
                return

    def _commit(self, batch: Batch) -> None:
        """Write and sync one batch, then tell everyone waiting on it."""
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            with self._io_lock:
                self._write(b"".join(batch.records))
        except BaseException as exc:  # reported to every appender of the batch
            error = exc
        self.stats.commit_seconds.observe(time.perf_counter() - started)
        self._note(error)
        self.stats.fsyncs += 1
        self.stats.records += len(batch.records)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch.records))
        for waiter in batch.sync:
            waiter.error = error
            waiter.done.set()
        for then in batch.calls:  # a loop's turn: committed in that loop's thread
            then(error)

    def health(self) -> str | None:
        """None while the log can take appends; else why not (`volume_health`)."""
        return volume_health(self.dir)

    def _note(self, error: BaseException | None) -> None:
        """Log when writes start failing and when they work again: one line each, not one
        per batch (a full disk refuses every click until the writer frees space)."""
        if error is not None and not self._failing:
            self._failing = True
            log.error("event log %s: writes fail (%s); clicks get 503 until they work", self.dir,
                      error)  # fmt: skip
        elif error is None and self._failing:
            self._failing = False
            log.warning("event log %s: writes work again", self.dir)

    def _write(self, data: bytes) -> None:
        if self._size and (self._failed or self._size + len(data) > self.segment_bytes):
            # After a failed write, a fresh segment: once the writer has stored this
            # one it can delete it whole, which frees a full volume by itself.
            self._rotate()
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if self._fsync:
                os.fdatasync(self._fd)
        except BaseException:
            # Leave no half batch behind: framing must stay parseable.
            self._failed = True
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                log.exception("event log: could not cut a failed write")
            raise
        self._failed = False
        self._size += len(data)
        with self._lock:
            self._durable = (self._segment, self._size)

    def _rotate(self) -> None:
        # Open the next segment before closing this one: if that fails, this one stays.
        fd = os.open(self._path(self._segment + 1), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.close(self._fd)
        self._fd = fd
        self._segment += 1
        self._size = 0
        self._sync_dir()

    # -- reading

    def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Durable events after `after` (None: from the oldest segment kept)."""
        start_seg, start_off = parse_position(after) if after else (0, 0)
        if self.readonly:
            durable: tuple[int, int] | None = None
        else:
            with self._lock:
                durable = self._durable
        segs = [s for s in self.segments() if s >= start_seg]
        out: list[tuple[str, bytes]] = []
        for i, seg in enumerate(segs):
            if durable is not None and seg > durable[0]:
                break
            offset = start_off if seg == start_seg else 0
            stop = durable[1] if durable is not None and seg == durable[0] else None
            corrupt = self._read_segment(seg, offset, stop, limit - len(out), out)
            if corrupt:
                if i == len(segs) - 1:
                    break  # a record still being written by another process
                log.error("event log segment %d has a bad record; skipping its rest", seg)
            if len(out) >= limit:
                break
        return out

    def _read_segment(
        self, seg: int, offset: int, stop: int | None, want: int, out: list[tuple[str, bytes]]
    ) -> bool:
        try:
            f = open(self._path(seg), "rb")  # noqa: SIM115 - closed below, loop needs it open
        except FileNotFoundError:  # acked and deleted meanwhile
            return False
        with f:
            f.seek(offset)
            buf = b""
            base = offset
            while want > 0:
                size = _READ_CHUNK if stop is None else min(_READ_CHUNK, stop - base - len(buf))
                chunk = f.read(size) if size > 0 else b""
                if not chunk:
                    _, _, corrupt = scan(buf)
                    return corrupt or bool(buf)
                buf += chunk
                records, end, corrupt = scan(buf)
                for rec_end, payload in records[:want]:
                    out.append((position_of(seg, base + rec_end), payload))
                want -= min(want, len(records))
                if corrupt:
                    return True
                buf = buf[end:]
                base += end
        return False

    def check_position(self, position: str | None) -> None:
        check_file_position(position)

    def ack(self, position: str) -> None:
        """Delete whole segments before `position`, and the one it ends when a newer
        segment exists (the appender has left it: nothing more will come there)."""
        seg, offset = parse_position(position)
        segments = self.segments()
        for old in segments:
            if old > seg or (not self.readonly and old >= self._segment):
                break
            if old == seg and not (old < segments[-1] and self._size_of(old) <= offset):
                break
            self._path(old).unlink(missing_ok=True)

    def _size_of(self, segment: int) -> int:
        try:
            return self._path(segment).stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        """Flush what is queued, stop the flusher, release the locks."""
        if self._reader_fd >= 0:
            unlock(self._reader_fd)
            self._reader_fd = -1
        if self.readonly or self._thread is None:
            return
        with self._lock:
            self._closing = True
            turns, self._turns = list(self._turns.values()), {}
            if not self._batch.records:  # else the flusher is already woken
                self._wake.release()
        for batch in turns:  # appended this turn, not yet committed: commit them now
            self._commit(batch)
        self._thread.join()
        self._thread = None
        os.close(self._fd)
        unlock(self._lock_fd)
