"""The click/open event log: durable before the redirect, drained by the writer.

One protocol (`base.EventLog`), implemented whole by each of three logs:

* `FileEventLog` (`file`) — append-only segment files on local disk, the
  embedded default; concurrent appends are group-committed.
* `RedisStreamEventLog` (`redis`) — a Redis stream read through a consumer
  group, the scale-out path.
* `MemoryEventLog` (`memory`) — an in-process list for tests and benchmarks.

The event itself is `wire.encode_event`'s orjson dict.
"""

from __future__ import annotations

from linktrack.adapters.eventlog.base import EventLog, EventLogError, Then, new_event_id
from linktrack.adapters.eventlog.file import (
    MAX_EVENT_BYTES,
    FileEventLog,
    FileLogStats,
    parse_position,
)
from linktrack.adapters.eventlog.memory import MemoryEventLog
from linktrack.adapters.eventlog.redis import RedisStreamEventLog
from linktrack.adapters.eventlog.wire import encode_event

__all__ = [
    "MAX_EVENT_BYTES",
    "EventLog",
    "EventLogError",
    "FileEventLog",
    "FileLogStats",
    "MemoryEventLog",
    "RedisStreamEventLog",
    "Then",
    "encode_event",
    "new_event_id",
    "parse_position",
]
