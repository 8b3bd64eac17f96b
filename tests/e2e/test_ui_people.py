"""The People pages in a real browser: the list and its search box, a person's Activity
timeline (paged, Clicked entries expanding to the link and the machine verdict), who
clicked a link, and another workspace's people out of reach. Data made through the HTTP
API and real clicks."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from test_ui_login import PASSWORD, create_user

from browser import check_page, chromium, log_in
from server import app_client, poll, running

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
BODY = (
    '<p>Hello</p><a href="https://shop.example/sale">Sale</a> '
    '<a href="https://shop.example/help">Help</a>'
)


def send(app: httpx.Client, who: str, subject: str = "Spring sale") -> str:
    sent = app.post("/v1/send/email", json={
        "to": f"{who}@example.com", "identifiers": {"id": who}, "subject": subject, "body": BODY,
    })  # fmt: skip
    assert sent.status_code == 200, sent.text
    return str(sent.json()["delivery_id"])


def links_of(app: httpx.Client, delivery: str) -> list[str]:
    body = app.get(f"/v1/deliveries/{delivery}").json()["delivery"]["body"]
    return re.findall(r'href="([^"]+/e/c/[^"]+)"', body)


def click(url: str, user_agent: str) -> None:
    assert httpx.get(url, headers={"user-agent": user_agent}).status_code == 302


def activities(app: httpx.Client, who: str) -> list[dict[str, Any]]:
    got = app.get(f"/v1/customers/{who}/activities", params={"limit": 100})
    assert got.status_code == 200, got.text
    return list(got.json()["activities"])


def test_people_search_person_activity_and_who_clicked(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lt.db"
    with running(db_url, tmp_path) as server, chromium() as browser:
        ws, other = server.workspace("Acme"), server.workspace("Other")
        create_user(db_url, "ana@acme.test", ws["id"])
        app, stranger = (
            app_client(server, ws["app_api_key"]),
            app_client(server, other["app_api_key"]),
        )
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        assert track.put("/api/v1/customers/pat", json={
            "email": "pat@example.com", "first_name": "Pat", "plan": {"tier": "gold"},
        }).status_code == 200  # fmt: skip
        pat = [send(app, "pat", f"Note {n}") for n in range(29)] + [send(app, "pat")]
        hana, mac = send(app, "hana"), send(app, "mac")
        zed = send(stranger, "zed")
        time.sleep(2.2)  # a click within 2 s of the send is judged a machine's (too_fast)
        sale, help_ = links_of(app, pat[-1])
        click(sale, BROWSER_UA)
        click(help_, "curl/8.5.0")  # a machine: its User-Agent is an HTTP library's
        click(links_of(app, hana)[0], BROWSER_UA)
        click(links_of(app, mac)[0], "curl/8.5.0")
        click(links_of(stranger, zed)[0], BROWSER_UA)
        # 30 sends, the two clicks, and the open the first click implies.
        feed = poll(lambda: activities(app, "pat"), lambda got: len(got) == 30 + 2 + 1)
        for client, who in ((app, "hana"), (app, "mac"), (stranger, "zed")):
            poll(lambda c=client, w=who: activities(c, w),
                 lambda got: any(a["type"] == "clicked" for a in got))  # fmt: skip
        (sale_click,) = [a for a in feed if a["type"] == "clicked" and not a["machine"]]
        (help_click,) = [a for a in feed if a["type"] == "clicked" and a["machine"]]
        assert help_click["machine_reasons"] == ["bot_user_agent"]

        page = browser.new_page()
        log_in(page, server.url, "ana@acme.test", PASSWORD)
        page.goto(f"{server.url}/ui/people")
        rows = page.locator("table.people tbody tr")
        assert rows.count() == 3  # newest first
        assert rows.first.locator("th").inner_text() == "mac@example.com"
        check_page(page, "people")

        page.get_by_label("Find a person").fill("pat@exa")
        page.get_by_role("button", name="Search").click()
        page.wait_for_load_state()
        assert rows.count() == 1
        assert rows.first.locator("td").last.inner_text() != ""
        assert rows.first.locator("td.num").inner_text() == "1"  # human clicks only
        check_page(page, "people-search")
        page.get_by_role("link", name="pat@example.com").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "pat@example.com"
        assert page.locator("table.attributes").inner_text().count("gold") == 1

        # The newest page: the machine click on Help, then the human one on Sale.
        entries = page.locator("ol.timeline > li")
        assert entries.count() == 25
        clicked = page.locator("li.clicked details")
        machine, human = clicked.nth(0), clicked.nth(1)
        assert not human.locator("dl").is_visible()
        human.locator("summary").click()
        assert human.locator("dl").is_visible()
        shown = human.locator("dl").inner_text()
        assert "https://shop.example/sale" in shown and f"#{sale_click['link_id']}" in shown
        assert pat[-1] in shown and "Human" in shown and "no machine signal" in shown
        assert human.get_by_role("link", name="Ad hoc email").get_attribute("href") == (
            f"/ui/messages/adhoc/{sale_click['message_id']}"
        )
        machine.locator("summary").click()
        verdict = machine.locator("dl").inner_text()
        assert "https://shop.example/help" in verdict and "Machine" in verdict
        assert "User-Agent is a crawler's" in verdict
        check_page(page, "person")

        # Paging: the API's feed, 25 then the rest, the same entries in the same order.
        def seen() -> list[tuple[str | None, str | None]]:
            return [(e.get_attribute("data-type"), e.get_attribute("data-delivery"))
                    for e in entries.all()]  # fmt: skip

        first = seen()
        page.get_by_role("link", name="Older activity").click()
        page.wait_for_load_state()
        rest = seen()
        assert len(rest) == len(feed) - 25
        assert first + rest == [(a["type"], a["delivery_id"]) for a in feed]
        assert page.get_by_role("link", name="Older activity").count() == 0
        check_page(page, "person-older")
        page.get_by_label("Show").select_option("clicked")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_load_state()
        assert seen() == [("clicked", pat[-1])] * 2

        # Who clicked Sale: the human clickers only, then with machines.
        page.goto(f"{server.url}/ui/people?clicked_link={sale_click['link_id']}")
        names = page.locator("table.data tbody th")
        assert sorted(names.all_inner_texts()) == ["hana@example.com", "pat@example.com"]
        check_page(page, "link-clickers")
        page.get_by_label("Include machine clicks").check()
        page.get_by_role("button", name="Apply").click()
        page.wait_for_load_state()
        assert sorted(names.all_inner_texts()) == [
            "hana@example.com", "mac@example.com", "pat@example.com",
        ]  # fmt: skip

        # Another workspace's person and link are not found; nor is a made-up one.
        zed_person = stranger.get("/v1/customers/zed").json()["customer"]
        (zed_click,) = [a for a in activities(stranger, "zed") if a["type"] == "clicked"]
        for path in (
            f"/ui/people/{zed_person['cio_id']}",
            f"/ui/people?clicked_link={zed_click['link_id']}",
            "/ui/people/nosuchperson",
        ):
            answer = page.goto(f"{server.url}{path}")
            assert answer is not None and answer.status == 404, path
        check_page(page, "person-not-found")
        for bad_link in ("", "abc", "-1"):
            answer = page.goto(f"{server.url}/ui/people?clicked_link={bad_link}")
            assert answer is not None and answer.status == 400, bad_link
        bad = page.goto(f"{server.url}/ui/people/{zed_person['cio_id']}?start=forged")
        assert bad is not None and bad.status == 404  # the person is looked up first
        page.goto(f"{server.url}/ui/people?q=nobody")
        assert "Nobody in this workspace" in page.locator("main").inner_text()
