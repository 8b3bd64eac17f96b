"""SMS, WhatsApp, push and in-app end to end over real sockets.

A real linktrack server posts to a real webhook receiver on loopback; links are
clicked over HTTP (short links too) and the app's SDK reports through the
Track API; the reports of the right message count it all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from server import Server, app_client, poll, running
from sink import Received, WebhookSink

SHORT = re.compile(r"http://sms\.acme\.io/lnk\.[A-Za-z0-9]+")


@dataclass
class Ws:
    """A fresh workspace on the shared server, with its clients."""

    server: Server
    keys: dict[str, Any]
    app: httpx.Client
    track: httpx.Client

    def person(self, ident: str, **attributes: Any) -> dict[str, Any]:
        response = self.track.put(f"/api/v1/customers/{ident}", json=attributes)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def device(self, ident: str, token: str) -> None:
        response = self.track.put(f"/api/v1/customers/{ident}/devices",
                                  json={"device": {"id": token, "platform": "android"}})  # fmt: skip
        assert response.status_code == 200, response.text

    def template(self, channel: str, body: str, **fields: Any) -> int:
        created = self.app.post(
            "/v1/transactional", json={"name": f"{channel} message", "channel": channel,
                                       "body": body, **fields}
        )  # fmt: skip
        assert created.status_code == 201, created.text
        return int(created.json()["transactional_message"]["id"])

    def send(self, channel: str, **fields: Any) -> dict[str, Any]:
        sent = self.app.post(f"/v1/send/{channel}", json=fields)
        assert sent.status_code == 200, sent.text
        return dict(sent.json())

    def settings(self, **values: Any) -> None:
        response = self.app.put("/v1/workspace/settings", json=values)
        assert response.status_code == 200, response.text

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"])

    def settled(self, delivery_id: str) -> dict[str, Any]:
        return dict(
            poll(lambda: self.delivery(delivery_id), lambda d: d["status"] not in ("queued",))
        )

    def metrics(self, message_id: int, **until: int) -> dict[str, Any]:
        return dict(
            poll(
                lambda: self.app.get(f"/v1/transactional/{message_id}/metrics").json()["metric"],
                lambda m: all(m[k] == v for k, v in until.items()),
            )
        )

    def report(self, path: str = "/api/v1/metrics", **fields: Any) -> httpx.Response:
        return self.track.post(path, json=fields)


def new_ws(server: Server) -> Ws:
    keys = server.workspace()
    return Ws(
        server,
        keys,
        app_client(server, keys["app_api_key"]),
        httpx.Client(
            base_url=server.url, auth=(keys["site_id"], keys["track_api_key"]), timeout=30
        ),
    )


def on_server(server: Server, url: str) -> str:
    """A link of the short (or tracking) domain, sent to this server, which serves both."""
    parts = urlsplit(url)
    return server.url + parts.path


def for_delivery(sink: WebhookSink, delivery_id: str) -> Received:
    found = poll(
        lambda: [r for r in sink.accepted() if r.json["delivery_id"] == delivery_id],
        lambda rs: len(rs) == 1,
    )
    item: Received = found[0]
    assert sink.verified(item)
    return item


web = httpx.Client(follow_redirects=False, timeout=30)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, WebhookSink]]:
    tmp = tmp_path_factory.mktemp("channels")
    with WebhookSink() as sink, running(f"sqlite:///{tmp}/c.db", tmp, env=sink.env()) as server:
        yield server, sink


# ----------------------------------------------------------------------------- SMS


def test_sms_send_webhook_short_link_click_metrics(db_url: str, tmp_path: Path) -> None:
    with WebhookSink() as sink, running(db_url, tmp_path, env=sink.env()) as server:
        ws = new_ws(server)
        ws.person("ada-1", phone="+15550100", first_name="Ada")
        ws.settings(shorten_links=True, short_domain="sms.acme.io")
        message_id = ws.template(
            "sms",
            "Hi {{ customer.first_name }}, track order {{ trigger.order }}: "
            "https://shop.example.com/orders/{{ trigger.order }} "
            "Help: {% cio_link url:https://shop.example.com/help %}",
        )
        sent = ws.send("sms", transactional_message_id=message_id,
                       identifiers={"id": "ada-1"}, message_data={"order": 42})  # fmt: skip
        delivery_id = sent["delivery_id"]

        received = for_delivery(sink, delivery_id).json
        assert received["channel"] == "sms" and received["to"] == "+15550100"
        body = received["body"]
        assert body.startswith("Hi Ada, track order 42: http://sms.acme.io/lnk.")
        shorts = SHORT.findall(body)
        assert len(shorts) == 2 and "/e/c/" not in body
        assert all(len(url) <= 36 for url in shorts)  # 7 + 11 + 5 + 10 = 33

        delivery = ws.settled(delivery_id)
        assert delivery["status"] == "sent" and delivery["body"] == body  # as sent
        lengths = delivery["settings"]
        assert lengths["length_after_shortening"] == len(body)
        assert lengths["length_before_shortening"] > len(body) + 2 * 60
        assert len(delivery["links"]) == 2

        order = web.get(on_server(server, shorts[0]))
        assert order.status_code == 302
        assert order.headers["location"].startswith("https://shop.example.com/orders/42")
        assert "utm_" not in order.headers["location"]  # SMS: URL parameters only via cio_link
        assert web.get(on_server(server, shorts[0])).status_code == 302  # a repeat click
        unknown = web.get(server.url + "/lnk.abcdefghjk")
        assert unknown.status_code == 404 and "location" not in unknown.headers

        metric = ws.metrics(message_id, clicked=1)
        assert metric["sent"] == metric["delivered"] == 1 and metric["click_rate"] == 1.0
        top = poll(
            lambda: ws.app.get(f"/v1/transactional/{message_id}/links").json()["links"],
            lambda ls: sum(link["clicks"] for link in ls) == 2,
        )
        by_href = {link["href"]: link for link in top}
        orders = by_href["https://shop.example.com/orders/42"]
        assert orders["clicks"] == 2 and orders["unique_clicks"] == 1
        assert by_href["https://shop.example.com/help"]["clicks"] == 0
        clicked = [a for a in ws.app.get("/v1/customers/ada-1/activities").json()["activities"]
                   if a["type"] == "clicked"]  # fmt: skip
        assert len(clicked) == 2 and all(a["channel"] == "sms" for a in clicked)
        assert {a["delivery_id"] for a in clicked} == {delivery_id}


def test_shortening_is_read_at_send_time_and_expires(shared: tuple[Server, WebhookSink]) -> None:
    server, sink = shared
    ws = new_ws(server)
    ws.person("bo", phone="+15550101")
    message_id = ws.template("sms", "Your parcel: https://shop.example.com/p/{{ trigger.id }}")

    def send() -> tuple[str, dict[str, Any]]:
        sent = ws.send("sms", transactional_message_id=message_id, identifiers={"id": "bo"},
                       message_data={"id": 7})  # fmt: skip
        return for_delivery(sink, sent["delivery_id"]).json["body"], ws.delivery(
            sent["delivery_id"]
        )

    long_body, first = send()
    assert f"{server.url}/e/c/" in long_body and not SHORT.search(long_body)
    assert first["settings"]["length_before_shortening"] == len(long_body)
    assert first["settings"]["length_after_shortening"] == len(long_body)

    # The same, already active message: shortening applies from the next send on.
    ws.settings(shorten_links=True, short_domain="sms.acme.io")
    short_body, second = send()
    (short,) = SHORT.findall(short_body)
    assert short_body == f"Your parcel: {short}"
    assert second["settings"]["length_before_shortening"] == len(long_body)
    assert second["settings"]["length_after_shortening"] == len(short_body) < len(long_body)

    ws.settings(shorten_links=False)
    again, _ = send()
    assert f"{server.url}/e/c/" in again and not SHORT.search(again)
    # Links already sent keep working whatever the setting says now.
    followed = web.get(on_server(server, short))
    assert followed.status_code == 302
    assert followed.headers["location"].startswith("https://shop.example.com/p/7")
    ws.metrics(message_id, clicked=1)

    # A short link past its 90 days: the clock of the creating store is injected.
    from linktrack.adapters.store import make_engine
    from linktrack.core.settings import TrackingSettings
    from linktrack.service.shortlinks import ShortLinks

    engine = make_engine(server.db_url)  # the server's own store
    try:
        past = ShortLinks(engine, clock=lambda: time.time() - 91 * 86400)
        tracked_path = urlsplit(re.findall(r"http://\S+/e/c/\S+", again)[0]).path
        expired_url = past.create(ws.keys["id"], tracked_path, TrackingSettings())
    finally:
        engine.dispose()
    expired = web.get(on_server(server, expired_url))
    assert expired.status_code == 404 and "location" not in expired.headers
    assert "This link has expired" in expired.text
    assert web.get(on_server(server, tracked_path)).status_code == 302  # the long link still works


def test_sms_ad_hoc_like_email(shared: tuple[Server, WebhookSink]) -> None:
    server, sink = shared
    ws = new_ws(server)
    sent = ws.send("sms", to="+15550102", identifiers={"id": "cy"},
                   body="Code 1234. Details https://shop.example.com/d?x=1 www.shop.example.com")  # fmt: skip
    assert [w["code"] for w in sent["warnings"] if w["code"] != "settings"] == ["no_protocol"]
    body = for_delivery(sink, sent["delivery_id"]).json["body"]
    assert body.startswith(f"Code 1234. Details {server.url}/e/c/")
    assert body.endswith(" www.shop.example.com")
    delivery = ws.settled(sent["delivery_id"])
    assert delivery["body"] == body and delivery["recipient"] == "+15550102"
    person = ws.app.get("/v1/customers/cy").json()["customer"]
    assert person["phone"] == "+15550102"  # the send created the person with the number


# ------------------------------------------------------------------------ WhatsApp


def test_whatsapp_template_variable_fields(shared: tuple[Server, WebhookSink]) -> None:
    server, sink = shared
    ws = new_ws(server)
    ws.person("di", phone="+15550103", first_name="Di")
    ws.settings(shorten_links=True, short_domain="sms.acme.io")
    # The fixed body and its variable fields: only cio_link in a variable field is tracked.
    message_id = ws.template(
        "whatsapp",
        "Hello {{ customer.first_name }}! Your order: {% cio_link url:trigger.order_url %} "
        "Questions? https://shop.example.com/help",
    )
    sent = ws.send("whatsapp", transactional_message_id=message_id, identifiers={"id": "di"},
                   message_data={"order_url": "https://shop.example.com/orders/9"})  # fmt: skip
    literal = [w for w in sent["warnings"] if w["code"] == "whatsapp_literal_link"]
    assert [w["href"] for w in literal] == ["https://shop.example.com/help"]
    got = for_delivery(sink, sent["delivery_id"]).json
    assert got["channel"] == "whatsapp" and got["to"] == "+15550103"
    (short,) = SHORT.findall(got["body"])
    assert got["body"] == f"Hello Di! Your order: {short} Questions? https://shop.example.com/help"
    followed = web.get(on_server(server, short))
    assert followed.headers["location"].startswith("https://shop.example.com/orders/9")
    ws.metrics(message_id, clicked=1, delivered=1)

    # The ad-hoc form: the body given in the call, variable fields from message_data.
    adhoc = ws.send("whatsapp", identifiers={"id": "di"},
                    body="Hi! {% cio_link url:trigger.link url_params:false %} or https://x.example/y",
                    message_data={"link": "https://shop.example.com/cart"})  # fmt: skip
    assert any(w["code"] == "whatsapp_literal_link" for w in adhoc["warnings"])
    (cart,) = SHORT.findall(for_delivery(sink, adhoc["delivery_id"]).json["body"])
    assert (
        web.get(on_server(server, cart))
        .headers["location"]
        .startswith("https://shop.example.com/cart")
    )


# ---------------------------------------------------------------------------- push


def test_push_webhook_and_sdk_reports(shared: tuple[Server, WebhookSink]) -> None:
    server, sink = shared
    ws = new_ws(server)
    ws.person("ed", email="ed@example.com")
    ws.device("ed", "ed-phone-token")
    message_id = ws.template(
        "push", "Order {{ trigger.order }} is on its way: https://shop.example.com/orders/1",
        subject="Shipped!",
    )  # fmt: skip
    sent = ws.send("push", transactional_message_id=message_id, identifiers={"id": "ed"},
                   message_data={"order": 1, "deep": "https://shop.example.com/app/orders/1"},
                   link="{% cio_link url:trigger.deep url_params:false %}",
                   custom_data={"screen": "orders"})  # fmt: skip
    delivery_id = sent["delivery_id"]
    got = for_delivery(sink, delivery_id).json
    # Not tracked by default (the SDK reports taps): the body's link is left as is.
    assert got["body"] == "Order 1 is on its way: https://shop.example.com/orders/1"
    assert got["title"] == "Shipped!" and got["custom_data"] == {"screen": "orders"}
    assert got["to"] == "ed-phone-token" and got["devices"] == ["ed-phone-token"]
    assert got["link"].startswith(f"{server.url}/e/c/")  # cio_link tracks explicitly

    now = time.time()
    assert ws.report(delivery_id=delivery_id, metric="delivered", timestamp=now).status_code == 200
    assert ws.report(delivery_id=delivery_id, metric="opened", timestamp=now + 1).status_code == 200
    click = {"delivery_id": delivery_id, "metric": "clicked", "timestamp": now + 2,
             "href": "https://shop.example.com/app/orders/1", "recipient": "device-token-1"}  # fmt: skip
    assert ws.report(**click).status_code == 200
    assert ws.report(**click).status_code == 200  # the SDK retried: counted once
    assert (
        ws.report(delivery_id=delivery_id, metric="converted", timestamp=now + 3).status_code == 200
    )
    assert (
        ws.report(delivery_id=delivery_id, metric="converted", timestamp=now + 4).status_code == 200
    )
    legacy = ws.report("/api/v1/push/events", delivery_id=delivery_id, event="opened",
                       device_id="device-token-1", timestamp=now + 5)  # fmt: skip
    assert legacy.status_code == 200, legacy.text

    def activities() -> list[dict[str, Any]]:
        return list(ws.app.get("/v1/customers/ed/activities").json()["activities"])

    # The legacy open came last: once it is in, everything before it is too.
    seen = poll(activities, lambda acts: sum(a["type"] == "opened" for a in acts) == 2)
    clicked = [a for a in seen if a["type"] == "clicked"]
    assert len(clicked) == 1 and clicked[0]["channel"] == "push"
    assert clicked[0]["href"] == "https://shop.example.com/app/orders/1"
    assert clicked[0]["machine"] is False  # the app reported a tap: never a scanner
    metric = ws.metrics(message_id, clicked=1)
    assert metric["opened"] == 1 and metric["converted"] == 1 and metric["delivered"] == 1
    (deep,) = [link for link in ws.app.get(f"/v1/transactional/{message_id}/links").json()["links"]
               if link["href"] == "https://shop.example.com/app/orders/1"]  # fmt: skip
    assert deep["clicks"] == 1 and deep["link_id"] == clicked[0]["link_id"]

    # The tracked deep link itself works like any tracked link.
    location = web.get(got["link"]).headers["location"]
    assert location.startswith("https://shop.example.com/app/orders/1?_cio_id=")
    poll(
        lambda: ws.app.get(f"/v1/transactional/{message_id}/links").json()["links"],
        lambda ls: sum(link["clicks"] for link in ls) == 2,
    )
    assert ws.metrics(message_id)["clicked"] == 1  # still one recipient


def test_track_api_refusals(shared: tuple[Server, WebhookSink]) -> None:
    server, _ = shared
    ws, other = new_ws(server), new_ws(server)
    ws.device("fa", "fa-phone-token")
    sent = ws.send("push", identifiers={"id": "fa"}, title="t", message="m")
    delivery_id = sent["delivery_id"]
    # Another workspace cannot report on this delivery, nor learn it exists.
    assert other.report(delivery_id=delivery_id, metric="opened").status_code == 404
    assert ws.report(delivery_id="nope", metric="opened").status_code == 404
    bad_auth = httpx.post(server.url + "/api/v1/metrics", json={"delivery_id": delivery_id},
                          auth=(ws.keys["site_id"], "wrong"))  # fmt: skip
    assert bad_auth.status_code == 401
    for fields, status, message in (
        ({"metric": "opened"}, 400, "delivery_id is required"),
        ({"delivery_id": delivery_id, "metric": "tapped"}, 400, "metric must be one of"),
        # Milliseconds: a number the schema allows, so a 422 that says what is wrong.
        ({"delivery_id": delivery_id, "metric": "opened", "timestamp": time.time() * 1000},
         422, "not milliseconds"),
        ({"delivery_id": delivery_id, "metric": "opened", "timestamp": "yesterday"},
         400, "Unix seconds"),
    ):  # fmt: skip
        refused = ws.report(**fields)
        assert refused.status_code == status and message in refused.json()["meta"]["error"]
    legacy = ws.report("/api/v1/push/events", delivery_id=delivery_id, event="tapped")
    assert legacy.status_code == 400 and "event must be one of" in legacy.text


# -------------------------------------------------------------------------- in-app


def test_in_app_outbox_cio_link_and_sdk(shared: tuple[Server, WebhookSink]) -> None:
    server, sink = shared
    ws = new_ws(server)
    message_id = ws.template(
        "in_app",
        "Welcome back! {% cio_link url:https://shop.example.com/promo %} "
        "(terms: https://shop.example.com/terms)",
    )
    sent = ws.send("in_app", transactional_message_id=message_id, identifiers={"id": "gu"})
    delivery = ws.delivery(sent["delivery_id"])
    # No transport for in-app: it waits in the outbox for the app, never at the webhook.
    assert delivery["status"] == "outbox"
    (waiting,) = ws.app.get("/v1/outbox").json()["deliveries"]
    assert waiting["id"] == delivery["id"]
    assert waiting["links"] == delivery["links"] and len(waiting["links"]) == 1  # as listed
    (tracked,) = re.findall(re.escape(server.url) + r"/e/c/\S+", delivery["body"])
    assert delivery["body"].endswith("(terms: https://shop.example.com/terms)")
    assert web.get(tracked).headers["location"].startswith("https://shop.example.com/promo")
    ws.metrics(message_id, clicked=1, delivered=1)
    assert ws.report(delivery_id=delivery["id"], metric="delivered").status_code == 200
    assert ws.delivery(delivery["id"])["status"] == "sent"  # the app has shown it
    assert all(r.json["delivery_id"] != delivery["id"] for r in sink.received)


# ------------------------------------------------------------------ webhook failures


def test_webhook_failures_retry_then_fail_visibly(shared: tuple[Server, WebhookSink]) -> None:
    server, sink = shared
    ws = new_ws(server)
    message_id = ws.template("sms", "Hello https://shop.example.com/x")
    sink.statuses[:] = [500, 500]
    first = ws.send("sms", transactional_message_id=message_id, to="+15550104",
                    identifiers={"id": "ha"})["delivery_id"]  # fmt: skip
    assert ws.settled(first)["status"] == "sent"
    attempts = [r.status for r in sink.received if r.json["delivery_id"] == first]
    assert attempts == [500, 500, 200]
    assert ws.delivery(first)["error"] is None

    sink.statuses[:] = [400]
    second = ws.send("sms", transactional_message_id=message_id, to="+15550105",
                     identifiers={"id": "ib"})["delivery_id"]  # fmt: skip
    failed = ws.settled(second)
    assert failed["status"] == "failed"
    assert failed["error"] == 'webhook answered HTTP 400: {"error":"refused by the sink"}'
    metric = ws.metrics(message_id, failed=1)
    assert metric["delivered"] == 1 and metric["sent"] == 2
