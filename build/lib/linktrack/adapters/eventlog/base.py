"""What every event log offers: the `EventLog` protocol, its error, event ids."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

Then = Callable[[BaseException | None], None]
"""Called once an append is durable: with None, or with the error that lost it."""


class EventLogError(RuntimeError):
    """The log cannot take or give events (disk full, locked, Redis down)."""


class EventLog(Protocol):
    """A durable, ordered log of encoded events; every implementation offers all of it."""

    async def append(self, event: bytes, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Return only once the event is durable. `loop`: the running loop, if the caller
        holds it (asyncio.get_running_loop costs a getpid system call per call)."""

    def append_then(self, event: bytes, loop: asyncio.AbstractEventLoop, then: Then) -> None:
        """Queue the event; once it is durable, `then(None)` runs in `loop`'s thread
        (`then(error)` if the write failed), never before this returns.

        The click path's form: no future or coroutine for the caller. Called in
        `loop`'s thread; raises `EventLogError` at once if the log takes no appends.
        """

    def append_sync(self, event: bytes) -> None:
        """Blocking append for threads without an event loop."""

    def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Up to `limit` (position, event) pairs after `after`, in order."""

    def check_position(self, position: str | None) -> None:
        """Raise `EventLogError` unless `position` is one of this log's (or None)."""

    def ack(self, position: str) -> None:
        """Everything up to `position` is safely stored; the log may let it go."""

    def close(self) -> None:
        """Commit what is queued and release the log's files or connections."""

    def health(self) -> str | None:
        """None if the log can take appends now; else what stops it (for /readyz)."""


def settle_one(fut: asyncio.Future[None], error: BaseException | None) -> None:
    """Complete an appender's future: done, or failed with an `EventLogError`."""
    if fut.done():  # the appender gave up (cancelled); nothing to tell it
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(EventLogError(f"event log write failed: {error}"))


def settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    """`settle_one` for each future of a batch."""
    for fut in futures:
        settle_one(fut, error)
