"""What every event log offers: the `EventLog` protocol, its error, event ids."""

from __future__ import annotations

import asyncio
import secrets
from typing import Protocol


class EventLogError(RuntimeError):
    """The log cannot take or give events (disk full, locked, Redis down)."""


class EventLog(Protocol):
    async def append(self, event: bytes, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Return only once the event is durable. `loop`: the running loop, if the caller
        holds it (asyncio.get_running_loop costs a getpid system call per call)."""

    def read(self, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Up to `limit` (position, event) pairs after `after`, in order."""

    def ack(self, position: str) -> None:
        """Everything up to `position` is safely stored; the log may let it go."""


def new_event_id() -> str:
    """A unique event id (24 hex characters, 96 random bits)."""
    return secrets.token_hex(12)


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
