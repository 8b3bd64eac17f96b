"""Campaigns, API-triggered broadcasts and newsletters end to end, over real sockets.

Create, trigger or send, receive at the real SMTP server, click (no redirect
followed), read the kind's metrics. On SQLite and PostgreSQL (`db_url`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from server import Mailbox, Server, app_client, cli, poll, running

ACTION = """<html><body>
<p>Thanks {{ customer.first_name }} for order {{ event.order_id }} ({{ campaign.name }}).</p>
<p><a href="https://shop.example.com/orders/{{ event.order_id }}">Your order</a></p>
<p><a href="https://shop.example.com/help">Help</a></p>
</body></html>"""

FOLLOW_UP = """<html><body><p>Rate order {{ event.order_id }}:
<a href="https://shop.example.com/rate">rate</a></p></body></html>"""

BROADCAST = """<html><body><p>{{ trigger.headline }}, {{ customer.first_name }}!</p>
<p><a href="https://shop.example.com/sale?plan={{ customer.plan }}">Shop the sale</a></p>
</body></html>"""

NEWSLETTER = """<html><body><h1>News for {{ customer.first_name }}</h1>
<p><a href="https://blog.example.com/post-1">Post 1</a> and <a href="https://blog.example.com/post-2">Post 2</a></p>
</body></html>"""


def html_of(mail: Message) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no HTML part")


def tracked(server: Server, html: str) -> list[str]:
    return re.findall(r'href="(' + re.escape(server.url) + r'/e/c/[^"]+)"', html)


def click(url: str) -> httpx.Response:
    response = httpx.get(url, follow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return response


def identify(server: Server, ws: dict[str, Any], ident: str, **attributes: Any) -> str:
    track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
    response = track.put(f"/api/v1/customers/{ident}", json=attributes)
    assert response.status_code == 200, response.text
    return str(response.json()["cio_id"])


def wait_job(app: httpx.Client, path: str) -> dict[str, Any]:
    return dict(poll(lambda: app.get(path).json(), lambda j: j["status"] != "running"))


def test_campaign(db_url: str, tmp_path: Path) -> None:
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        app.put("/v1/workspace/settings", json={"url_params": {"utm_campaign": "{{ campaign.name }}"}})
        identify(server, ws, "ada-1", email="ada@example.com", first_name="Ada")
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        assert track.put("/api/v1/customers/ada-1/devices",
                         json={"device": {"id": "ada-phone", "platform": "ios"}}).status_code == 200

        created = app.post(
            "/v1/campaigns",
            json={"name": "Order follow-up", "trigger_event": "purchase", "actions": [
                {"name": "Receipt", "subject": "Order {{ event.order_id }}", "body": ACTION,
                 "from": "shop@example.com"},
                {"name": "Rate us", "subject": "Rate", "body": FOLLOW_UP, "tracked": False},
                {"name": "Push", "channel": "push", "body": "Order {{ event.order_id }} shipped"},
            ]},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        campaign = created.json()["campaign"]
        receipt, rate, push = campaign["actions"]
        assert (receipt["tracked"], rate["tracked"], push["tracked"]) == (True, False, False)
        assert app.get(f"/v1/campaigns/{campaign['id']}").json()["campaign"] == campaign
        assert [c["id"] for c in app.get("/v1/campaigns").json()["campaigns"]] == [campaign["id"]]

        triggered = app.post(
            f"/v1/campaigns/{campaign['id']}/trigger",
            json={"identifiers": {"id": "ada-1"},
                  "event": {"name": "purchase", "data": {"order_id": 1042}}},
        )  # fmt: skip
        assert triggered.status_code == 200, triggered.text
        deliveries = triggered.json()["deliveries"]
        assert [d["action_id"] for d in deliveries] == [receipt["id"], rate["id"], push["id"]]
        pushed = app.get(f"/v1/deliveries/{deliveries[2]['delivery_id']}").json()["delivery"]
        assert pushed["recipient"] == "ada-phone"  # the device she used last

        mails = {m["Subject"]: m for m in mailbox.wait(2)}
        receipt_html = html_of(mails["Order 1042"])
        assert "Thanks Ada for order 1042 (Order follow-up)." in receipt_html
        links = tracked(server, receipt_html)
        assert len(links) == 2
        # An untracked action: its links stay as written.
        rate_html = html_of(mails["Rate"])
        assert tracked(server, rate_html) == [] and 'href="https://shop.example.com/rate"' in rate_html

        location = click(links[0]).headers["location"]
        assert location.startswith("https://shop.example.com/orders/1042?")
        assert parse_qs(urlsplit(location).query)["utm_campaign"] == ["Order follow-up"]
        click(links[0])

        base = f"/v1/campaigns/{campaign['id']}"
        metric = poll(lambda: app.get(f"{base}/metrics").json()["metric"], lambda m: m["clicked"] == 1)
        assert metric["sent"] == 3 and metric["click_rate"] == 1 / 3
        top = poll(lambda: app.get(f"{base}/links").json()["links"],
                   lambda ls: sum(link["clicks"] for link in ls) == 2)  # fmt: skip
        (order,) = [link for link in top if link["clicks"]]
        assert order["unique_clicks"] == 1 and order["message_id"] == receipt["id"]
        series = app.get(f"{base}/metrics/links", params={"period": "hours", "steps": 2}).json()
        assert sum(e["metric"]["series"]["clicked"][-1] for e in series["links"]) == 2

        # Per action: the receipt has the click, the follow-up none.
        one = app.get(f"{base}/actions/{receipt['id']}/metrics").json()["metric"]
        other = app.get(f"{base}/actions/{rate['id']}/metrics").json()["metric"]
        assert (one["sent"], one["clicked"], other["sent"], other["clicked"]) == (1, 1, 1, 0)
        per_action = app.get(f"{base}/actions/{receipt['id']}/links").json()["links"]
        assert sum(link["clicks"] for link in per_action) == 2
        assert app.get(f"{base}/actions/{rate['id']}/metrics/links").json() == {"links": []}

        # The Track API event triggers the campaigns listening for it.
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        event = track.post("/api/v1/customers/ada-1/events",
                           json={"name": "purchase", "data": {"order_id": 7}})  # fmt: skip
        assert event.status_code == 200, event.text
        assert [c["campaign_id"] for c in event.json()["campaigns"]] == [campaign["id"]]
        assert "Order 7" in {m["Subject"] for m in mailbox.wait(4)}


def test_broadcast(db_url: str, tmp_path: Path) -> None:
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        identify(server, ws, "ada", email="ada@example.com", first_name="Ada", plan="pro")
        bo_cio = identify(server, ws, "bo", email="bo@example.com", first_name="Bo", plan="pro")
        identify(server, ws, "cy", email="cy@example.com", first_name="Cy", plan="free")

        created = app.post(
            "/v1/broadcasts",
            json={"name": "Spring sale", "actions": [
                {"subject": "{{ trigger.headline }}", "body": BROADCAST, "from": "shop@example.com"}
            ]},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        broadcast = created.json()["broadcast"]
        base = f"/v1/broadcasts/{broadcast['id']}"

        started = app.post(
            f"{base}/trigger",
            json={"data": {"headline": "Spring sale"},
                  "recipients": {"and": [{"attribute": {"field": "plan", "operator": "eq", "value": "pro"}},
                                         {"attribute": {"field": "email", "operator": "exists"}}]}},
        )  # fmt: skip
        assert started.status_code == 202, started.text
        trigger_id = started.json()["id"]
        job = wait_job(app, f"{base}/triggers/{trigger_id}")
        assert (job["status"], job["total"], job["sent"], job["failed"]) == ("done", 2, 2, 0)

        mails = mailbox.wait(2)
        assert sorted(m["To"] for m in mails) == ["ada@example.com", "bo@example.com"]
        ada = next(m for m in mails if m["To"] == "ada@example.com")
        assert ada["Subject"] == "Spring sale" and "Spring sale, Ada!" in html_of(ada)
        (link,) = tracked(server, html_of(ada))
        assert click(link).headers["location"].startswith("https://shop.example.com/sale?plan=pro&_cio_id=")

        # A list of ids, emails or cio_ ids with per-person data; unknown ones are errors.
        listed = app.post(
            f"{base}/trigger",
            json={"data": {"headline": "Last day"},
                  "per_user_data": [{"id": "cy", "data": {"headline": "Just for you"}},
                                    {"cio_id": bo_cio}, {"email": "nobody@example.com"}]},
        )  # fmt: skip
        assert listed.status_code == 202, listed.text
        job = wait_job(app, f"{base}/triggers/{listed.json()['id']}")
        assert (job["total"], job["sent"], job["failed"]) == (3, 2, 1)
        assert job["errors"] == [{"identifier": "nobody@example.com", "error": "no such person"}]
        subjects = sorted(m["Subject"] for m in mailbox.wait(4)[2:])
        assert subjects == ["Just for you", "Last day"]
        triggers = app.get(f"{base}/triggers").json()["triggers"]
        assert [t["id"] for t in triggers] == [listed.json()["id"], trigger_id]

        metric = poll(lambda: app.get(f"{base}/metrics").json()["metric"], lambda m: m["clicked"] == 1)
        assert metric["sent"] == 4 and metric["delivered"] == 4
        (top,) = poll(lambda: app.get(f"{base}/links").json()["links"], lambda ls: ls[0]["clicks"] == 1)
        assert top["unique_clicks"] == 1
        action_id = broadcast["actions"][0]["id"]
        assert app.get(f"{base}/actions/{action_id}/metrics").json()["metric"] == metric


def test_newsletter(db_url: str, tmp_path: Path) -> None:
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        for name in ("ada", "bo"):
            identify(server, ws, name, email=f"{name}@example.com", first_name=name.title())

        created = app.post(
            "/v1/newsletters",
            json={"name": "June news", "subject": "News", "body": NEWSLETTER, "from": "news@example.com"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        newsletter = created.json()["newsletter"]
        (content,) = newsletter["contents"]
        assert content["tracked"] is True and newsletter["content_ids"] == [content["id"]]
        base = f"/v1/newsletters/{newsletter['id']}"

        started = app.post(f"{base}/send", json={"recipients": {"emails": ["ada@example.com", "bo@example.com"]}})
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "running"
        job = wait_job(app, f"{base}/sends/{started.json()['id']}")
        assert {k: job[k] for k in ("status", "total", "sent", "failed")} == {
            "status": "done", "total": 2, "sent": 2, "failed": 0}  # fmt: skip

        mails = mailbox.wait(2)
        bo = next(m for m in mails if m["To"] == "bo@example.com")
        assert "News for Bo" in html_of(bo)
        links = tracked(server, html_of(bo))
        assert len(links) == 2
        assert click(links[1]).headers["location"].startswith("https://blog.example.com/post-2?_cio_id=")

        metric = poll(lambda: app.get(f"{base}/metrics").json()["metric"], lambda m: m["clicked"] == 1)
        assert metric["sent"] == 2 and metric["click_rate"] == 0.5
        top = poll(lambda: app.get(f"{base}/links").json()["links"], lambda ls: ls[0]["clicks"] == 1)
        assert top[0]["href"] == "https://blog.example.com/post-2" and top[1]["clicks"] == 0
        per_content = app.get(f"{base}/contents/{content['id']}/metrics").json()["metric"]
        assert per_content == metric
        series = app.get(f"{base}/contents/{content['id']}/metrics/links",
                         params={"period": "days", "steps": 1, "unique": "true"}).json()  # fmt: skip
        assert sorted(e["metric"]["series"]["clicked"][-1] for e in series["links"]) == [0, 1]
        assert all(len(e["metric"]["series"]["clicked"]) == 2 for e in series["links"])

        # The newsletter's tracking toggle: off, nothing is rewritten.
        changed = app.put(f"{base}/contents/{content['id']}", json={"tracked": False})
        assert changed.status_code == 200 and changed.json()["content"]["tracked"] is False
        again = app.post(f"{base}/send", json={"ids": ["ada"]})
        assert wait_job(app, f"{base}/sends/{again.json()['id']}")["sent"] == 1
        html = html_of(mailbox.wait(3)[2])
        assert tracked(server, html) == [] and 'href="https://blog.example.com/post-1"' in html


def bulk_people(db_url: str, workspace_id: int, n: int) -> list[str]:
    """n people written straight to the store (the API would take longer than the send)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from linktrack.adapters.store import make_engine
    from newsletter_bench import add_people

    engine = make_engine(db_url)
    try:
        return add_people(engine, workspace_id, n)
    finally:
        engine.dispose()


