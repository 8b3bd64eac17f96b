"""The reporting webhook outbox on real SQLite and PostgreSQL, sent to a real receiver.

Events go out in stored order per webhook; a refused one holds back only its
own webhook's later events, is retried after a doubling wait, and is given up
(status failed) after three days, letting the next ones go.
"""

from __future__ import annotations

import time

import orjson

from linktrack.adapters import store
from linktrack.core.webhooks import RETRY_FOR, retry_delay
from linktrack.service.reporting import ReportingDispatcher
from sink import WebhookSink


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _hook(engine: store.Engine, ws: int, url: str) -> dict[str, object]:
    return store.create_webhook(engine, ws, "k" * 64, name="h", endpoint=url,
                                events=["email_clicked"], disabled=False)  # fmt: skip


def _queue(engine: store.Engine, hook: object, *names: str) -> None:
    store.queue_events(engine, [
        {"webhook_id": hook, "event_id": n, "metric": "email_clicked",
         "body": orjson.dumps({"event_id": n}).decode()} for n in names])  # fmt: skip


def test_in_order_held_back_by_a_refusal_then_given_up(engine: store.Engine) -> None:
    ws = store.create_workspace(engine, "reporting").id
    with WebhookSink(statuses=[503, 503]) as refusing, WebhookSink() as fine:
        slow, quick = _hook(engine, ws, refusing.url), _hook(engine, ws, fine.url)
        _queue(engine, slow["id"], "e1", "e2", "e3")
        _queue(engine, quick["id"], "q1", "q2")
        _queue(engine, quick["id"], "q1")  # a replay: queued once
        clock = Clock()
        dispatcher = ReportingDispatcher(engine, backoff=10.0, clock=clock)
        # The refusing webhook's first event is tried once; the other webhook is not held up.
        assert dispatcher.run_once() == 2
        assert [r.json["event_id"] for r in refusing.received] == ["e1"]
        assert [r.json["event_id"] for r in fine.accepted()] == ["q1", "q2"]
        assert dispatcher.run_once() == 0  # e1 waits for its retry; e2, e3 wait behind it
        clock.now += retry_delay(1, 10.0)
        assert dispatcher.run_once() == 0  # refused again (the second 503)
        shown = store.get_webhook(engine, ws, int(slow["id"]))  # type: ignore[call-overload]
        assert (shown["pending"], shown["delivered"]) == (3, 0) and "503" in shown["last_error"]
        # Three days on, e1 is given up and the rest go, in order.
        refusing.statuses[:] = [503]
        clock.now += RETRY_FOR
        assert dispatcher.run_once() == 2
        assert [r.json["event_id"] for r in refusing.received] == ["e1", "e1", "e1", "e2", "e3"]
        shown = store.get_webhook(engine, ws, int(slow["id"]))  # type: ignore[call-overload]
        assert (shown["pending"], shown["delivered"], shown["failed"]) == (0, 2, 1)


def test_retry_waits_double_and_are_capped() -> None:
    assert [retry_delay(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(30, 1.0) == 3600.0 and retry_delay(10_000, 1.0) == 3600.0
