"""What one group commit of the file log gathers, what it measures, and when the
log's volume can take no more."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from prometheus_client import Histogram

MIN_FREE_BYTES: Final = 64 << 10  # less free space than this: the volume is full
COMMIT_BUCKETS: Final = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class SyncWaiter:
    """A blocking appender, waiting for its batch."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


class Batch:
    """Records waiting for one group commit, and who waits for them: blocking
    appenders (the flusher thread's batch) or one loop's callbacks (its turn)."""

    __slots__ = ("calls", "records", "sync")

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.sync: list[SyncWaiter] = []
        # A loop's turn batch: called in that loop's thread once the batch is on disk.
        self.calls: list[Callable[[BaseException | None], None]] = []


def commit_histogram() -> Histogram:
    """One histogram per log: how long each commit of a batch took (file: write +
    fdatasync; Redis: the pipeline of XADDs, and WAIT when replicas are awaited)."""
    return Histogram(
        "linktrack_event_log_commit_seconds",
        "Time to commit one batch of the click log: what a click waits for",
        registry=None,  # exposed by the node's collector (entrypoints.http.telemetry)
        buckets=COMMIT_BUCKETS,
    )


@dataclass
class FileLogStats:
    """Group-commit counters (records / fsyncs is the mean batch size) and how long
    each commit (write + fdatasync) took."""

    records: int = 0
    fsyncs: int = 0
    largest_batch: int = 0
    commit_seconds: Histogram = field(default_factory=commit_histogram)

    @property
    def mean_batch(self) -> float:
        return self.records / self.fsyncs if self.fsyncs else 0.0


def volume_health(directory: Path) -> str | None:
    """None while `directory` can take appends; else why not (a full or read-only volume).
    Asked of the volume, not of the last append: a node out of a load balancer's
    rotation gets no clicks, and must still see the space come back."""
    try:
        vfs = os.statvfs(directory)
    except OSError as exc:
        return f"the data directory cannot be read: {exc}"
    if not os.access(directory, os.W_OK):
        return f"the data directory {directory} cannot be written"
    free = vfs.f_bavail * vfs.f_frsize
    if free < MIN_FREE_BYTES:
        return f"the data volume is full ({free:,} bytes free)"
    return None