def test_newsletter_to_ten_thousand_people_shows_progress(db_url: str, tmp_path: Path) -> None:
    n = 10_000
    with running(db_url, tmp_path) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        ids = bulk_people(db_url, ws["id"], n)
        created = app.post("/v1/newsletters", json={"name": "Big", "subject": "Hi", "body": NEWSLETTER})
        base = f"/v1/newsletters/{created.json()['newsletter']['id']}"

        start = time.monotonic()
        started = app.post(f"{base}/send", json={"recipients": {"ids": ids}})
        assert started.status_code == 202, started.text
        path = f"{base}/sends/{started.json()['id']}"
        seen: list[dict[str, Any]] = []
        while True:
            job = app.get(path).json()
            seen.append(job)
            if job["status"] != "running":
                break
            assert time.monotonic() - start < 120, job
        elapsed = time.monotonic() - start
        assert job["status"] == "done", job
        assert (job["total"], job["sent"], job["failed"], job["skipped"]) == (n, n, 0, 0)
        assert any(j["status"] == "running" and 0 < j["sent"] < n for j in seen), seen[:3]
        sent = [j["sent"] for j in seen]
        assert sent == sorted(sent)  # progress only moves forward
        metric = app.get(f"{base}/metrics").json()["metric"]
        assert metric["sent"] == n and metric["delivered"] == n
        print(f"newsletter to {n:,} people: {elapsed:.1f} s, {n / elapsed:,.0f} deliveries/s")


