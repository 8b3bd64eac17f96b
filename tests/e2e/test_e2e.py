"""End to end over real sockets: identify, send over SMTP, click, read the reports.

Runs on SQLite and on PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from server import Mailbox, app_client, poll, running

TEMPLATE = """<!DOCTYPE html>
<html><body>
<p>Hi {{ customer.first_name }},</p>
<p><a href="https://shop.example.com/welcome?ref=mail">Start here</a></p>
<p><a href="{{ trigger.reset_url }}" data-cio-tag="account">Your account</a></p>
<p><a href="https://shop.example.com/help" class="untracked">Help</a></p>
<p><a href="mailto:help@example.com">Write to us</a></p>
</body></html>"""
TEXT = "Hi {{ customer.first_name }}, start at https://shop.example.com/welcome?ref=mail"


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_send_click_report(db_url: str, tmp_path: Path) -> None:
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))

        settings = app.put(
            "/v1/workspace/settings",
            json={"url_params": {"utm_source": "linktrack", "utm_campaign": "{{ message.name }}"},
                  "add_cio_id": True, "open_tracking": True},
        )  # fmt: skip
        assert settings.status_code == 200, settings.text
        person = track.put(
            "/api/v1/customers/ada-1", json={"email": "ada@example.com", "first_name": "Ada"}
        )
        assert person.status_code == 200, person.text
        cio_id = person.json()["cio_id"]

        created = app.post(
            "/v1/transactional",
            json={"name": "welcome", "subject": "Welcome {{ customer.first_name }}",
                  "body": TEMPLATE, "body_plain": TEXT, "from": "team@example.com"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        message_id = created.json()["transactional_message"]["id"]

        sent = app.post(
            "/v1/send/email",
            json={"transactional_message_id": message_id, "to": "ada@example.com",
                  "identifiers": {"id": "ada-1"},
                  "message_data": {"reset_url": "https://shop.example.com/account/42"}},
        )  # fmt: skip
        assert sent.status_code == 200, sent.text
        delivery_id = sent.json()["delivery_id"]
        assert sent.json()["queued_at"] > 0

        # The real SMTP server received the MIME message.
        (mail,) = mailbox.wait(1)
        assert mail["Subject"] == "Welcome Ada" and mail["To"] == "ada@example.com"
        parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk()
                 if not p.is_multipart()}  # fmt: skip
        html, text = parts["text/html"], parts["text/plain"]
        assert "Hi Ada," in html
        links = hrefs(html)
        tracked = [h for h in links if h.startswith(server.url + "/e/c/")]
        assert len(tracked) == 2
        assert "https://shop.example.com/help" in links and "mailto:help@example.com" in links
        assert re.search(re.escape(server.url) + r"/e/o/\S+", html)
        assert text.startswith("Hi Ada, start at " + server.url + "/e/c/")

        # Each tracked link redirects, without a redirect being followed.
        web = httpx.Client(follow_redirects=False, timeout=30)
        expected = [
            "https://shop.example.com/welcome",
            "https://shop.example.com/account/42",
        ]
        for link, destination in zip(tracked, expected, strict=True):
            response = web.get(link)
            assert response.status_code == 302
            location = response.headers["location"]
            assert location.startswith(destination + "?")
            query = parse_qs(urlsplit(location).query)
            assert query["utm_source"] == ["linktrack"]
            assert query["utm_campaign"] == ["welcome"]
            assert query["_cio_id"] == [cio_id]
        assert web.get(tracked[0]).status_code == 302  # a repeat click
        tampered = tracked[0][:-2] + ("00" if not tracked[0].endswith("00") else "11")
        bad = web.get(tampered)
        assert bad.status_code == 404 and "location" not in bad.headers

        # Reports: one recipient clicked, two links, three clicks in all.
        metric = poll(
            lambda: app.get(f"/v1/transactional/{message_id}/metrics").json()["metric"],
            lambda m: m["clicked"] == 1 and m.get("opened") == 1,
        )
        assert metric["sent"] == 1 and metric["delivered"] == 1
        assert metric["click_rate"] == 1.0
        top = poll(
            lambda: app.get(f"/v1/transactional/{message_id}/links").json()["links"],
            lambda ls: sum(link["clicks"] for link in ls) == 3,
        )
        by_href = {link["href"].split("?")[0]: link for link in top}
        welcome = by_href["https://shop.example.com/welcome"]
        assert welcome["clicks"] == 2 and welcome["unique_clicks"] == 1
        series = app.get(
            f"/v1/transactional/{message_id}/metrics/links",
            params={"period": "days", "steps": 3, "unique": "false"},
        ).json()["links"]
        assert {entry["link"]["id"] for entry in series} == {link["link_id"] for link in top}
        for entry in series:
            clicked = entry["metric"]["series"]["clicked"]
            assert len(clicked) == 3 and clicked[:-1] == [0, 0]
        assert sum(e["metric"]["series"]["clicked"][-1] for e in series) == 3
        unique = app.get(
            f"/v1/transactional/{message_id}/metrics/links",
            params={"period": "hours", "steps": 2, "unique": "true"},
        ).json()["links"]
        assert sum(e["metric"]["series"]["clicked"][-1] for e in unique) == 2
        assert sum(e["metric"]["total"]["clicked"] for e in unique) == 2
        assert sum(e["metric"]["total"]["clicked"] for e in series) == 3
        # Customer.io's steps: absent or 0 is the maximum, 1 is two periods, more is the maximum.
        for params, length in [
            ({}, 45),
            ({"period": "hours"}, 24),
            ({"period": "weeks", "steps": "0"}, 12),
            ({"period": "months"}, 12),
            ({"period": "months", "steps": "0"}, 121),
            ({"period": "days", "steps": "1"}, 2),
            ({"period": "hours", "steps": "99999999999999"}, 24),
        ]:
            got = app.get(f"/v1/transactional/{message_id}/metrics/links", params=params)
            entry = got.json()["links"][0]["metric"]
            assert len(entry["series"]["clicked"]) == length, params
            assert entry["total"]["clicked"] == sum(entry["series"]["clicked"]), params

        activity = app.get("/v1/customers/ada-1/activities").json()["activities"]
        clicked = [a for a in activity if a["type"] == "clicked"]
        assert len(clicked) == 3
        assert {a["delivery_id"] for a in clicked} == {delivery_id}
        assert all(a["link_id"] == by_href[a["href"].split("?")[0]]["link_id"] for a in clicked)
        assert any(a["href"].startswith("https://shop.example.com/account/42") for a in clicked)

        export = app.get("/v1/exports/clicks.csv", params={"message_id": message_id})
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(export.text)))
        assert len(rows) == 1 + 3 and "delivery_id" in rows[0]
        assert all(delivery_id in row for row in rows[1:])
        assert app.get("/v1/exports/clicks.csv", params={"message_id": 999999}).status_code == 404

        delivery = app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"]
        assert delivery["status"] == "sent" and "Hi Ada," in delivery["body"]
        assert len(delivery["links"]) == 2


def test_adhoc_send_to_outbox_and_links_per_url(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        body = ('<a href="https://x.example/a">a</a><a href="https://x.example/a">again</a>'
                '<a href="https://x.example/b?token=1">b</a><a href="www.x.example">c</a>')  # fmt: skip
        sent = app.post(
            "/v1/send/email",
            json={"to": "bo@example.com", "from": "a@example.com", "subject": "s",
                  "identifiers": {"email": "bo@example.com"}, "body": body},
        )  # fmt: skip
        assert sent.status_code == 200, sent.text
        codes = sorted(w["code"] for w in sent.json()["warnings"])
        assert codes == ["no_protocol", "secret_link", "settings"]  # settings: HTTP-only domain
        delivery = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]
        assert delivery["status"] == "outbox"
        assert len(delivery["links"]) == 2
        outbox = app.get("/v1/outbox").json()["deliveries"]
        assert [d["id"] for d in outbox] == [sent.json()["delivery_id"]]
