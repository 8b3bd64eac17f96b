"""How far the writer is behind the click log, as the writer measures it and as the API tells it.

The writer measures its lag at each read: the age of the oldest click or open
it has read but not yet stored (0 when the log had nothing new). It saves that,
with its rate, in the same transaction as the batch's checkpoint, and every
`HEARTBEAT_SECONDS` while idle. A writer that has not said anything for longer
than the bound is *stalled* (dead, wedged, or starved of CPU); one whose lag is
over the bound is *behind*. Each change of state is one log line, not one per
batch. The bound is `LINKTRACK_MAX_WRITER_LAG` (60 s by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 5.0


@dataclass
class Progress:
    """The writer's account of itself: its lag, its rate, and whether it is behind."""

    max_lag: float
    lag: float = 0.0
    rate: float = 0.0
    behind: bool = False
    _reported_at: float | None = None
    _events: int = 0  # stored since the last report
    _reported_lag: float = 0.0

    def observe(self, oldest: float | None, now: float) -> None:
        """A read found events as old as `oldest` (None: nothing new)."""
        self.lag = 0.0 if oldest is None else max(0.0, now - oldest)
        if not self.behind and self.lag > self.max_lag:
            self.behind = True
            log.warning(
                "the event writer is %.1f s behind the click log (the bound is %g s): "
                "reports lag clicks; see GET /v1/writer",
                self.lag, self.max_lag,
            )  # fmt: skip
        elif self.behind and self.lag <= self.max_lag / 2:
            self.behind = False
            log.warning("the event writer has caught up: %.1f s behind the click log", self.lag)

    def stored(self, events: int) -> None:
        self._events += events

    def due(self, now: float) -> bool:
        """Whether an idle writer should say so: it has caught up, or has been quiet a while."""
        if self._reported_at is None or self.lag != self._reported_lag:
            return True
        return now - self._reported_at >= HEARTBEAT_SECONDS

    def report(self, now: float) -> tuple[float, float, float]:
        """(lag, events/s since the last report, now), to be saved; starts a new window."""
        if self._reported_at is not None and now > self._reported_at:
            self.rate = self._events / (now - self._reported_at)
        self._reported_at, self._events, self._reported_lag = now, 0, self.lag
        return self.lag, self.rate, now


def writer_status(
    rows: list[dict[str, Any]], consumer: str, max_lag: float, now: float
) -> dict[str, Any]:
    """What `GET /v1/writer` answers: the state of this log's writer, from what it last saved."""
    row = next((r for r in rows if r["consumer"] == consumer), None)
    if row is None:
        return {"state": "not_started", "consumer": consumer, "max_lag_seconds": max_lag,
                "lag_seconds": None, "events_per_second": None, "heartbeat_at": None,
                "heartbeat_age_seconds": None}  # fmt: skip
    age = max(0.0, now - row["heartbeat_at"])
    lag = float(row["lag_seconds"] or 0.0)
    # Silent for longer than the bound: whatever it last said, it is not keeping up now.
    state = "stalled" if age > max(max_lag, 3 * HEARTBEAT_SECONDS) else (
        "behind" if lag > max_lag else "ok"
    )  # fmt: skip
    return {
        "state": state,
        "consumer": consumer,
        "max_lag_seconds": max_lag,
        "lag_seconds": round(lag, 3),
        "events_per_second": round(float(row["events_per_second"] or 0.0), 1),
        "heartbeat_at": row["heartbeat_at"],
        "heartbeat_age_seconds": round(age, 3),
    }
