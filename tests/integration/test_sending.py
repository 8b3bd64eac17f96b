"""A send renders before its write transaction opens: a slow template holds no lock.

Checked from inside the render: another connection must be able to take
SQLite's write lock at that moment.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from linktrack.adapters import store
from linktrack.core.audience import parse_audience
from linktrack.core.compose import Message
from linktrack.service.bulk_sends import BulkSends
from linktrack.service.campaigns import Campaigns, Event
from linktrack.service.containers import Containers, NewContainer
from linktrack.service.keys import KeyStore
from linktrack.service.send_requests import parse_send
from linktrack.service.sending import Sender

BODY = '<a href="https://send.example/{{ customer.id }}">hi</a> <a href="https://send.example/x">x</a>'


@pytest.fixture
def lock_checks(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Each render records whether the store's write lock was free while it ran."""
    path = sqlite_url.removeprefix("sqlite:///")
    free: list[bool] = []
    compose = Message.compose

    def checking(self: Message, tracking: Any) -> Any:
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:  # "database is locked"
            free.append(False)
        finally:
            other.close()
        return compose(self, tracking)

    monkeypatch.setattr(Message, "compose", checking)
    yield free


@pytest.fixture
def sender(sqlite_url: str) -> Iterator[tuple[Sender, store.Engine]]:
    engine = store.make_engine(sqlite_url)
    store.migrate(engine)
    yield Sender(engine, KeyStore(engine), has_transport={}), engine
    engine.dispose()


def test_a_send_to_a_new_and_a_known_person_renders_outside_the_transaction(
    sender: tuple[Sender, store.Engine], lock_checks: list[bool]
) -> None:
    send, engine = sender
    ws = store.get_workspace(engine, store.create_workspace(engine, "w").id)
    assert ws is not None
    message = store.create_message(engine, ws.id, kind="transactional", channel="email", body=BODY)
    for _ in range(2):  # the person is created by the first send, known to the second
        request = parse_send(
            {"transactional_message_id": message.id, "identifiers": {"id": "p1"},
             "to": "p1@example.com"},
            "email",
        )  # fmt: skip
        result = send.send(ws, request)
        delivery = store.get_delivery(engine, ws.id, result.delivery_id)
        assert delivery is not None and delivery.person_id is not None
        assert len(delivery.links) == 2 and all(link.id > 0 for link in delivery.links)
    literal = parse_send({"identifiers": {"id": "p2"}, "to": "p2@example.com", "body": BODY}, "email")
    send.send(ws, literal)  # renders, makes the ad-hoc message, renders for it
    send.send(ws, literal)
    assert lock_checks == [True] * 5  # the first literal send composes twice


def test_campaign_triggers_and_bulk_sends_render_outside_the_transaction(
    sender: tuple[Sender, store.Engine], lock_checks: list[bool]
) -> None:
    send, engine = sender
    ws = store.get_workspace(engine, store.create_workspace(engine, "w").id)
    assert ws is not None
    containers = Containers(engine)
    action = {"name": "a", "channel": "email", "subject": "s", "body": BODY, "tracked": True}
    campaign, _ = containers.create(ws, NewContainer("campaign", "C", [action], {}))
    done = Campaigns(containers, send).trigger(ws, campaign, ("email", "new@example.com"), Event("e", {}))
    assert len(done.deliveries) == 1
    for i in range(5):
        store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@example.com"})
    news, _ = containers.create(ws, NewContainer("newsletter", "N", [action], {}))
    audience = parse_audience({"ids": [f"p{i}" for i in range(5)]})
    bulk = BulkSends(containers, send, batch=2)
    job = store.create_job(engine, news, audience.summary, len(audience.listed))
    assert bulk.run(job, ws, news, audience, {}).sent == 5
    assert lock_checks == [True] * 6
    links = store.list_links(engine, containers.message_ids(news))
    assert len(links) == 2  # one per template href, created once across the batches
