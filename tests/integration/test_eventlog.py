"""Event logs: framing, torn-tail recovery, group commit, segments, Redis consumer groups,
and the one protocol every log keeps."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from helpers import small_tmpfs
from linktrack.adapters.eventlog import (
    EventLog,
    EventLogError,
    FileEventLog,
    MemoryEventLog,
    RedisStreamEventLog,
    parse_position,
)
from linktrack.core.events import encode_event


def _ev(i: int) -> bytes:
    return encode_event(
        "click", kid="k", delivery_id=f"d{i}", link_id=1, href="https://x/", event_id=f"e{i}"
    )


def _ids(items: list[tuple[str, bytes]]) -> list[str]:
    return [orjson.loads(e)["id"] for _, e in items]


@pytest.fixture
def flog(tmp_path: Path) -> Iterator[FileEventLog]:
    log = FileEventLog(tmp_path / "events")
    yield log
    log.close()


def test_events_round_trip_in_order_with_resumable_positions(flog: FileEventLog) -> None:
    for i in range(10):
        flog.append_sync(_ev(i))
    first = flog.read(None, 4)
    assert _ids(first) == ["e0", "e1", "e2", "e3"]
    rest = flog.read(first[-1][0], 100)
    assert _ids(rest) == [f"e{i}" for i in range(4, 10)]
    assert flog.read(rest[-1][0], 100) == []
    seg, off = parse_position(rest[-1][0])
    assert seg == 1 and off == os.path.getsize(flog.dir / f"{seg:016d}.log")


def test_a_second_appender_is_refused(flog: FileEventLog) -> None:
    with pytest.raises(EventLogError, match="another process"):
        FileEventLog(flog.dir)


def test_bad_events_are_refused(flog: FileEventLog) -> None:
    with pytest.raises(EventLogError):
        flog.append_sync(b"")


@pytest.mark.parametrize("cut", [1, 5, 8, 20])
def test_a_torn_tail_is_cut_off_on_open(tmp_path: Path, cut: int) -> None:
    log = FileEventLog(tmp_path)
    for i in range(5):
        log.append_sync(_ev(i))
    log.close()
    path = tmp_path / f"{1:016d}.log"
    size = path.stat().st_size
    with open(path, "r+b") as f:  # kill -9 in the middle of the last record
        f.truncate(size - cut)
    reader = FileEventLog(tmp_path, readonly=True)
    assert _ids(reader.read(None, 100)) == ["e0", "e1", "e2", "e3"]  # stops, cuts nothing
    assert path.stat().st_size == size - cut
    log = FileEventLog(tmp_path)
    assert path.stat().st_size < size - cut
    log.append_sync(_ev(99))
    assert _ids(log.read(None, 100)) == ["e0", "e1", "e2", "e3", "e99"]
    log.close()


def test_a_corrupt_or_zero_filled_tail_is_cut_off(tmp_path: Path) -> None:
    log = FileEventLog(tmp_path)
    for i in range(3):
        log.append_sync(_ev(i))
    log.close()
    path = tmp_path / f"{1:016d}.log"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # flip a byte inside the last payload: crc mismatch
    path.write_bytes(bytes(data) + b"\0" * 4096)  # and a block of zeros after it
    log = FileEventLog(tmp_path)
    assert _ids(log.read(None, 100)) == ["e0", "e1"]
    log.append_sync(_ev(3))
    assert _ids(log.read(None, 100)) == ["e0", "e1", "e3"]
    log.close()


def test_segments_rotate_and_ack_deletes_consumed_ones(tmp_path: Path) -> None:
    log = FileEventLog(tmp_path, segment_bytes=1000)
    for i in range(40):
        log.append_sync(_ev(i))
    assert len(log.segments()) > 3
    got: list[tuple[str, bytes]] = []
    after = None
    while batch := log.read(after, 7):
        got += batch
        after = batch[-1][0]
    assert _ids(got) == [f"e{i}" for i in range(40)]
    middle = got[20][0]
    log.ack(middle)
    assert log.segments()[0] == parse_position(middle)[0]
    assert _ids(log.read(middle, 100)) == [f"e{i}" for i in range(21, 40)]
    log.ack(got[-1][0])  # the active segment always stays
    assert log.segments() == [log.segments()[-1]]
    log.close()


def test_reading_from_a_deleted_segment_resumes_at_the_next(tmp_path: Path) -> None:
    log = FileEventLog(tmp_path, segment_bytes=500)
    for i in range(20):
        log.append_sync(_ev(i))
    items = log.read(None, 100)
    log.ack(items[10][0])
    old = items[2][0]  # a checkpoint inside a segment that is gone
    assert _ids(log.read(old, 100))[0] != "e3"
    log.close()


def test_group_commit_batches_concurrent_async_appends(flog: FileEventLog) -> None:
    async def main() -> None:
        async def appender(worker: int) -> None:
            for i in range(50):
                await flog.append(_ev(worker * 1000 + i))

        await asyncio.gather(*(appender(w) for w in range(64)))

    asyncio.run(main())
    assert flog.stats.records == 64 * 50
    # 3,200 appends covered by far fewer fsyncs: they were grouped.
    assert flog.stats.fsyncs < flog.stats.records / 4
    assert flog.stats.largest_batch > 8
    assert len(flog.read(None, 10_000)) == 3200


def test_sync_appends_from_threads_share_fsyncs_too(flog: FileEventLog) -> None:
    def worker(w: int) -> None:
        for i in range(30):
            flog.append_sync(_ev(w * 100 + i))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert flog.stats.records == 480
    assert flog.stats.fsyncs < 480
    assert sorted(_ids(flog.read(None, 1000))) == sorted(
        f"e{w * 100 + i}" for w in range(16) for i in range(30)
    )


def test_append_returns_only_after_the_covering_fsync(tmp_path: Path) -> None:
    log = FileEventLog(tmp_path)
    calls: list[int] = []
    real = os.fdatasync

    def slow_sync(fd: int) -> None:
        time.sleep(0.05)
        real(fd)
        calls.append(fd)

    os.fdatasync = slow_sync  # type: ignore[assignment]
    try:

        async def main() -> None:
            await log.append(_ev(1))
            assert calls, "append returned before its fsync"

        asyncio.run(main())
    finally:
        os.fdatasync = real
        log.close()


def test_memory_log_follows_the_protocol() -> None:
    log = MemoryEventLog()
    for i in range(5):
        log.append_sync(_ev(i))
    asyncio.run(log.append(_ev(5)))
    first = log.read(None, 2)
    assert _ids(first) == ["e0", "e1"]
    assert _ids(log.read(first[-1][0], 10)) == ["e2", "e3", "e4", "e5"]


# ----------------------------------------------------------------------- redis


@pytest.fixture
def stream(redis_url: str) -> Iterator[str]:
    import redis

    name = f"linktrack:test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name)
    client.close()


def test_redis_append_read_ack(redis_url: str, stream: str) -> None:
    log = RedisStreamEventLog(redis_url, stream, consumer="c1")

    async def main() -> None:
        await asyncio.gather(*(log.append(_ev(i)) for i in range(20)))
        await log.aclose()

    asyncio.run(main())
    log.append_sync(_ev(20))
    items = log.read(None, 100)
    assert sorted(_ids(items)) == sorted(f"e{i}" for i in range(21))
    assert log.pending_count() == 21
    log.ack(items[-1][0])
    assert log.pending_count() == 0
    assert log.read(None, 100) == []
    log.close()


def test_redis_unacked_entries_come_back_first(redis_url: str, stream: str) -> None:
    log = RedisStreamEventLog(redis_url, stream, consumer="c1")
    for i in range(5):
        log.append_sync(_ev(i))
    first = log.read(None, 3)  # a commit fails: no ack
    assert _ids(first) == ["e0", "e1", "e2"]
    again = log.read(None, 10)
    assert _ids(again) == ["e0", "e1", "e2"]
    log.ack(again[-1][0])
    assert _ids(log.read(None, 10)) == ["e3", "e4"]
    log.close()


def test_redis_entries_of_a_dead_consumer_are_claimed(redis_url: str, stream: str) -> None:
    dead = RedisStreamEventLog(redis_url, stream, consumer="dead")
    for i in range(4):
        dead.append_sync(_ev(i))
    assert len(dead.read(None, 10)) == 4  # then it dies without acking
    alive = RedisStreamEventLog(redis_url, stream, consumer="alive", claim_idle_ms=1)
    time.sleep(0.01)
    claimed = alive.read(None, 10)
    assert _ids(claimed) == ["e0", "e1", "e2", "e3"]
    alive.ack(claimed[-1][0])
    assert alive.pending_count() == 0
    dead.close()
    alive.close()


def test_redis_maxlen_trims_the_stream(redis_url: str, stream: str) -> None:
    import redis

    log = RedisStreamEventLog(redis_url, stream, maxlen=10)
    for i in range(500):
        log.append_sync(_ev(i))
    client = redis.Redis.from_url(redis_url)
    assert client.xlen(stream) < 500
    client.close()
    log.close()


# ------------------------------------------------------- every log, one protocol


@pytest.fixture(params=["file", "memory", "redis"])
def any_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    log: EventLog
    if request.param == "file":
        log = FileEventLog(tmp_path / "events")
    elif request.param == "memory":
        log = MemoryEventLog()
    else:
        redis_url = request.getfixturevalue("redis_url")
        log = RedisStreamEventLog(redis_url, request.getfixturevalue("stream"), consumer="c1")
    yield log
    log.close()


def _reader(log: EventLog) -> EventLog:
    """Another reader of what `log` holds, as the writer would open it."""
    if isinstance(log, FileEventLog):
        return FileEventLog(log.dir, readonly=True)
    if isinstance(log, RedisStreamEventLog):
        return RedisStreamEventLog(log.url, log.stream, consumer="c2")
    return log


async def _release(log: EventLog) -> None:
    """Close a Redis log's connection of the running loop (the others hold none)."""
    if isinstance(log, RedisStreamEventLog):
        await log.aclose()


