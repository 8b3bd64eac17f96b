"""A person's activities, paged (`limit`, `start`, `next`) and filtered by `type`, over real
sockets while new clicks keep arriving."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import httpx

from server import app_client, poll, running

BODY = "".join(f'<a href="https://feed.example/{i}">{i}</a>' for i in range(3))


def _entry(a: dict[str, object]) -> tuple[object, ...]:
    return (a["type"], a["timestamp"], a["delivery_id"], a.get("link_id"))


def test_activities_page_by_three_while_clicks_arrive(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        links = []
        for n in range(3):
            sent = app.post("/v1/send/email", json={
                "to": "pat@example.com", "identifiers": {"id": "pat"}, "subject": f"s{n}",
                "body": BODY,
            }).json()["delivery_id"]  # fmt: skip
            body = app.get(f"/v1/deliveries/{sent}").json()["delivery"]["body"]
            links += re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        with httpx.Client() as web:
            for link in links:  # 3 sends, 9 clicks, and the open each first click implies
                assert web.get(link).status_code == 302
        feed = "/v1/customers/pat/activities"
        whole = poll(lambda: app.get(feed).json(),
                     lambda got: len(got["activities"]) == 15)["activities"]  # fmt: skip
        assert app.get(feed).json()["next"] == ""

        stop = threading.Event()

        def click_on() -> None:  # new clicks, stored while the pages are read
            with httpx.Client() as web:
                while not stop.is_set():
                    web.get(links[0])
                    stop.wait(0.05)

        clicker = threading.Thread(target=click_on)
        clicker.start()
        try:
            pages, start = [], None
            while True:
                params = {"limit": 3, **({"start": start} if start else {})}
                got = app.get(feed, params=params).json()
                assert len(got["activities"]) <= 3
                pages.append(got["activities"])
                start = got["next"]
                if not start:
                    break
                poll(lambda: app.get(feed).json()["activities"][0]["timestamp"],
                     lambda newest: newest > whole[0]["timestamp"], timeout=10)  # fmt: skip
        finally:
            stop.set()
            clicker.join()
        first_seen = pages[0]
        later = [_entry(a) for page in pages[1:] for a in page]
        # The first page may show clicks newer than `whole`; every later page holds exactly
        # what followed it then, each once, whatever arrived meanwhile.
        assert len(later) == len(set(later))
        expected = [_entry(a) for a in whole]
        cut = expected.index(_entry(first_seen[-1])) + 1
        assert later == expected[cut:]
        assert len(app.get(feed, params={"limit": 100}).json()["activities"]) > 15


def test_activity_type_filters_and_bad_paging(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path}/t.db", tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json={
            "to": "lee@example.com", "identifiers": {"id": "lee"}, "subject": "s", "body": BODY,
        }).json()["delivery_id"]  # fmt: skip
        body = app.get(f"/v1/deliveries/{sent}").json()["delivery"]["body"]
        (first, *_) = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        assert httpx.get(first).status_code == 302
        feed = "/v1/customers/lee/activities"
        poll(lambda: app.get(feed).json()["activities"], lambda got: len(got) == 3)

        def types(kind: str) -> list[object]:
            got = app.get(feed, params={"type": kind})
            assert got.status_code == 200, got.text
            return [a["type"] for a in got.json()["activities"]]

        assert types("clicked_email") == ["clicked"]
        assert types("clicked") == ["clicked"]
        assert types("sent_email") == ["sent"]
        assert types("clicked_sms") == []
        assert types("opened_email") == ["opened"]  # the open the click implies
        assert app.get(feed, params={"type": "clicks"}).status_code == 400
        assert app.get(feed, params={"limit": 101}).status_code == 400
        assert app.get(feed, params={"limit": 0}).status_code == 400
        bad = app.get(feed, params={"start": "not-a-cursor"})
        assert bad.status_code == 422 and "start" in bad.json()["meta"]["error"]


def _all_pages(app: httpx.Client, path: str, key: str, between: object = None) -> list[object]:
    """Every entry of a list, 2 a page, calling `between` after each page."""
    seen: list[object] = []
    start = ""
    while True:
        got = app.get(path, params={"limit": 2, **({"start": start} if start else {})})
        assert got.status_code == 200, got.text
        entries = got.json()[key]
        assert len(entries) <= 2
        seen += [e.get("id") for e in entries]
        start = got.json()["next"]
        if not start:
            return seen
        if callable(between):
            between()


def test_lists_page_by_keyset_while_rows_are_added(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path}/p.db", tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        lists = {
            "/v1/transactional": ("messages", lambda n: {"name": f"t{n}", "body": BODY}),
            "/v1/newsletters": ("newsletters",
                                lambda n: {"name": f"n{n}", "subject": "s", "body": BODY}),
        }  # fmt: skip
        for path, (key, make) in lists.items():
            made = [app.post(path, json=make(n)).json() for n in range(5)]
            assert len(made) == 5
            before = [e["id"] for e in app.get(path).json()[key]]
            assert len(before) == 5 and before == sorted(before, reverse=True)  # newest first
            added = iter(range(100, 110))

            def add(path: str = path, make: Any = make, added: Any = added) -> None:
                app.post(path, json=make(next(added)))

            paged = _all_pages(app, path, key, add)
            assert paged == before  # newer rows never shift one onto the next page
        for n in range(5):  # no relay configured: each lands in the outbox
            app.post("/v1/send/email", json={"to": f"o{n}@example.com", "body": BODY,
                                             "identifiers": {"id": f"o{n}"}, "subject": "s"})  # fmt: skip
        outbox = [d["id"] for d in app.get("/v1/outbox").json()["deliveries"]]
        assert len(outbox) == 5
        assert _all_pages(app, "/v1/outbox", "deliveries") == outbox
        for path in ("/v1/transactional", "/v1/campaigns", "/v1/outbox"):
            bad = app.get(path, params={"start": "nope"})
            assert bad.status_code == 422, (path, bad.text)
        assert app.get("/v1/campaigns", params={"limit": 101}).status_code == 400


def test_messages_are_deliveries_in_customerio_shape(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path}/m.db", tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        template = app.post("/v1/transactional", json={"name": "t", "body": BODY}).json()
        tid = template["transactional_message"]["id"]
        campaign = app.post("/v1/campaigns", json={
            "name": "c", "actions": [{"subject": "s", "body": BODY}],
        }).json()["campaign"]  # fmt: skip
        sent = app.post("/v1/send/email", json={
            "transactional_message_id": tid, "to": "m@example.com", "identifiers": {"id": "m"},
        }).json()["delivery_id"]  # fmt: skip
        triggered = app.post(f"/v1/campaigns/{campaign['id']}/trigger",
                             json={"identifiers": {"id": "m"}})  # fmt: skip
        assert triggered.status_code == 200, triggered.text
        body = app.get(f"/v1/deliveries/{sent}").json()["delivery"]["body"]
        (first, *_) = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        assert httpx.get(first).status_code == 302
        one = poll(lambda: app.get(f"/v1/messages/{sent}").json()["message"],
                   lambda m: "clicked" in m["metrics"])  # fmt: skip
        assert one["id"] == sent and one["type"] == "email"
        assert one["transactional_message_id"] == tid and one["campaign_id"] is None
        assert one["customer_id"] == "m" and one["customer_identifiers"]["id"] == "m"
        assert one["recipient"] == "m@example.com"
        assert one["metrics"]["created"] <= one["metrics"]["opened"] <= one["metrics"]["clicked"]
        listed = app.get("/v1/messages", params={"type": "email"}).json()
        assert [m["id"] for m in listed["messages"]][1] == sent and listed["next"] == ""
        action = listed["messages"][0]
        assert action["campaign_id"] == campaign["id"]
        assert action["action_id"] == campaign["actions"][0]["id"]
        assert app.get("/v1/messages", params={"type": "sms"}).json()["messages"] == []
        assert _all_pages(app, "/v1/messages", "messages") == [m["id"] for m in listed["messages"]]
        assert app.get("/v1/messages/nope").status_code == 404
        assert app.get("/v1/messages", params={"type": "fax"}).status_code == 400
