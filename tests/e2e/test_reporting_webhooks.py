"""Reporting webhooks over real sockets: every click reaches a real receiver, signed.

The receiver refuses the first POST with a 503 and the server is killed
(SIGKILL, writer and all) and started again mid-way: every event still
arrives, each `event_id` once in the receiver's de-duplicated view, in the
order the events were stored, and the API shows the attempts and the error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from server import Mailbox, Server, app_client, poll, running
from sink import Received, WebhookSink

EMAIL = '<p><a href="https://shop.example/a">A</a> <a href="https://shop.example/b">B</a></p>'


def _links(server: Server, mailbox: Mailbox, count: int) -> list[str]:
    mail = mailbox.wait(count)[count - 1]
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()
    return re.findall(r'href="(' + re.escape(server.url) + r'/e/c/[^"]+)"', body)


def _deduplicated(sink: WebhookSink) -> dict[str, Received]:
    """What a receiver keeps: each accepted event once, by its event_id."""
    kept: dict[str, Received] = {}
    for item in sink.accepted():
        kept.setdefault(item.json["event_id"], item)
    return kept


def test_every_click_reaches_the_webhook_across_a_503_and_a_kill(
    db_url: str, tmp_path: Path
) -> None:
    with (
        WebhookSink(statuses=[503]) as sink,
        Mailbox() as mailbox,
        running(db_url, tmp_path, smtp_port=mailbox.port,
                env={"LINKTRACK_DELIVERY_BACKOFF": "0.2"}) as server,  # fmt: skip
    ):
        keys = server.workspace()
        app = app_client(server, keys["app_api_key"])
        created = app.post("/v1/reporting_webhooks", json={
            "name": "warehouse", "endpoint": sink.url,
            "events": ["email_sent", "email_clicked", "email_opened"]})  # fmt: skip
        assert created.status_code == 201, created.text
        hook = created.json()
        sink.secret = hook["signing_key"]
        assert "signing_key" not in app.get(f"/v1/reporting_webhooks/{hook['id']}").json()

        sent = app.post("/v1/send/email", json={"identifiers": {"id": "ada"}, "to": "ada@example.com",
                                                "subject": "Hi", "body": EMAIL})  # fmt: skip
        delivery_id = sent.json()["delivery_id"]
        a, b = _links(server, mailbox, 1)
        web = httpx.Client(follow_redirects=False, timeout=30)
        clicks = [web.get(a), web.get(b), web.head(a)]  # the HEAD is a machine's
        assert all(r.status_code == 302 for r in clicks)
        poll(lambda: len(sink.received), lambda n: n >= 2)  # the 503, then its retry went on
        server.kill()
        server.start()
        clicks += [web.get(b), web.get(a)]
        assert all(r.status_code == 302 for r in clicks)

        # sent, one synthetic open (a first click implies it), and the five clicks
        kept = poll(lambda: _deduplicated(sink), lambda k: len(k) == 7, timeout=60)
        assert all(sink.verified(item, prefix="x-cio-") for item in kept.values())
        bodies = [item.json for item in kept.values()]
        metrics = [body["metric"] for body in bodies]
        assert metrics.count("clicked") == 5 and metrics.count("sent") == 1
        assert metrics.count("opened") == 1
        clicked = [body for body in bodies if body["metric"] == "clicked"]
        assert sorted(c["data"]["href"].split("?")[0] for c in clicked) == sorted(
            ["https://shop.example/a"] * 3 + ["https://shop.example/b"] * 2
        )
        # Machine clicks are sent too, marked, with their reasons (here all are: seconds
        # after the send, the too_fast rule; the HEAD also for being one).
        assert all(c["data"]["machine"] is bool(c["data"]["machine_reasons"]) for c in clicked)
        heads = [c for c in clicked if "head_request" in c["data"]["machine_reasons"]]
        assert len(heads) == 1 and heads[0]["data"]["machine"] is True
        assert {c["object_type"] for c in clicked} == {"email"}
        for body in bodies:
            data = body["data"]
            assert data["delivery_id"] == delivery_id and data["recipient"] == "ada@example.com"
            assert data["identifiers"]["id"] == "ada" and data["customer_id"] == "ada"
        shown = app.get(f"/v1/reporting_webhooks/{hook['id']}").json()
        assert (shown["delivered"], shown["pending"], shown["failed"]) == (7, 0, 0)
        assert "503" in shown["last_error"]
        events = app.get(f"/v1/reporting_webhooks/{hook['id']}/events", params={"limit": 3})
        page = events.json()
        assert len(page["events"]) == 3 and page["next"]
        stored = _all_events(app, hook["id"])[::-1]  # oldest first
        assert stored[0]["attempts"] == 2 and stored[0]["metric"] == "email_sent"  # the 503'd
        # In stored order: the receiver never got an event before one stored earlier.
        assert list(kept) == [e["event_id"] for e in stored]


def _all_events(app: httpx.Client, hook: int) -> list[dict[str, Any]]:
    found, start = [], ""
    while True:
        page = app.get(f"/v1/reporting_webhooks/{hook}/events",
                       params={"limit": 2, **({"start": start} if start else {})}).json()  # fmt: skip
        found += page["events"]
        if not (start := page["next"]):
            return found


def test_webhooks_are_validated_changed_and_kept_apart(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path}/w.db", tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        other = app_client(server, server.workspace()["app_api_key"])
        for body, word in [
            ({"name": "x", "endpoint": "ftp://h/", "events": ["email_clicked"]}, "endpoint"),
            ({"name": "x", "endpoint": "https://h/", "events": ["email_teleported"]}, "events"),
            ({"name": "", "endpoint": "https://h/", "events": ["email_clicked"]}, "name"),
            ({"name": "x", "endpoint": "https://h/", "events": ["sms_sent"], "x": 1}, "x"),
        ]:
            refused = app.post("/v1/reporting_webhooks", json=body)
            assert refused.status_code == 400 and word in refused.text, body
        made = app.post("/v1/reporting_webhooks", json={
            "name": "crm", "endpoint": "https://crm.example/hook", "events": ["sms_clicked"]}).json()
        changed = app.put(f"/v1/reporting_webhooks/{made['id']}",
                          json={"disabled": True, "events": ["push_clicked", "sms_clicked"]})
        assert changed.json()["disabled"] is True
        assert changed.json()["events"] == ["sms_clicked", "push_clicked"]
        listed = app.get("/v1/reporting_webhooks").json()["reporting_webhooks"]
        assert [w["id"] for w in listed] == [made["id"]]
        path = f"/v1/reporting_webhooks/{made['id']}"
        for call in (other.get(path), other.put(path, json={"disabled": False}),
                     other.delete(path), other.get(f"{path}/events")):  # fmt: skip
            assert call.status_code == 404
        assert other.get("/v1/reporting_webhooks").json()["reporting_webhooks"] == []
        assert app.delete(path).status_code == 200
        assert app.get(path).status_code == 404
