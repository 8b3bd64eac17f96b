"""The Track API's people calls and what they change in sends, over real sockets.

Scheduled email sends go out at their time through a real SMTP server; push
devices decide where a push goes (a real webhook receiver gets it); delivery
reports (bounced, spammed, …) are counted once; suppressed and deleted
people are not sent to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import Mailbox, Server, app_client, poll, running
from sink import WebhookSink


@dataclass
class Shop:
    server: Server
    app: httpx.Client
    track: httpx.Client
    mailbox: Mailbox
    sink: WebhookSink
    tx: int  # a transactional email: its metrics are the ones read here

    def identify(self, ident: str, **attributes: Any) -> httpx.Response:
        return self.track.put(f"/api/v1/customers/{ident}", json=attributes)

    def send(self, channel: str, **fields: Any) -> httpx.Response:
        return self.app.post(f"/v1/send/{channel}", json=fields)

    def message(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.app.get(f"/v1/messages/{delivery_id}").json()["message"])


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[Shop]:
    with (
        Mailbox() as mailbox,
        WebhookSink() as sink,
        running(db_url, tmp_path, smtp_port=mailbox.port, env=sink.env()) as server,
    ):
        keys = server.workspace()
        track = httpx.Client(
            base_url=server.url, auth=(keys["site_id"], keys["track_api_key"]), timeout=30
        )
        app = app_client(server, keys["app_api_key"])
        created = app.post("/v1/transactional", json={
            "name": "note", "subject": "{{ trigger.subject }}", "from": "shop@example.com",
            "body": '<a href="https://shop.example/later">Later</a>'})  # fmt: skip
        assert created.status_code == 201, created.text
        tx = created.json()["transactional_message"]["id"]
        yield Shop(server, app, track, mailbox, sink, tx)


def test_a_scheduled_send_goes_out_at_its_time(shop: Shop) -> None:
    assert shop.identify("ada", email="ada@example.com").status_code == 200
    send_at = int(time.time()) + 4
    sent = shop.send("email", identifiers={"id": "ada"}, transactional_message_id=shop.tx,
                     message_data={"subject": "Later"}, send_at=send_at)  # fmt: skip
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert answer["send_at"] == send_at
    delivery = shop.app.get(f"/v1/deliveries/{answer['delivery_id']}").json()["delivery"]
    assert delivery["status"] == "scheduled" and delivery["send_at"] == send_at
    assert shop.message(answer["delivery_id"])["send_at"] == send_at
    metric = shop.app.get(f"/v1/transactional/{shop.tx}/metrics").json()["metric"]
    assert (metric["scheduled"], metric["sent"]) == (1, 0)
    time.sleep(1.0)
    assert shop.mailbox.messages == []  # not yet
    shop.mailbox.wait(1, timeout=30)
    assert time.time() >= send_at  # it arrived at its time, not before
    done = poll(lambda: shop.app.get(f"/v1/deliveries/{answer['delivery_id']}").json()["delivery"],
                lambda d: d["status"] == "sent")  # fmt: skip
    assert done["sent_at"] >= send_at
    metric = shop.app.get(f"/v1/transactional/{shop.tx}/metrics").json()["metric"]
    assert (metric["scheduled"], metric["sent"], metric["delivered"]) == (0, 1, 1)
    # A send_at in the past is a send now; more than 90 days ahead is refused.
    now = shop.send("email", identifiers={"id": "ada"}, subject="Now", body="<p>now</p>",
                    send_at=int(time.time()) - 3600)  # fmt: skip
    assert now.status_code == 200 and "send_at" not in now.json()
    shop.mailbox.wait(2)
    far = shop.send("email", identifiers={"id": "ada"}, body="<p>x</p>",
                    send_at=int(time.time()) + 91 * 86400)  # fmt: skip
    assert far.status_code == 422 and "90 days" in far.text


@pytest.fixture
def hooks() -> Iterator[WebhookSink]:
    """A receiver for reporting webhooks."""
    with WebhookSink() as sink:
        yield sink


def test_reported_bounces_and_complaints_are_counted_once(shop: Shop, hooks: WebhookSink) -> None:
    assert shop.identify("bo", email="bo@example.com").status_code == 200
    created = shop.app.post("/v1/reporting_webhooks", json={
        "name": "bounces", "endpoint": hooks.url, "events": ["email_bounced", "email_spammed"]})
    assert created.status_code == 201, created.text
    hooks.secret = created.json()["signing_key"]
    ids = []
    for _ in range(3):
        sent = shop.send("email", identifiers={"id": "bo"}, transactional_message_id=shop.tx)
        ids.append(sent.json()["delivery_id"])
    for delivery_id, metric in [(ids[0], "bounced"), (ids[0], "bounced"), (ids[1], "spammed"),
                                (ids[2], "dropped"), (ids[2], "deferred")]:  # fmt: skip
        reported = shop.track.post("/api/v1/metrics", json={
            "delivery_id": delivery_id, "metric": metric, "timestamp": 1767225600,
            "recipient": "bo@example.com", "reason": "550 mailbox unavailable"})  # fmt: skip
        assert reported.status_code == 200, reported.text
    metric = shop.app.get(f"/v1/transactional/{shop.tx}/metrics").json()["metric"]
    assert {k: metric[k] for k in ("bounced", "spammed", "dropped", "deferred", "converted")} == {
        "bounced": 1, "spammed": 1, "dropped": 1, "deferred": 1, "converted": 0}
    assert shop.message(ids[0])["metrics"]["bounced"] == 1767225600
    # An SMS report gives the number as an integer, as Customer.io's does.
    sms = shop.track.post("/api/v1/metrics", json={
        "delivery_id": ids[1], "metric": "bounced", "recipient": 15550100})  # fmt: skip
    assert sms.status_code == 200, sms.text
    legacy = shop.track.post("/api/v1/push/events",
                             json={"delivery_id": ids[1], "event": "bounced"})  # fmt: skip
    assert legacy.status_code == 400  # the legacy push events are opened/clicked/…
    # Reporting webhooks hear of each report once, with the relay's reason.
    got = poll(lambda: {(r.json["data"]["delivery_id"], r.json["metric"]): r
                        for r in hooks.accepted()}, lambda g: len(g) == 3)  # fmt: skip
    assert set(got) == {(ids[0], "bounced"), (ids[1], "spammed"), (ids[1], "bounced")}
    assert len(hooks.received) == 3 and all(hooks.verified(r, "x-cio-") for r in got.values())
    bounce = got[ids[0], "bounced"].json
    assert bounce["data"]["failure_message"] == "550 mailbox unavailable"
    assert bounce["object_type"] == "email" and bounce["timestamp"] == 1767225600


def test_a_push_goes_to_the_persons_devices(shop: Shop) -> None:
    assert shop.identify("cy").status_code == 200
    nothing = shop.send("push", identifiers={"id": "cy"}, title="t", message="m")
    assert nothing.status_code == 422 and "no push device" in nothing.text
    for token, used in (("tok-old", 1767225600), ("tok-new", 1767229200)):
        added = shop.track.put("/api/v1/customers/cy/devices", json={"device": {
            "id": token, "platform": "ios", "last_used": used,
            "attributes": {"app_version": "2.1", "push_enabled": True}}})  # fmt: skip
        assert added.status_code == 200, added.text
    person = shop.app.get("/v1/customers/cy").json()["customer"]
    assert [d["id"] for d in person["devices"]] == ["tok-new", "tok-old"]
    assert person["devices"][0]["attributes"] == {"app_version": "2.1", "push_enabled": "true"}

    every = shop.send("push", identifiers={"id": "cy"}, title="Shipped", message="On its way")
    last = shop.send("push", identifiers={"id": "cy"}, title="t", message="m", to="last_used")
    given = shop.send("push", identifiers={"id": "cy"}, title="t", message="m", to="tok-old")
    posted = poll(lambda: {r.json["delivery_id"]: r.json for r in shop.sink.accepted()},
                  lambda got: len(got) == 3)  # fmt: skip
    first = posted[every.json()["delivery_id"]]
    assert (first["to"], first["devices"]) == ("tok-new", ["tok-new", "tok-old"])
    assert posted[last.json()["delivery_id"]]["devices"] == ["tok-new"]
    assert posted[given.json()["delivery_id"]]["to"] == "tok-old"

    # A token moves to the person who adds it; removing a device twice is a 404.
    assert shop.track.put("/api/v1/customers/dee/devices",
                          json={"device": {"id": "tok-new", "platform": "android"}}).status_code == 200
    cy = shop.app.get("/v1/customers/cy").json()["customer"]
    assert [d["id"] for d in cy["devices"]] == ["tok-old"]
    assert shop.track.delete("/api/v1/customers/cy/devices/tok-old").status_code == 200
    assert shop.track.delete("/api/v1/customers/cy/devices/tok-old").status_code == 404
    bad = shop.track.put("/api/v1/customers/cy/devices", json={"device": {"id": "x", "platform": "palm"}})
    assert bad.status_code == 400 and "platform" in bad.text


def test_suppressed_and_deleted_people_are_not_sent_to(shop: Shop) -> None:
    assert shop.identify("eve", email="eve@example.com").status_code == 200
    before = shop.app.get("/v1/customers/eve").json()["customer"]["cio_id"]
    sent = shop.send("email", identifiers={"id": "eve"}, subject="Hi", body="<p>hi</p>")
    assert sent.status_code == 200
    assert shop.track.post("/api/v1/customers/eve/suppress").status_code == 200
    assert shop.app.get("/v1/customers/eve").status_code == 404
    # Her id and her email are both suppressed: calls naming them are ignored or refused.
    assert shop.identify("eve", plan="pro").json() == {"ignored": "the identifier is suppressed"}
    assert shop.app.get("/v1/customers/eve").status_code == 404
    event = shop.track.post("/api/v1/customers/eve/events", json={"name": "purchase"})
    assert event.status_code == 200 and event.json()["campaigns"] == []
    for ident in ({"id": "eve"}, {"email": "eve@example.com"}):
        refused = shop.send("email", identifiers=ident, subject="Hi", body="<p>hi</p>")
        assert refused.status_code == 422 and "suppressed" in refused.text, ident
    again = shop.send("email", identifiers={"id": "new-eve"}, to="eve@example.com",
                      subject="Hi", body="<p>hi</p>")  # fmt: skip
    assert again.status_code == 422  # the email is suppressed whoever it is sent to as
    # Her delivery stays in the reports, unlinked.
    assert shop.app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").status_code == 200

    # Unsuppressing the email frees the id too; identifying makes a new person.
    assert shop.track.post("/api/v1/customers/eve@example.com/unsuppress").status_code == 200
    assert shop.identify("eve", email="eve@example.com").status_code == 200
    assert shop.app.get("/v1/customers/eve").json()["customer"]["cio_id"] != before

    # Deleted (not suppressed): gone, and the next identify creates them again.
    assert shop.track.delete("/api/v1/customers/eve").status_code == 200
    assert shop.track.delete("/api/v1/customers/eve").status_code == 404
    assert shop.app.get("/v1/customers/eve").status_code == 404
    assert shop.identify("eve").status_code == 200
    shop.mailbox.wait(1)
    assert len(shop.mailbox.messages) == 1  # only the send before the suppression went out


def test_merging_two_people_keeps_the_primary_with_both_histories(shop: Shop) -> None:
    assert shop.identify("pri", email="pri@example.com", plan="pro").status_code == 200
    assert shop.identify("sec", phone="+15550199", plan="free", city="Oslo").status_code == 200
    pri = shop.app.get("/v1/customers/pri").json()["customer"]
    for ident in ("pri", "sec"):
        sent = shop.send("email", identifiers={"id": ident}, transactional_message_id=shop.tx,
                         to=f"{ident}-mail@example.com")  # fmt: skip
        assert sent.status_code == 200, sent.text
    assert shop.track.put("/api/v1/customers/sec/devices",
                          json={"device": {"id": "sec-phone", "platform": "ios"}}).status_code == 200

    merged = shop.track.post("/api/v1/merge_customers",
                             json={"primary": {"id": "pri"}, "secondary": {"id": "sec"}})  # fmt: skip
    assert merged.status_code == 200 and merged.json()["merged"] is True
    assert shop.app.get("/v1/customers/sec").status_code == 404
    after = shop.app.get("/v1/customers/pri").json()["customer"]
    assert after["cio_id"] == pri["cio_id"] and after["email"] == "pri@example.com"
    # What the primary lacked comes from the secondary; what it had, it keeps.
    assert after["phone"] == "+15550199" and after["attributes"]["city"] == "Oslo"
    assert after["attributes"]["plan"] == "pro"
    assert [d["id"] for d in after["devices"]] == ["sec-phone"]
    sent = shop.app.get("/v1/customers/pri/activities", params={"type": "sent"}).json()
    assert len(sent["activities"]) == 2  # both people's deliveries are the primary's now
    # A merge naming someone unknown does nothing, as Customer.io's does.
    again = shop.track.post("/api/v1/merge_customers",
                            json={"primary": {"id": "pri"}, "secondary": {"id": "sec"}})  # fmt: skip
    assert again.status_code == 200 and again.json()["merged"] is False
    bad = shop.track.post("/api/v1/merge_customers", json={"primary": {"id": "pri"}})
    assert bad.status_code == 400