def test_append_then_calls_back_with_none_once_the_event_is_readable(any_log: EventLog) -> None:
    seen: set[str] = set()
    after: str | None = None
    calls: list[tuple[str, BaseException | None, bool, int]] = []

    def then_for(event_id: str) -> Callable[[BaseException | None], None]:
        def then(error: BaseException | None) -> None:
            nonlocal after
            for position, event in any_log.read(after, 1000):
                seen.add(orjson.loads(event)["id"])
                after = position
            if after is not None:
                any_log.ack(after)
            calls.append((event_id, error, event_id in seen, threading.get_ident()))

        return then

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for turn in range(3):  # several appends in one loop turn, three times
            for i in range(5):
                any_log.append_then(_ev(turn * 10 + i), loop, then_for(f"e{turn * 10 + i}"))
            assert len(calls) == turn * 5, "then ran before append_then returned"
            for _ in range(1000):
                if len(calls) == (turn + 1) * 5:
                    break
                await asyncio.sleep(0.005)
        await _release(any_log)

    asyncio.run(main())
    wanted = [f"e{r * 10 + i}" for r in range(3) for i in range(5)]
    assert sorted(c[0] for c in calls) == sorted(wanted)
    assert all(error is None and readable for _, error, readable, _ in calls)
    assert {c[3] for c in calls} == {threading.get_ident()}  # in the loop's thread