def test_cli_sends_a_newsletter_with_a_progress_bar(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/cli.db"
    ws = json.loads(cli("workspace", "create", "W", "--json", "--db", db_url))
    ids = bulk_people(db_url, ws["id"], 1_200)
    (tmp_path / "ids.txt").write_text("\n".join([*ids, "nobody"]) + "\n")
    from linktrack.adapters import store
    from linktrack.adapters.store import make_engine

    engine = make_engine(db_url)
    container = store.create_container(engine, ws["id"], "newsletter", "CLI")
    store.create_message(engine, ws["id"], kind="newsletter", channel="email", parent_id=container.id,
                        subject="Hi", body=NEWSLETTER)  # fmt: skip
    engine.dispose()

    out = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", "newsletter", "send", str(container.id),
         "--db", db_url, "--ids-file", str(tmp_path / "ids.txt"), "--progress"],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert (job["status"], job["total"], job["sent"], job["failed"]) == ("done", 1_201, 1_200, 1)
    bars = out.stderr.decode().split("\r")[1:]  # each redraw starts with a carriage return
    assert len(bars) >= 4  # the start, each batch of 500, the end
    assert bars[0].startswith("[" + "." * 30 + "] 0/1,201   0% sent 0 failed 0 skipped 0 ")
    assert bars[1].startswith("[" + "#" * 12 + "." * 18 + "] 500/1,201  42% sent 500 ")
    assert bars[-1].startswith("[" + "#" * 30 + "] 1,201/1,201 100% sent 1,200 failed 1")
    assert bars[-1].endswith("\n")
    # The job is the same one the API reads, and `watch` follows it.
    watched = json.loads(cli("newsletter", "watch", str(container.id), str(job["id"]), "--db", db_url))
    assert watched == job
