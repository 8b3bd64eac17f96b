"""The writer's account of its lag, and the state the API derives from it."""

from __future__ import annotations

import logging

import pytest

from linktrack.service.progress import HEARTBEAT_SECONDS, Progress, writer_status


def test_lag_is_the_age_of_the_oldest_unstored_event_and_each_change_is_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = Progress(max_lag=10.0)
    with caplog.at_level(logging.WARNING, logger="linktrack.service.progress"):
        progress.observe(None, now=100.0)
        assert progress.lag == 0.0 and not progress.behind
        progress.observe(95.0, now=100.0)
        assert progress.lag == 5.0 and not progress.behind
        for now in (112.0, 113.0, 114.0):  # behind: said once, not once a batch
            progress.observe(100.0, now=now)
        assert progress.behind and progress.lag == 14.0
        progress.observe(108.0, now=114.0)  # 6 s: under the bound, not yet half of it
        assert progress.behind
        progress.observe(None, now=115.0)
        assert not progress.behind
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "12.0 s behind the click log (the bound is 10 s)" in lines[0]
    assert "caught up" in lines[1]


def test_rate_is_events_over_the_time_since_the_last_report() -> None:
    progress = Progress(max_lag=60.0)
    assert progress.due(0.0)
    assert progress.report(10.0) == (0.0, 0.0, 10.0)
    assert not progress.due(10.0 + HEARTBEAT_SECONDS - 0.1) and progress.due(15.0)
    progress.stored(300)
    progress.stored(200)
    progress.observe(11.0, now=12.0)
    assert progress.report(12.0) == (1.0, 250.0, 12.0)
    assert progress.report(13.0)[1] == 0.0  # a new window: nothing stored in it


def _row(lag: float, at: float, consumer: str = "writer") -> dict[str, object]:
    return {"consumer": consumer, "lag_seconds": lag, "events_per_second": 12.34, "heartbeat_at": at}


@pytest.mark.parametrize(
    ("rows", "now", "state"),
    [
        ([], 100.0, "not_started"),
        ([_row(0.0, 100.0, "writer:redis")], 100.0, "not_started"),  # another log's writer
        ([_row(2.0, 99.0)], 100.0, "ok"),
        ([_row(61.0, 99.0)], 100.0, "behind"),
        ([_row(0.0, 30.0)], 100.0, "stalled"),  # silent for longer than the bound
        ([_row(0.0, 90.0)], 100.0, "ok"),  # silent, but not for long
    ],
)
def test_the_state_comes_from_the_lag_and_how_long_the_writer_has_been_silent(
    rows: list[dict[str, object]], now: float, state: str
) -> None:
    status = writer_status(rows, "writer", 60.0, now)  # type: ignore[arg-type]
    assert status["state"] == state and status["max_lag_seconds"] == 60.0
    if state != "not_started":
        assert status["heartbeat_age_seconds"] == now - rows[0]["heartbeat_at"]  # type: ignore[operator]
        assert status["events_per_second"] == 12.3
