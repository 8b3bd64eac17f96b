"""Segment membership on real SQLite and PostgreSQL: the first-click index read as sets.

delivery_links rows are written as the writer leaves them (first, first human and
first machine times per delivery and link), so the queries read what production has.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from linktrack.adapters import store
from linktrack.adapters.store.schema import deliveries, delivery_links
from linktrack.core.audience import Condition
from linktrack.core.errors import NotFoundError
from linktrack.core.segments import AllOf, AnyOf, ClickedLink, MessageRef, Rule


def _world(engine: store.Engine) -> dict[str, Any]:
    """A broadcast with two actions (links a, b; c), a transactional message (link d),
    eight people; people 0–5 clicked as listed."""
    ws = store.create_workspace(engine, "Segments")
    other = store.create_workspace(engine, "Other")
    broadcast = store.create_container(engine, ws.id, "broadcast", "B")
    actions = [store.create_message(engine, ws.id, kind="broadcast", channel="email",
                                    parent_id=broadcast.id) for _ in range(2)]  # fmt: skip
    tx = store.create_message(engine, ws.id, kind="transactional", channel="email")
    foreign = store.create_message(engine, other.id, kind="transactional", channel="email")
    hrefs = {"a": "https://x.example/sale/1", "b": "https://x.example/help", "c": "https://x.example/sale/2",
             "d": "https://x.example/sale/3", "e": "https://x.example/sale/4"}  # fmt: skip
    owner = {"a": actions[0], "b": actions[0], "c": actions[1], "d": tx, "e": foreign}
    link = {k: store.resolve_links(engine, owner[k].id, [(f"url:{h}", h, None)])[0]
            for k, h in hrefs.items()}  # fmt: skip
    people = [store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@x.example",
                                  "plan": "pro" if i % 2 else "free"}) for i in range(8)]  # fmt: skip
    # (person, link, first_ts, first_human_ts)
    clicks = [(0, "a", 100, 100), (0, "b", 110, 110), (1, "a", 200, None), (2, "a", 300, 300),
              (2, "c", 310, 320), (3, "c", 400, 400), (4, "d", 500, 500), (5, "e", 600, 600)]  # fmt: skip
    with engine.begin() as conn:
        for n, (i, k, first, human) in enumerate(clicks):
            delivery = f"d{n}"
            conn.execute(sa.insert(deliveries).values(
                id=delivery, workspace_id=ws.id, message_id=owner[k].id, person_id=people[i].id,
                channel="email", recipient="r", subject="s", settings={}, warnings=[],
                status="sent", created_at=0))  # fmt: skip
            conn.execute(sa.insert(delivery_links).values(
                delivery_id=delivery, link_id=link[k], message_id=owner[k].id,
                person_id=people[i].id, first_ts=first, first_human_ts=human,
                first_machine_ts=None if human == first else first))  # fmt: skip
    return {"ws": ws, "broadcast": broadcast, "actions": actions, "tx": tx, "foreign": foreign}


def _ids(engine: store.Engine, ws_id: int, rule: Rule) -> list[str | None]:
    return [p.external_id for p in store.segment_page(engine, ws_id, rule, None, 1000)]


def test_clicked_link_reads_the_first_click_index(engine: store.Engine) -> None:
    w = _world(engine)
    ws, b = w["ws"].id, MessageRef("broadcast", w["broadcast"].id)
    cases: list[tuple[Rule, list[str]]] = [
        (ClickedLink(b), ["p0", "p2", "p3"]),
        (ClickedLink(b, human_only=False), ["p0", "p1", "p2", "p3"]),
        (ClickedLink(b, "https://x.example/SALE/*"), ["p0", "p2", "p3"]),
        (ClickedLink(MessageRef("broadcast", b.id, w["actions"][0].id)), ["p0", "p2"]),
        (ClickedLink(None, "*/sale/*"), ["p0", "p2", "p3", "p4"]),  # not the other workspace's
        (ClickedLink(MessageRef("transactional", w["tx"].id)), ["p4"]),
        (ClickedLink(b, since=300, until=400), ["p2", "p3"]),  # p2's first human click on c: 320
        (ClickedLink(b, human_only=False, since=310, until=310), ["p2"]),
        (AnyOf((ClickedLink(b, "*/help"), ClickedLink(None, "*/sale/3"))), ["p0", "p4"]),
        (AllOf((ClickedLink(b, "*/sale/1"), ClickedLink(b, "*/sale/2"))), ["p2"]),
        (
            AnyOf(
                (
                    AllOf((ClickedLink(b, "*/sale/1"), ClickedLink(b, "*/help"))),
                    ClickedLink(b, "*/sale/2", since=350),
                )
            ),
            ["p0", "p3"],
        ),
        (AllOf((ClickedLink(b), Condition("plan", "eq", "pro"))), ["p3"]),
        (
            AnyOf((ClickedLink(b, "*/help"), Condition("plan", "eq", "pro"))),
            ["p0", "p1", "p3", "p5", "p7"],
        ),
        (ClickedLink(b, "https://nowhere.example/*"), []),
    ]
    for rule, expected in cases:
        assert _ids(engine, ws, rule) == expected, rule
        assert store.segment_count(engine, ws, rule) == len(expected), rule


def test_pages_by_person_id_and_deleted_people_leave(engine: store.Engine) -> None:
    w = _world(engine)
    ws = w["ws"].id
    rule = ClickedLink(None, human_only=False)  # p0–p4
    seen, after = [], None
    while True:
        page = store.segment_page(engine, ws, rule, after, 2)
        if not page:
            break
        seen += [p.external_id for p in page]
        after = page[-1].id
    assert seen == ["p0", "p1", "p2", "p3", "p4"]
    assert store.delete_person(engine, ws, "p2")
    assert _ids(engine, ws, rule) == ["p0", "p1", "p3", "p4"]
    assert store.segment_count(engine, ws, rule) == 4
    assert store.segment_member_ids(engine, ws, rule) == [
        p.id for p in store.segment_page(engine, ws, rule, None, 10)
    ]


def test_segments_are_the_workspace_s_own(engine: store.Engine) -> None:
    w = _world(engine)
    ws = w["ws"].id
    made = store.create_segment(
        engine, ws, "S", "", ClickedLink(MessageRef("transactional", w["tx"].id))
    )
    assert store.get_segment(engine, ws, made.id) == made
    assert store.get_segment(engine, w["foreign"].workspace_id, made.id) is None
    with pytest.raises(NotFoundError):  # another workspace's message
        store.create_segment(
            engine, ws, "S", "", ClickedLink(MessageRef("transactional", w["foreign"].id))
        )
    assert [s.id for s in store.list_segments(engine, ws)] == [made.id]
    assert not store.delete_segment(engine, w["foreign"].workspace_id, made.id)
    assert store.delete_segment(engine, ws, made.id)
    assert store.get_segment(engine, ws, made.id) is None
