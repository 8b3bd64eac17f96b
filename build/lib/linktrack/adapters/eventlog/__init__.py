"""The click/open event log: durable before the redirect, drained by the writer.

One protocol (`base.EventLog`), implemented whole by each of three logs:

* `FileEventLog` (`file`) — append-only segment files on local disk, the
  embedded default; concurrent appends are group-committed.
* `RedisStreamEventLog` (`redis`) — a Redis stream read through a consumer
  group, the scale-out path.
* `MemoryEventLog` (`memory`) — an in-process list for tests and benchmarks.

What is appended is an event's wire form (`linktrack.core.events`): bytes.
"""

from __future__ import annotations

from linktrack.adapters.eventlog.base import EventLog, EventLogError, Then
from linktrack.adapters.eventlog.commits import FileLogStats
from linktrack.adapters.eventlog.file import FileEventLog
from linktrack.adapters.eventlog.framing import MAX_EVENT_BYTES, parse_position
from linktrack.adapters.eventlog.memory import MemoryEventLog
from linktrack.adapters.eventlog.redis import RedisStreamEventLog

__all__ = [
    "MAX_EVENT_BYTES",
    "EventLog",
    "EventLogError",
    "FileEventLog",
    "FileLogStats",
    "MemoryEventLog",
    "RedisStreamEventLog",
    "Then",
    "parse_position",
]
