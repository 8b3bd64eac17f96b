"""The scale-out event log: a Redis stream read through a consumer group.

Stateless tracking nodes append; consumers of the group share the work.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Histogram

from linktrack.adapters.eventlog.base import EventLogError, Then, settle
from linktrack.adapters.eventlog.commits import commit_histogram

log = logging.getLogger(__name__)


def _stream_id(position: str) -> tuple[int, int]:
    ms, _, seq = position.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class _Batcher:
    """Per-loop pipeline: appends queued during one XADD round trip share the next."""

    client: Any
    pending: list[tuple[bytes, asyncio.Future[None]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


@dataclass
class RedisLogStats:
    """Appends of this process: records, pipelines (records / commits is the mean
    batch) and how long each pipeline took to be answered."""

    records: int = 0
    commits: int = 0
    commit_seconds: Histogram = field(default_factory=commit_histogram)


class RedisStreamEventLog:
    """Events in a Redis stream; `read` serves this consumer through a consumer group.

    Durability is Redis's: run it with `appendonly yes` and `appendfsync
    always` (or replicas and `wait_replicas`) for the "a 302 is never lost"
    promise. The consumer group is the checkpoint: `read` ignores `after` and
    returns first this consumer's unacknowledged entries (a retry after a failed
    commit), then entries stuck at a dead consumer for `claim_idle_ms`, then new
    ones; `ack` XACKs what was read up to a position.
    """

    def __init__(
        self,
        url: str,
        stream: str = "linktrack:events",
        *,
        group: str = "linktrack-writer",
        consumer: str | None = None,
        maxlen: int | None = None,
        claim_idle_ms: int = 60_000,
        block_ms: int | None = None,
        wait_replicas: int = 0,
    ) -> None:
        import redis

        self.url = url
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{os.uname().nodename}-{os.getpid()}"
        self.maxlen = maxlen
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.wait_replicas = wait_replicas
        self._redis: Any = redis.Redis.from_url(url)
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
            weakref.WeakKeyDictionary()
        )
        self.stats = RedisLogStats()
        self._group_ready = False
        self._unacked: list[str] = []
        self._check_pending = True
        self._last_claim = 0.0

    # -- appending

    async def append(self, event: bytes, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """XADD the event (batched with concurrent appends into one pipeline)."""
        if loop is None:
            loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            import redis.asyncio

            batcher = _Batcher(redis.asyncio.Redis.from_url(self.url))
            self._batchers[loop] = batcher
        fut: asyncio.Future[None] = loop.create_future()
        batcher.pending.append((event, fut))
        if batcher.task is None or batcher.task.done():
            batcher.task = loop.create_task(self._drain(batcher))
        await fut

    def append_then(self, event: bytes, loop: asyncio.AbstractEventLoop, then: Then) -> None:
        """`append` in a task of its own, whose done-callback calls `then`."""

        def done(task: asyncio.Task[None]) -> None:
            then(EventLogError("append cancelled") if task.cancelled() else task.exception())

        loop.create_task(self.append(event, loop)).add_done_callback(done)

    async def _drain(self, batcher: _Batcher) -> None:
        while batcher.pending:
            batch, batcher.pending = batcher.pending, []
            error: BaseException | None = None
            try:
                pipe = batcher.client.pipeline(transaction=False)
                for event, _ in batch:
                    pipe.xadd(self.stream, {"e": event}, maxlen=self.maxlen, approximate=True)
                if self.wait_replicas:
                    pipe.execute_command("WAIT", self.wait_replicas, 1000)
                started = time.perf_counter()
                await pipe.execute()
                self.stats.commit_seconds.observe(time.perf_counter() - started)
                self.stats.records += len(batch)
                self.stats.commits += 1
            except Exception as exc:
                error = exc
            settle([fut for _, fut in batch], error)

    def append_sync(self, event: bytes) -> None:
        """Blocking XADD for threads without an event loop."""
        self._redis.xadd(self.stream, {"e": event}, maxlen=self.maxlen, approximate=True)
        if self.wait_replicas:
            self._redis.execute_command("WAIT", self.wait_replicas, 1000)

    # -- consuming

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        import redis

        try:
            # From id 0: events appended before the first consumer started count too.
            self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Entries for this consumer: its pending ones, claimed stale ones, then new ones."""
        del after  # the consumer group keeps the position
        self._ensure_group()
        entries: list[tuple[Any, Any]] = []
        if self._check_pending or self._unacked:
            # Handed out before and never acknowledged (a failed commit, or a
            # restart under the same consumer name): these come first, again.
            entries = self._xreadgroup("0", limit)
            self._unacked = []
            self._check_pending = bool(entries)
        if not entries and time.monotonic() - self._last_claim > self.claim_idle_ms / 2000:
            self._last_claim = time.monotonic()
            claimed = self._redis.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=limit
            )
            entries = list(claimed[1])
        if not entries:
            entries = self._xreadgroup(">", limit, self.block_ms)
        out: list[tuple[str, bytes]] = []
        gone: list[str] = []
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            payload = (fields or {}).get(b"e")
            if payload is None:  # trimmed away (MAXLEN) before it was read
                log.warning("stream entry %s has no event (trimmed?)", entry_id)
                gone.append(entry_id)
                continue
            self._unacked.append(entry_id)
            out.append((entry_id, bytes(payload)))
        if gone:
            self._redis.xack(self.stream, self.group, *gone)
        return out

    def _xreadgroup(self, start: str, limit: int, block: int | None = None) -> list[Any]:
        resp = self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=limit, block=block
        )
        if not resp:
            return []
        return list(resp[0][1])

    def check_position(self, position: str | None) -> None:
        """Any position will do: the consumer group keeps this log's position."""

    def ack(self, position: str) -> None:
        """XACK every entry read so far up to `position`."""
        if not self._unacked:
            return  # nothing read since the last ack (the writer acks when idle, too)
        upto = _stream_id(position)
        done = [i for i in self._unacked if _stream_id(i) <= upto]
        if done:
            self._redis.xack(self.stream, self.group, *done)
            keep = set(done)
            self._unacked = [i for i in self._unacked if i not in keep]

    def health(self) -> str | None:
        """None if Redis answers a PING (within its socket timeout)."""
        from redis import RedisError

        try:
            self._redis.ping()
        except RedisError as exc:
            return f"Redis does not answer: {exc}"
        return None

    def pending_count(self) -> int:
        """Entries delivered to some consumer of the group and not yet acknowledged."""
        self._ensure_group()
        return int(self._redis.xpending(self.stream, self.group)["pending"])

    async def aclose(self) -> None:
        """Close the asyncio connection of the running loop."""
        batcher = self._batchers.pop(asyncio.get_running_loop(), None)
        if batcher is not None:
            await batcher.client.aclose()

    def close(self) -> None:
        """Close the blocking connection (`aclose` closes a loop's asyncio one)."""
        self._redis.close()
