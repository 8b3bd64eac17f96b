"""Campaigns and broadcasts over SMS and WhatsApp, end to end: webhook, click, the kind's metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server import Server, app_client, poll, running
from sink import WebhookSink

TRACKED = re.compile(r"http://127\.0\.0\.1:\d+/e/c/[A-Za-z0-9_\-]+/[0-9a-f]{64}")
SMS = "Hi {{ customer.first_name }}: https://shop.example.com/o/{{ event.order | default: trigger.order }}"
WHATSAPP = "Your order is ready. Details: {% cio_link url:https://shop.example.com/wa %}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, WebhookSink]]:
    tmp: Path = tmp_path_factory.mktemp("kinds_channels")
    with WebhookSink() as sink, running(f"sqlite:///{tmp}/k.db", tmp, env=sink.env()) as server:
        yield server, sink


@pytest.mark.parametrize("kind", ["campaigns", "broadcasts"])
def test_kind_over_sms_and_whatsapp(env: tuple[Server, WebhookSink], kind: str) -> None:
    server, sink = env
    keys = server.workspace()
    app = app_client(server, keys["app_api_key"])
    track = httpx.Client(base_url=server.url, auth=(keys["site_id"], keys["track_api_key"]))
    phone = f"+1555{len(kind):03d}7788"
    assert (
        track.put(
            f"/api/v1/customers/{kind}-p", json={"phone": phone, "first_name": "Ada"}
        ).status_code
        == 200
    )
    created = app.post(
        f"/v1/{kind}",
        json={"name": f"{kind} over phones", "actions": [
            {"name": "sms", "channel": "sms", "body": SMS},
            {"name": "wa", "channel": "whatsapp", "body": WHATSAPP},
        ]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    container = created.json()[kind[:-1]]
    container_id = container["id"]
    if kind == "campaigns":
        fired = app.post(
            f"/v1/campaigns/{container_id}/trigger",
            json={
                "identifiers": {"id": f"{kind}-p"},
                "event": {"name": "buy", "data": {"order": 7}},
            },
        )
        assert fired.status_code == 200, fired.text
        delivery_ids = {d["delivery_id"] for d in fired.json()["deliveries"]}
    else:
        fired = app.post(
            f"/v1/broadcasts/{container_id}/trigger",
            json={"data": {"order": 7}, "ids": [f"{kind}-p"]},
        )
        assert fired.status_code == 202, fired.text
        job = poll(
            lambda: app.get(f"/v1/broadcasts/{container_id}/triggers/{fired.json()['id']}").json(),
            lambda j: j["status"] == "done",
        )
        assert job["sent"] == 1
        delivery_ids = None

    received = poll(
        lambda: [r.json for r in sink.accepted() if r.json["to"] == phone],
        lambda rs: len(rs) == 2,
    )
    if delivery_ids is not None:
        assert {r["delivery_id"] for r in received} == delivery_ids
    by_channel = {r["channel"]: r for r in received}
    sms, whatsapp = by_channel["sms"]["body"], by_channel["whatsapp"]["body"]
    assert sms.startswith("Hi Ada: http://127.0.0.1:")
    (sms_link,) = TRACKED.findall(sms)
    (wa_link,) = TRACKED.findall(whatsapp)

    web = httpx.Client(follow_redirects=False, timeout=30)
    first = web.get(sms_link)
    assert first.status_code == 302
    assert first.headers["location"].startswith("https://shop.example.com/o/7")
    assert web.get(wa_link).headers["location"].startswith("https://shop.example.com/wa")

    metric = poll(
        lambda: app.get(f"/v1/{kind}/{container_id}/metrics").json()["metric"],
        lambda m: m["clicked"] == 2,
    )
    assert metric["sent"] == 2 and metric["delivered"] == 2 and metric["click_rate"] == 1.0
    links = app.get(f"/v1/{kind}/{container_id}/links").json()["links"]
    assert sorted(link["clicks"] for link in links) == [1, 1]