def test_append_and_append_sync_are_readable_and_survive_close(any_log: EventLog) -> None:
    any_log.append_sync(_ev(0))
    thread = threading.Thread(target=any_log.append_sync, args=(_ev(1),))
    thread.start()
    thread.join()

    async def main() -> None:
        await any_log.append(_ev(2))
        await _release(any_log)

    asyncio.run(main())
    any_log.close()
    reader = _reader(any_log)
    assert sorted(_ids(reader.read(None, 100))) == ["e0", "e1", "e2"]
    reader.close()


def test_redis_append_then_reports_a_failed_append(stream: str) -> None:
    log = RedisStreamEventLog("redis://127.0.0.1:1/0", stream)  # nothing listens there
    errors: list[BaseException | None] = []

    async def main() -> None:
        done = asyncio.Event()

        def then(error: BaseException | None) -> None:
            errors.append(error)
            done.set()

        log.append_then(_ev(0), asyncio.get_running_loop(), then)
        await asyncio.wait_for(done.wait(), 30)
        await log.aclose()

    asyncio.run(main())
    assert len(errors) == 1 and isinstance(errors[0], EventLogError)
    log.close()


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB file system (tmpfs) of its own: a data directory that fills up for real."""
    with small_tmpfs(tmp_path / "volume", "256k") as where:
        yield where


def test_a_full_volume_recovers_by_itself_once_the_writer_has_stored_the_log(
    small_volume: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = FileEventLog(small_volume / "events")
    reader = FileEventLog(small_volume / "events", readonly=True)
    accepted: list[bytes] = []
    try:
        refused = 0
        for i in range(20_000):
            event = _ev(i)
            try:
                log.append_sync(event)
            except EventLogError:
                refused += 1
                if refused == 50:
                    break
                continue
            accepted.append(event)
        assert refused == 50 and accepted  # the volume filled up: appends are refused
        # Nothing half-written: the log holds exactly the accepted events.
        items = reader.read(None, 100_000)
        assert [payload for _, payload in items] == accepted
        # The writer stores them and acks: the full segment is freed, appends work again.
        reader.ack(items[-1][0])
        after = _ev(99_999)
        log.append_sync(after)
        assert [payload for _, payload in reader.read(items[-1][0], 10)] == [after]
    finally:
        reader.close()
        log.close()
    failing = [r for r in caplog.records if "writes fail" in r.getMessage()]
    assert len(failing) == 1  # one line for the state change, not one per refused click
    assert any("writes work again" in r.getMessage() for r in caplog.records)
