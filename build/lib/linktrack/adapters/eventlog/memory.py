"""An in-process event log for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading

from linktrack.adapters.eventlog.base import EventLogError, Then


class MemoryEventLog:
    """An in-process list (tests, benchmarks): durable only as long as the process."""

    def __init__(self) -> None:
        self._events: list[bytes] = []
        self._lock = threading.Lock()

    async def append(self, event: bytes, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.append_sync(event)

    def append_then(self, event: bytes, loop: asyncio.AbstractEventLoop, then: Then) -> None:
        """Append now; `then(None)` runs in `loop`'s next turn, as the file log's would."""
        self.append_sync(event)
        loop.call_soon(then, None)

    def append_sync(self, event: bytes) -> None:
        with self._lock:
            self._events.append(event)

    def extend(self, events: list[bytes]) -> None:
        with self._lock:
            self._events.extend(events)

    def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        start = int(after) if after else 0
        with self._lock:
            chunk = self._events[start : start + limit]
        return [(f"{start + i + 1:012d}", e) for i, e in enumerate(chunk)]

    def check_position(self, position: str | None) -> None:
        if position is not None and not (position.isascii() and position.isdigit()):
            raise EventLogError(f"{position!r} is not a position of an in-memory log")

    def ack(self, position: str) -> None:
        """Nothing to compact: positions are list indexes."""

    def close(self) -> None:
        """Nothing to release: the events live as long as the object."""

    def health(self) -> str | None:
        """Always able to take events."""
        return None
