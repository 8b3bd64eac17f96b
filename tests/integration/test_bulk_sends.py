"""The message-kinds service in process, on SQLite and PostgreSQL: how a job counts people,
splits newsletter contents, and reports a send that stops."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.audience import parse_audience
from linktrack.service.bulk_sends import BulkSends
from linktrack.service.containers import Containers, NewContainer
from linktrack.service.keys import KeyStore
from linktrack.service.sending import Sender

BODY = '<a href="https://k.example/{{ customer.id }}">hi {{ trigger.x }}</a>'


def setup(engine: Engine, parts: list[dict[str, Any]]) -> tuple[BulkSends, model.Workspace, model.Container]:
    ws_id = store.create_workspace(engine, "w", {"tracking_domain": "t.example.com"}).id
    ws = store.get_workspace(engine, ws_id)
    assert ws is not None
    kinds = BulkSends(Containers(engine), Sender(engine, KeyStore(engine), has_transport={}), batch=3)
    created, _ = kinds.containers.create(ws, NewContainer("newsletter", "N", parts, {}))
    return kinds, ws, kinds.containers.get(ws, "newsletter", created.id)


def content(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "channel": "email", "subject": name, "body": BODY, "tracked": True, **extra}


def send(kinds: BulkSends, ws: model.Workspace, container: model.Container, body: dict[str, Any]) -> model.SendJob:
    audience = parse_audience(body)
    job = store.create_job(kinds.engine, container, audience.summary, len(audience.listed))
    seen: list[model.SendJob] = []
    done = kinds.run(job, ws, container, audience, body.get("data", {}), seen.append)
    assert [j.total for j in seen] == [done.total] * len(seen)
    assert [j.sent for j in seen] == sorted(j.sent for j in seen)  # only forward
    return done


def test_a_job_counts_sent_failed_and_skipped_people(engine: Engine) -> None:
    kinds, ws, container = setup(engine, [content("A")])
    for i in range(5):
        store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@example.com"})
    store.upsert_person(engine, ws.id, "quiet", {"email": "q@example.com", "unsubscribed": True})
    store.upsert_person(engine, ws.id, "nomail", {})
    listed = [{"id": "p0"}, {"id": "p1"}, {"email": "P0@example.com"}, {"id": "quiet"},
              {"id": "nomail"}, {"id": "ghost"}, {"id": "p2"}, {"id": "p3", "data": {"x": 2}},
              {"id": "p4"}]  # fmt: skip
    done = send(kinds, ws, container, {"data": {"x": 1}, "per_user_data": listed})
    # p0 twice (by id and email): skipped once; unsubscribed: skipped; no email, unknown: failed.
    assert (done.status, done.total, done.sent, done.failed, done.skipped) == ("done", 9, 5, 2, 2)
    assert [e["identifier"] for e in done.errors] == ["nomail", "ghost"]
    assert done.errors[0]["error"] == "the person has no address for email"
    with engine.connect() as conn:
        assert store.message_metrics(conn, kinds.containers.message_ids(container))["sent"] == 5
        # One link per template href (Liquid in the href): one link however many people.
        assert len(store.top_links(conn, kinds.containers.message_ids(container))) == 1
    bodies = {d.recipient: d.body for d in store.list_deliveries(engine, ws.id)}
    assert "hi 2" in (bodies["p3@example.com"] or "") and "hi 1" in (bodies["p4@example.com"] or "")


def test_several_contents_split_the_audience_evenly_and_stably(engine: Engine) -> None:
    kinds, ws, container = setup(engine, [content("A"), content("B")])
    for i in range(200):
        store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@example.com"})
    every = {"recipients": {"attribute": {"field": "email", "operator": "exists"}}}
    assert send(kinds, ws, container, every).sent == 200
    a, b = kinds.containers.actions(container)
    first = Counter(d.message_id for d in store.list_deliveries(engine, ws.id, limit=1000))
    assert first[a.id] + first[b.id] == 200 and 70 < first[a.id] < 130
    send(kinds, ws, container, every)
    by_person: dict[int | None, set[int]] = {}
    for d in store.list_deliveries(engine, ws.id, limit=1000):
        by_person.setdefault(d.person_id, set()).add(d.message_id)
    assert all(len(messages) == 1 for messages in by_person.values())  # same content each time


def test_a_send_that_stops_is_failed_with_the_reason(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds, ws, container = setup(engine, [content("A")])
    for i in range(7):
        store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@example.com"})
    calls = 0
    real = store.people_by_identifiers

    def flaky(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the store went away")
        return real(*args)

    monkeypatch.setattr(store, "people_by_identifiers", flaky)
    done = send(kinds, ws, container, {"ids": [f"p{i}" for i in range(7)]})
    assert (done.status, done.total, done.sent) == ("failed", 7, 3)  # the first batch of 3 stays
    assert done.errors[-1] == {"error": "send stopped: the store went away"}
    assert done.finished_at is not None
