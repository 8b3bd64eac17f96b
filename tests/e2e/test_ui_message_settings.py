"""Message settings in a real browser: a link's Track toggle and the message's tracked
checkbox, each checked by the next send made through the HTTP API."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from test_ui_login import PASSWORD, create_user

from browser import check_page, chromium, log_in
from server import app_client, running

BODY = (
    "<html><body><p>Hi {{ customer.first_name }}</p>\n"
    '<a href="https://shop.example/a">A</a>\n'
    "<a class='button big' href='https://shop.example/b'>B</a>\n"
    "<a href=https://shop.example/c>C</a>\n"
    '<a href="mailto:help@shop.example">Mail us</a>\n'
    "</body></html>"
)


def hrefs(app: httpx.Client, delivery_id: str) -> list[str]:
    body = app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"]["body"]
    return re.findall(r"""href=["']?([^"'\s>]+)""", body)


def test_track_toggle_and_tracked_checkbox_change_the_next_send(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lt.db"
    with running(db_url, tmp_path) as server, chromium() as browser:
        ws, other = server.workspace("Acme"), server.workspace("Other")
        create_user(db_url, "ana@acme.test", ws["id"])
        app, stranger = (
            app_client(server, ws["app_api_key"]),
            app_client(server, other["app_api_key"]),
        )
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        assert track.put("/api/v1/customers/ada", json={
            "email": "ada@example.com", "first_name": "Ada",
        }).status_code == 200  # fmt: skip
        created = app.post("/v1/campaigns", json={"name": "Welcome", "actions": [
            {"name": "Hello", "subject": "Hello", "body": BODY, "from": "shop@example.com"},
            {"name": "Text", "channel": "sms", "body": "Hi https://shop.example/sms"},
        ]})  # fmt: skip
        assert created.status_code == 201, created.text
        campaign = created.json()["campaign"]
        action = campaign["actions"][0]

        def trigger() -> list[str]:
            sent = app.post(f"/v1/campaigns/{campaign['id']}/trigger",
                            json={"identifiers": {"id": "ada"}})  # fmt: skip
            assert sent.status_code == 200, sent.text
            return hrefs(app, sent.json()["deliveries"][0]["delivery_id"])

        before = trigger()
        assert sum("/e/c/" in h for h in before) == 3

        page = browser.new_page()
        log_in(page, server.url, "ana@acme.test", PASSWORD)
        settings = f"{server.url}/ui/messages/campaign/{campaign['id']}/settings"
        page.goto(settings)
        assert "later sends only" in page.locator("main").inner_text()
        rows = page.locator(f"#message-{action['id']} table.links tbody tr")
        assert rows.count() == 4
        assert "never rewritten" in rows.nth(3).inner_text()
        check_page(page, "message-settings")

        page.get_by_role("button", name="Stop tracking link 2").click()
        page.wait_for_load_state()
        assert "Saved" in page.get_by_role("status").inner_text()
        assert "Not tracked" in rows.nth(1).inner_text()
        check_page(page, "message-settings-saved")
        stored = app.get(f"/v1/campaigns/{campaign['id']}/actions/{action['id']}").json()
        assert stored["action"]["body"] == BODY.replace(
            "class='button big'", "class='button big untracked'"
        )
        after = trigger()
        assert after[1] == "https://shop.example/b"  # the raw URL
        assert "/e/c/" in after[0] and "/e/c/" in after[2]
        assert after[3] == "mailto:help@shop.example"

        # The toggle back restores the template byte for byte.
        page.get_by_role("button", name="Track link 2").click()
        page.wait_for_load_state()
        assert (
            app.get(f"/v1/campaigns/{campaign['id']}/actions/{action['id']}").json()["action"][
                "body"
            ]
            == BODY
        )

        # A toggle posted from a page of an older body, or for a link the body lacks: refused.
        form = page.locator(f"#message-{action['id']} table.links form").first
        fields = {
            name: form.locator(f'input[name="{name}"]').input_value()
            for name in ("csrf_token", "op", "message_id", "anchor", "version", "tracked")
        }
        stale = page.request.post(settings, form={**fields, "version": "0" * 16})
        assert stale.status == 409 and "reload" in stale.text()
        assert page.request.post(settings, form={**fields, "anchor": "9"}).status == 400
        assert (
            page.request.post(
                settings, form={**fields, "message_id": str(action["id"] + 100)}
            ).status
            == 404
        )

        # The tracked checkbox: off, and the next send carries every link as written.
        box = page.locator(f"#message-{action['id']}").get_by_label(
            "Track opens and link clicks in this message"
        )
        assert box.is_checked()
        box.uncheck()
        page.locator(f"#message-{action['id']}").get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        assert not box.is_checked()
        assert "Tracking is off" in page.locator(f"#message-{action['id']}").inner_text()
        check_page(page, "message-settings-untracked")
        assert (
            app.get(f"/v1/campaigns/{campaign['id']}/actions/{action['id']}").json()["action"][
                "tracked"
            ]
            is False
        )
        assert trigger() == [
            "https://shop.example/a", "https://shop.example/b", "https://shop.example/c",
            "mailto:help@shop.example",
        ]  # fmt: skip

        # A transactional message: the same checkbox, checked by a send.
        message = app.post("/v1/transactional", json={"name": "Receipt", "body": BODY}).json()
        tid = message["transactional_message"]["id"]
        page.goto(f"{server.url}/ui/messages/transactional/{tid}/settings")
        page.get_by_label("Track opens and link clicks in this message").uncheck()
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        sent = app.post("/v1/send/email", json={
            "transactional_message_id": tid, "to": "ada@example.com", "identifiers": {"id": "ada"},
        })  # fmt: skip
        assert sent.status_code == 200, sent.text
        assert not any("/e/c/" in h for h in hrefs(app, sent.json()["delivery_id"]))

        # A newsletter's contents have the same settings.
        letter = app.post("/v1/newsletters", json={"name": "Monthly", "subject": "News",
                                                   "body": BODY}).json()["newsletter"]  # fmt: skip
        page.goto(f"{server.url}/ui/messages/newsletter/{letter['id']}/settings")
        content = letter["contents"][0]
        assert f"content {content['id']}" in page.locator(f"#message-{content['id']}").inner_text()
        page.get_by_role("button", name="Stop tracking link 1").click()
        page.wait_for_load_state()
        shown = app.get(f"/v1/newsletters/{letter['id']}/contents/{content['id']}").json()
        assert shown["content"]["body"] == BODY.replace('<a href="https://shop.example/a"',
                                                        '<a class="untracked" href="https://shop.example/a"')  # fmt: skip

        # Another workspace's messages, and kinds that have no settings, are not found.
        theirs = stranger.post("/v1/transactional", json={"name": "X", "body": BODY}).json()
        for path in (
            f"/ui/messages/transactional/{theirs['transactional_message']['id']}/settings",
            f"/ui/messages/newsletter/{campaign['id']}/settings",
            f"/ui/messages/transactional/{action['id']}/settings",
            f"/ui/messages/adhoc/{tid}/settings",
        ):
            answer = page.goto(f"{server.url}{path}")
            assert answer is not None and answer.status == 404, path
