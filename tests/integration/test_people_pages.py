"""The People pages' reads on real SQLite and PostgreSQL: search, keyset pages, human click
counts, who clicked a link, and never another workspace's rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from linktrack.adapters import store
from linktrack.adapters.store.schema import clicks, deliveries, delivery_links


def _world(engine: store.Engine) -> dict[str, Any]:
    ws = store.create_workspace(engine, "People")
    other = store.create_workspace(engine, "Other")
    campaign = store.create_container(engine, ws.id, "campaign", "C")
    action = store.create_message(engine, ws.id, kind="campaign", channel="email",
                                  parent_id=campaign.id, name="Hello")  # fmt: skip
    foreign = store.create_message(engine, other.id, kind="transactional", channel="email")
    (sale,) = store.resolve_links(engine, action.id, [("url:s", "https://x.example/sale", "hero")])
    (theirs,) = store.resolve_links(engine, foreign.id, [("url:t", "https://x.example/t", None)])
    people = [store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@x.example"})
              for i in range(6)]  # fmt: skip
    stranger = store.upsert_person(engine, other.id, "p0", {"email": "p0@x.example"})
    # (person, machine?) clicks on sale; person 1 only a machine's, person 2 twice.
    rows = [(0, False), (1, True), (2, False), (2, False), (3, False), (3, True)]
    with engine.begin() as conn:
        for n, (i, machine) in enumerate(rows):
            delivery = f"d{i}"
            if n == 0 or rows[n - 1][0] != i:
                conn.execute(sa.insert(deliveries).values(
                    id=delivery, workspace_id=ws.id, message_id=action.id,
                    person_id=people[i].id, channel="email", recipient="r", subject="s",
                    settings={}, warnings=[], status="sent", created_at=0))  # fmt: skip
                human = [j for j, (k, m) in enumerate(rows) if k == i and not m]
                conn.execute(sa.insert(delivery_links).values(
                    delivery_id=delivery, link_id=sale, message_id=action.id,
                    person_id=people[i].id, first_ts=n,
                    first_human_ts=float(human[0]) if human else None))  # fmt: skip
            conn.execute(sa.insert(clicks).values(
                event_id=f"e{n}", workspace_id=ws.id, message_id=action.id, delivery_id=delivery,
                person_id=people[i].id, link_id=sale, href="https://x.example/sale", ts=n,
                user_agent="ua", method="GET", machine=machine,
                machine_reasons=["bot_user_agent"] if machine else [], source="http"))  # fmt: skip
        conn.execute(sa.insert(delivery_links).values(
            delivery_id="dx", link_id=theirs, message_id=foreign.id, person_id=stranger.id,
            first_ts=1, first_human_ts=1))  # fmt: skip
    return {"ws": ws, "other": other, "people": people, "sale": sale, "theirs": theirs,
            "action": action, "stranger": stranger}  # fmt: skip


def _ids(people: list[Any]) -> list[str | None]:
    return [p.external_id for p in people]


def test_people_are_searched_and_paged_newest_first(engine: store.Engine) -> None:
    w = _world(engine)
    ws = w["ws"].id
    assert _ids(store.people_page(engine, ws, None, None, 10)) == [f"p{i}" for i in range(5, -1, -1)]
    first = store.people_page(engine, ws, None, None, 4)
    rest = store.people_page(engine, ws, None, first[-1].id, 4)
    assert _ids(first + rest) == [f"p{i}" for i in range(5, -1, -1)]
    assert _ids(store.people_page(engine, ws, "P3@X.ex", None, 10)) == ["p3"]  # email prefix
    assert _ids(store.people_page(engine, ws, "p1", None, 10)) == ["p1"]  # id, or email prefix
    cio = w["people"][4].cio_id
    assert _ids(store.people_page(engine, ws, cio, None, 10)) == ["p4"]
    assert _ids(store.people_page(engine, ws, f"cio_{cio}", None, 10)) == ["p4"]
    assert store.people_page(engine, ws, "p_%", None, 10) == []  # LIKE wildcards are literal
    assert store.people_page(engine, ws, w["stranger"].cio_id, None, 10) == []
    assert _ids(store.people_page(engine, w["other"].id, "p0@", None, 10)) == ["p0"]


def test_human_click_counts_and_who_clicked(engine: store.Engine) -> None:
    w = _world(engine)
    ws, people = w["ws"].id, w["people"]
    counts = store.human_click_counts(engine, ws, [p.id for p in people])
    assert counts == {people[0].id: 1, people[2].id: 2, people[3].id: 1}
    assert store.human_click_counts(engine, w["other"].id, [p.id for p in people]) == {}

    def clickers(human_only: bool, after: int | None = None, limit: int = 10) -> list[Any]:
        found = store.link_clickers(engine, ws, w["sale"], human_only=human_only, after=after,
                                    limit=limit)  # fmt: skip
        return [(p.external_id, ts) for p, ts in found]

    assert clickers(True) == [("p0", 0.0), ("p2", 2.0), ("p3", 4.0)]
    assert clickers(False) == [("p0", 0.0), ("p1", 1.0), ("p2", 2.0), ("p3", 4.0)]
    assert clickers(False, after=people[1].id, limit=1) == [("p2", 2.0)]
    assert store.link_clickers(engine, ws, w["theirs"], human_only=False, after=None,
                               limit=10) == []  # fmt: skip

    refs = store.link_refs(engine, ws, [w["sale"], w["theirs"]])
    assert list(refs) == [w["sale"]]
    sale = refs[w["sale"]]
    assert (sale.href, sale.tag, sale.message.name) == ("https://x.example/sale", "hero", "Hello")
    assert (sale.message.kind, sale.message.parent_id) == ("campaign", w["action"].parent_id)
    assert list(store.message_refs(engine, w["other"].id, [w["action"].id])) == []
