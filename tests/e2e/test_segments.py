"""Segments end to end, over real sockets: people who clicked links, counted and paged,
and/or with attribute tests, as a broadcast's audience. On SQLite and PostgreSQL.

Human clicks come from a browser's User-Agent more than 2 s after the send (sooner
is `too_fast`); the machine click is a HEAD request.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from server import Mailbox, Server, app_client, poll, running

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
BODY = """<html><body><p>Hi {{ customer.first_name }}</p>
<a href="https://shop.example.com/sale/{{ customer.plan }}">Sale</a>
<a href="https://shop.example.com/help">Help</a></body></html>"""
PEOPLE = {"p1": "pro", "p2": "pro", "p3": "free", "p4": "free", "p5": "free", "p6": "pro"}


def _links(server: Server, mailbox: Mailbox) -> dict[str, list[str]]:
    """Each person's tracked links (sale first, then help), by the mail's recipient."""
    out = {}
    for mail in mailbox.messages:
        html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
        payload = html.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found = re.findall(r'href="(' + re.escape(server.url) + r'/e/c/[^"]+)"', payload.decode())
        out[str(mail["To"]).split("@")[0]] = found
    return out


def _click(url: str, *, machine: bool = False) -> None:
    answer = httpx.request("HEAD" if machine else "GET", url, headers={"User-Agent": CHROME},
                           follow_redirects=False, timeout=30)  # fmt: skip
    assert answer.status_code == 302, answer.text


def _stored(app: httpx.Client) -> int:
    return len(app.get("/v1/exports/clicks.csv").text.strip().splitlines()) - 1


def _segment(app: httpx.Client, conditions: dict[str, Any]) -> int:
    made = app.post("/v1/segments", json={"name": "S", "conditions": conditions})
    assert made.status_code == 201, made.text
    return int(made.json()["segment"]["id"])


def _count(app: httpx.Client, segment: int) -> int:
    return int(app.get(f"/v1/segments/{segment}/customer_count").json()["count"])


def _ids(app: httpx.Client, segment: int) -> list[str]:
    return list(app.get(f"/v1/segments/{segment}/membership").json()["ids"])


def test_segments(db_url: str, tmp_path: Path) -> None:
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        for ident, plan in PEOPLE.items():
            assert track.put(f"/api/v1/customers/{ident}", json={
                "email": f"{ident}@example.com", "first_name": ident, "plan": plan}).is_success  # fmt: skip
        broadcast = app.post("/v1/broadcasts", json={"name": "Sale", "actions": [
            {"subject": "Sale", "body": BODY, "from": "shop@example.com"}]}).json()["broadcast"]  # fmt: skip
        job = app.post(f"/v1/broadcasts/{broadcast['id']}/trigger", json={"ids": list(PEOPLE)})
        assert job.status_code == 202, job.text
        mailbox.wait(len(PEOPLE))
        links = _links(server, mailbox)
        time.sleep(2.5)  # past too_fast
        for ident in ("p1", "p2", "p3"):
            _click(links[ident][0])
        _click(links["p1"][0])  # twice: still one member
        _click(links["p4"][0], machine=True)
        _click(links["p5"][1])  # another link
        poll(lambda: _stored(app), lambda n: n == 6)

        message = {"kind": "broadcast", "id": broadcast["id"]}
        sale = {"message": message, "href": "https://shop.example.com/sale/*"}
        human = _segment(app, {"clicked_link": sale})
        assert _count(app, human) == 3 and _ids(app, human) == ["p1", "p2", "p3"]
        shown = app.get(f"/v1/segments/{human}").json()["segment"]
        assert shown["conditions"] == {"clicked_link": {**sale, "human_only": True}}
        anyone = _segment(app, {"clicked_link": {**sale, "human_only": False}})
        assert _count(app, anyone) == 4
        action = broadcast["actions"][0]["id"]
        any_link = _segment(app, {"clicked_link": {"message": {**message, "action_id": action}}})
        assert _ids(app, any_link) == ["p1", "p2", "p3", "p5"]

        pro = {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}}
        both = _segment(app, {"and": [{"clicked_link": sale}, pro]})
        assert _ids(app, both) == ["p1", "p2"]
        either = _segment(app, {"or": [{"clicked_link": sale}, pro]})
        assert _ids(app, either) == ["p1", "p2", "p3", "p6"] and _count(app, either) == 4
        nested = _segment(app, {"or": [{"and": [{"clicked_link": sale}, pro]},
                                       {"clicked_link": {"href": "*/help"}}]})  # fmt: skip
        assert _ids(app, nested) == ["p1", "p2", "p5"]

        # Paged by 3 while new clicks arrive: every member once.
        first = app.get(f"/v1/segments/{anyone}/membership?limit=3").json()
        assert len(first["ids"]) == 3 and first["next"]
        assert first["identifiers"][0] == {"id": "p1", "email": "p1@example.com",
                                           "cio_id": first["identifiers"][0]["cio_id"]}  # fmt: skip
        _click(links["p6"][0])
        _click(links["p5"][0])
        poll(lambda: _stored(app), lambda n: n == 8)
        seen, start = list(first["ids"]), first["next"]
        while start:
            page = app.get(f"/v1/segments/{anyone}/membership?limit=3&start={start}").json()
            seen += page["ids"]
            start = page["next"]
        assert sorted(seen) == sorted(set(seen)) == ["p1", "p2", "p3", "p4", "p5", "p6"]

        # A broadcast to a segment reaches exactly its members.
        mailbox.messages.clear()
        sent = app.post(f"/v1/broadcasts/{broadcast['id']}/trigger",
                        json={"recipients": {"segment": {"id": both}}})  # fmt: skip
        assert sent.status_code == 202, sent.text
        done = poll(lambda: app.get(f"/v1/broadcasts/{broadcast['id']}/triggers/{sent.json()['id']}")
                    .json(), lambda j: j["status"] != "running")  # fmt: skip
        assert (done["status"], done["total"], done["sent"]) == ("done", 3, 3)  # p6 joined
        mailbox.wait(3)
        assert sorted(str(m["To"]) for m in mailbox.messages) == [
            "p1@example.com", "p2@example.com", "p6@example.com"]  # fmt: skip

        # A deleted person is no member; a deleted segment is gone.
        assert track.delete("/api/v1/customers/p3").is_success
        assert _ids(app, human) == ["p1", "p2", "p5", "p6"]
        assert app.delete(f"/v1/segments/{human}").status_code == 200
        for path in ("", "/customer_count", "/membership"):
            assert app.get(f"/v1/segments/{human}{path}").status_code == 404
        listed = app.get("/v1/segments?limit=2").json()
        assert [s["id"] for s in listed["segments"]] == [nested, either] and listed["next"]


def test_segment_refusals(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        cases = [
            ({"name": "x", "conditions": {"clicked_link": {"href": ""}}}, 400, "href"),
            ({"name": "x", "conditions": {"or": []}}, 400, "conditions.or"),
            ({"name": "x", "conditions": {"clicked_link": {"message": {"kind": "sms", "id": 1}}}},
             400, "message.kind"),
            ({"name": "x", "conditions": {"and": [{"attribute": {"field": ""}}]}}, 400, "and[0]"),
            ({"name": "x", "conditions": {"clicked_link": {"message": {"kind": "broadcast",
                                                                       "id": 99}}}}, 404, "broadcast 99"),
            ({"name": "x", "conditions": {"clicked_link": {"since": 5, "until": 4}}}, 422, "since"),
            ({"conditions": {"clicked_link": {}}}, 400, "name"),
        ]  # fmt: skip
        for body, status, named in cases:
            answer = app.post("/v1/segments", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert named in answer.json()["meta"]["error"], (body, answer.text)
        assert app.get("/v1/segments").json() == {"segments": [], "next": ""}
        broadcast = app.post(
            "/v1/broadcasts", json={"name": "B", "actions": [{"body": "<p>x</p>"}]}
        )
        trigger = app.post(f"/v1/broadcasts/{broadcast.json()['broadcast']['id']}/trigger",
                           json={"recipients": {"segment": {"id": 7}}})  # fmt: skip
        assert trigger.status_code == 404, trigger.text
