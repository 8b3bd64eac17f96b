"""Report queries on SQLite and PostgreSQL, fed through the real writer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.adapters.eventlog import MemoryEventLog
from linktrack.core import model
from linktrack.core.events import encode_event
from linktrack.core.segments import ClickedLink, MessageRef
from linktrack.service.writer import Writer

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()  # type: ignore[misc]


SENT = utc(2024, 1, 1)
NOW = utc(2024, 2, 15, 12, 30)


@dataclass
class Setup:
    ws: model.NewWorkspace
    message_id: int
    links: list[int]
    deliveries: list[str]
    people: list[model.Person]
    log: MemoryEventLog
    writer: Writer

    def click(self, d: int, link: int, ts: float, ua: str = CHROME) -> None:
        self.log.append_sync(
            encode_event(
                "click",
                kid=self.ws.kid,
                delivery_id=self.deliveries[d],
                link_id=self.links[link],
                href=f"https://example.com/{link}?u={d}",
                ts=ts,
                ua=ua,
            )
        )


def setup(engine: Engine, n: int = 5) -> Setup:
    ws = store.create_workspace(engine, "W")
    m = store.create_message(engine, ws.id, kind="newsletter", channel="email")
    links = [
        store.resolve_link(engine, m.id, "url:https://example.com/0", "https://example.com/0"),
        store.resolve_link(engine, m.id, "url:https://example.com/1", "https://example.com/1"),
        store.resolve_link(engine, m.id, "tag:DOCS", "https://docs.example.org/%_a", "DOCS"),
    ]
    people, ds = [], []
    for i in range(n):
        p = store.upsert_person(engine, ws.id, f"p{i}", {"email": f"p{i}@example.com"})
        people.append(p)
        d = store.create_delivery(
            engine,
            workspace_id=ws.id,
            message_id=m.id,
            person_id=p.id,
            channel="email",
            recipient=p.email or "",
            created_at=SENT,
        )
        store.mark_delivery(engine, d, "sent" if i else "failed", at=SENT)
        ds.append(d)
    log = MemoryEventLog()
    return Setup(ws, m.id, links, ds, people, log, Writer(engine, log))


def test_message_metrics_and_top_links(engine: Engine) -> None:
    s = setup(engine)
    s.click(1, 0, utc(2024, 2, 1, 10))
    s.click(1, 0, utc(2024, 2, 1, 11))  # a repeat click: total 2, unique 1
    s.click(2, 0, utc(2024, 2, 2, 10), ua="curl/8")  # machine
    s.click(3, 1, utc(2024, 2, 2, 10))
    s.writer.drain()
    with engine.connect() as conn:
        m = store.message_metrics(conn, [s.message_id])
        top = store.top_links(conn, [s.message_id])
        assert store.message_metrics(conn, [])["sent"] == 0
    assert m == {
        "sent": 5,
        "delivered": 4,
        "queued": 0,
        "failed": 1,
        "opened": 3,
        "clicked": 3,
        "human_clicked": 2,
        "open_rate": 0.75,
        "click_rate": 0.75,
        "human_click_rate": 0.5,
        "scheduled": 0,
        "converted": 0,
        "bounced": 0,
        "spammed": 0,
        "dropped": 0,
        "deferred": 0,
    }
    assert [
        (t["link_id"], t["clicks"], t["human_clicks"], t["unique_clicks"], t["human_unique_clicks"])
        for t in top
    ] == [
        (s.links[0], 3, 2, 2, 1),
        (s.links[1], 1, 1, 1, 1),
        (s.links[2], 0, 0, 0, 0),  # never clicked, still listed
    ]
    assert top[2]["tag"] == "DOCS" and top[0]["machine_clicks"] == 1


def test_link_series_buckets_end_at_now(engine: Engine) -> None:
    s = setup(engine)
    s.click(1, 0, utc(2024, 1, 31, 23, 30))
    s.click(1, 0, utc(2024, 2, 15, 10, 5))  # repeat of the same pair, two weeks later
    s.click(2, 0, utc(2024, 2, 15, 12, 1), ua="curl/8")
    s.click(3, 1, utc(2024, 2, 15, 12, 29))
    s.writer.drain()

    def series(
        period: store.Period, steps: int, unique: bool = False
    ) -> dict[int, dict[str, list[int]]]:
        with engine.connect() as conn:
            out = store.link_series(conn, [s.message_id], period, steps, unique, NOW)
        return {x["link"]["id"]: x["metric"]["series"] for x in out["links"]}

    hours = series("hours", 3)
    assert hours[s.links[0]] == {
        "clicked": [1, 0, 1],
        "human_clicked": [1, 0, 0],
        "machine_clicked": [0, 0, 1],
    }
    assert hours[s.links[1]]["clicked"] == [0, 0, 1]
    assert hours[s.links[2]]["clicked"] == [0, 0, 0]
    assert series("days", 16)[s.links[0]]["clicked"] == [1] + [0] * 14 + [2]
    # 2024-01-31 is a Wednesday: its week starts Monday the 29th; Feb 15 is in the week of the 12th.
    assert series("weeks", 3)[s.links[0]]["clicked"] == [1, 0, 2]
    assert series("months", 3)[s.links[0]] == {
        "clicked": [0, 1, 2],
        "human_clicked": [0, 1, 1],
        "machine_clicked": [0, 0, 1],
    }
    # Unique: the pair (delivery 1, link 0) counts once, in the bucket of its first click.
    assert series("months", 2, unique=True)[s.links[0]] == {
        "clicked": [1, 1],
        "human_clicked": [1, 0],
        "machine_clicked": [0, 1],
    }
    assert series("days", 16, unique=True)[s.links[0]]["clicked"] == [1] + [0] * 14 + [1]
    with engine.connect() as conn:
        out = store.link_series(conn, [s.message_id], "hours", 1, False, NOW)
    assert out["links"][0]["link"] == {"id": s.links[0], "href": "https://example.com/0"}
    with engine.connect() as conn, pytest.raises(ValueError):
        store.link_series(conn, [s.message_id], "years", 1, False, NOW)  # type: ignore[arg-type]


def test_bucket_starts_across_a_year_boundary() -> None:
    starts = store.bucket_starts("months", 3, utc(2024, 1, 10))
    assert starts == [utc(2023, 11, 1), utc(2023, 12, 1), utc(2024, 1, 1)]
    assert store.bucket_starts("weeks", 1, utc(2024, 1, 7, 23))[0] == utc(2024, 1, 1)


def test_segment_of_people_who_clicked_a_matching_link(engine: Engine) -> None:
    s = setup(engine)
    s.click(1, 0, utc(2024, 2, 1))
    s.click(2, 1, utc(2024, 2, 1))
    s.click(3, 1, utc(2024, 2, 1), ua="curl/8")  # only a machine clicked for person 3
    s.click(4, 2, utc(2024, 2, 1))
    s.writer.drain()
    other = store.create_workspace(engine, "other")

    def seg(
        pattern: str,
        human_only: bool = True,
        message: MessageRef | None = None,
        workspace_id: int = s.ws.id,
    ) -> tuple[int, list[str | None]]:
        rule = ClickedLink(message, pattern, human_only)
        people = store.segment_page(engine, workspace_id, rule, None, 1000)
        return store.segment_count(engine, workspace_id, rule), [p.external_id for p in people]

    assert seg("https://example.com/*") == (2, ["p1", "p2"])
    assert seg("https://example.com/*", human_only=False) == (3, ["p1", "p2", "p3"])
    assert seg("https://EXAMPLE.com/1") == (1, ["p2"])  # case is ignored
    assert seg("*docs*%_a") == (1, ["p4"])  # % and _ are literal, only * is a wildcard
    assert seg("*docs*%Xa") == (0, [])
    assert seg("*", workspace_id=other.id) == (0, [])
    store.delete_person(engine, s.ws.id, "p2")  # a deleted person leaves every segment
    assert seg("*", human_only=False) == (3, ["p1", "p3", "p4"])


def test_clicks_csv_export(engine: Engine) -> None:
    s = setup(engine)
    s.click(1, 0, utc(2024, 2, 1, 10))
    s.click(2, 1, utc(2024, 2, 2, 10), ua="curl/8")
    s.writer.drain()
    with engine.connect() as conn:
        everything = list(store.clicks_csv_rows(conn, s.ws.id))
        feb2 = list(
            store.clicks_csv_rows(conn, s.ws.id, start=utc(2024, 2, 2), end=utc(2024, 2, 3))
        )
        humans = list(
            store.clicks_csv_rows(conn, s.ws.id, message_id=s.message_id, human_only=True)
        )
        elsewhere = list(store.clicks_csv_rows(conn, s.ws.id + 1))
    header = everything[0]
    assert header == list(store.CSV_HEADER) and len(everything) == 3
    first = dict(zip(header, everything[1], strict=True))
    assert first["timestamp"] == "2024-02-01T10:00:00.000Z"
    assert (first["delivery_id"], first["link_id"], first["person_id"]) == (
        s.deliveries[1],
        s.links[0],
        "p1",
    )
    assert first["person_email"] == "p1@example.com" and first["machine"] is False
    assert [r[2] for r in feb2[1:]] == [s.deliveries[2]]
    assert dict(zip(header, feb2[1], strict=True))["machine_reasons"] == "bot_user_agent"
    assert [r[2] for r in humans[1:]] == [s.deliveries[1]]
    assert elsewhere == [header]
