"""The message report in a real browser: a campaign sent to three people over real
SMTP, human clicks (a browser's User-Agent, past the too_fast window) and machine
clicks (HEAD, curl), then the page's numbers against the API's for the same
campaign, its chart, the machine and period switches, the click map's badges,
and another workspace's user refused with a 404."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from test_ui_login import PASSWORD, create_user
from test_ui_login import log_in as ui_log_in

from browser import SCREENSHOTS, check_page, chromium, log_in
from server import Mailbox, Server, app_client, poll, running

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
SALE = """<!doctype html><html lang="en"><head><title>Spring sale</title></head><body>
<h1>Spring sale, {{ customer.first_name }}</h1>
<p><a href="https://shop.example.com/sale" data-cio-tag="sale">Shop the sale</a></p>
<p><a href="https://shop.example.com/sale?banner=1" data-cio-tag="sale">Banner</a></p>
<p><a href="https://shop.example.com/help">Help</a> or <a href="https://shop.example.com/blog">Blog</a></p>
</body></html>"""
REMINDER = """<!doctype html><html lang="en"><head><title>Last day</title></head><body>
<p>Last day: <a href="https://shop.example.com/sale?last=1" data-cio-tag="sale">Sale</a></p>
</body></html>"""
PEOPLE = ("p1", "p2", "p3")


def _mails(server: Server, mailbox: Mailbox) -> dict[tuple[str, str], list[str]]:
    """Each (recipient, subject)'s tracked links, in document order."""
    out = {}
    for mail in mailbox.messages:
        part = next(p for p in mail.walk() if p.get_content_type() == "text/html")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found = re.findall(r'href="(' + re.escape(server.url) + r'/e/c/[^"]+)"', payload.decode())
        out[(str(mail["To"]).split("@")[0], str(mail["Subject"]))] = found
    return out


def _click(url: str, *, method: str = "GET", agent: str = CHROME) -> None:
    answer = httpx.request(method, url, headers={"User-Agent": agent}, timeout=30)
    assert answer.status_code == 302, answer.text


def _campaign(server: Server, ws: dict[str, Any], mailbox: Mailbox) -> tuple[dict[str, Any], Any]:
    """The campaign, sent to PEOPLE, with 5 human and 3 machine clicks stored."""
    app = app_client(server, ws["app_api_key"])
    track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
    for ident in PEOPLE:
        answer = track.put(f"/api/v1/customers/{ident}",
                           json={"email": f"{ident}@example.com", "first_name": ident})  # fmt: skip
        assert answer.is_success, answer.text
    made = app.post("/v1/campaigns", json={"name": "Spring sale", "trigger_event": "spring",
        "actions": [{"name": "Sale mail", "subject": "Sale", "body": SALE, "from": "s@example.com"},
                    {"name": "Reminder", "subject": "Last day", "body": REMINDER,
                     "from": "s@example.com"}]})  # fmt: skip
    assert made.status_code == 201, made.text
    campaign = made.json()["campaign"]
    for ident in PEOPLE:
        done = app.post(f"/v1/campaigns/{campaign['id']}/trigger",
                        json={"identifiers": {"id": ident}, "event": {"name": "spring"}})  # fmt: skip
        assert done.status_code == 200, done.text
    mailbox.wait(2 * len(PEOPLE))
    links = _mails(server, mailbox)
    assert len(links[("p1", "Sale")]) == 4 and len(links[("p1", "Last day")]) == 1
    time.sleep(2.5)  # past too_fast: these are people
    _click(links[("p1", "Sale")][0])
    _click(links[("p1", "Sale")][2])
    _click(links[("p2", "Sale")][1])  # the banner: the same tagged link as "Shop the sale"
    _click(links[("p2", "Sale")][1])
    _click(links[("p1", "Last day")][0])
    _click(links[("p3", "Sale")][3], method="HEAD")  # machines
    _click(links[("p3", "Sale")][3], agent="curl/8.5.0")
    _click(links[("p2", "Sale")][3], method="HEAD")
    top = f"/v1/campaigns/{campaign['id']}/links"
    poll(lambda: sum(link["clicks"] for link in app.get(top).json()["links"]), lambda n: n == 8)
    return campaign, app


def _cell(row: Any, metric: str) -> str:
    return str(row.locator(f'td[data-metric="{metric}"]').inner_text())


def test_report_in_the_browser(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lt.db"
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace("Acme")
        other = server.workspace("Other")
        create_user(db_url, "ana@acme.test", ws["id"])
        create_user(db_url, "olu@other.test", other["id"])
        campaign, app = _campaign(server, ws, mailbox)
        sale_action = campaign["actions"][0]["id"]
        path = f"/ui/messages/campaign/{campaign['id']}"
        api_links = app.get(f"/v1/campaigns/{campaign['id']}/links").json()["links"]
        metric = app.get(f"/v1/campaigns/{campaign['id']}/metrics").json()["metric"]
        assert metric["human_clicked"] == 3 and metric["clicked"] == 4
        with chromium() as browser:
            page = browser.new_page()
            log_in(page, server.url, "ana@acme.test", PASSWORD)
            page.goto(f"{server.url}/ui/messages")
            page.get_by_role("link", name="Spring sale").click()
            assert page.url == f"{server.url}{path}"
            assert page.get_by_role("heading", name="Spring sale", level=1).is_visible()
            _check_numbers(page, metric, api_links)
            _check_chart(page)
            settings = page.get_by_role("link", name="Tracking settings")
            assert settings.get_attribute("href") == f"{path}/settings"
            page.frame_locator("iframe.clickmap").locator(".lt-badge").first.wait_for()
            check_page(page, "report")
            # Chromium leaves an out-of-process frame blank in full-page shots: the click
            # map section again, scrolled into view.
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            section = page.locator('section[aria-labelledby="map-heading"]')
            section.screenshot(path=str(SCREENSHOTS / "report-clickmap-in-page-desktop.png"))
            _check_switches(page, server.url, path, metric)
            _check_actions(page, app, campaign, sale_action)
            _check_clickmap(page, server.url, path, app, campaign, sale_action)
            _check_empty(page, server.url, app)
            _check_refused(browser, server.url, path)


def _check_numbers(page: Any, metric: dict[str, Any], api_links: list[dict[str, Any]]) -> None:
    """Clicked (human) and every Top Clicked Links number equal the API's."""
    assert page.locator("#m-clicked").inner_text() == f"{metric['human_clicked']:,}"
    rate = f"{metric['human_click_rate'] * 100:.1f} %"
    assert page.locator("#m-click-rate").inner_text() == rate
    assert page.locator("#m-sent").inner_text() == f"{metric['sent']:,}"
    rows = page.locator("table.top-links tr.link")
    assert rows.count() == len(api_links) == 4
    for link in api_links:
        row = page.locator(f'tr[data-link-id="{link["link_id"]}"]')
        for name in ("human_clicks", "machine_clicks", "human_unique_clicks", "unique_clicks"):
            assert _cell(row, name) == f"{link[name]:,}", (link, name)
        assert link["href"] in row.locator("th").inner_text()
        who = row.get_by_role("link", name=re.compile("Who clicked"))
        assert who.get_attribute("href") == f"/ui/people?clicked_link={link['link_id']}"
    # The "sale" tag of both actions: one group, its numbers the sums of its links'.
    tagged = [link for link in api_links if link["tag"] == "sale"]
    assert len(tagged) == 2
    group = page.locator('tr.group[data-tag="sale"]')
    cells = group.locator("td.num").all_inner_texts()
    sums = [sum(link[n] for link in tagged) for n in ("human_clicks", "machine_clicks")]
    assert cells[:2] == [f"{n:,}" for n in sums] and sums[0] == 4


def _check_chart(page: Any) -> None:
    chart = page.locator("figure.chart svg")
    assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-labelledby")
    human = page.locator("svg rect.bar.human")
    machine = page.locator("svg rect.bar.machine")
    assert human.count() >= 1 and machine.count() >= 1
    assert sum(int(v) for v in human.evaluate_all("els => els.map(e => e.dataset.value)")) == 5
    assert sum(int(v) for v in machine.evaluate_all("els => els.map(e => e.dataset.value)")) == 3
    assert float(human.first.get_attribute("height")) > 0
    assert "5 human, 3 machine" in page.locator("#chart-title").text_content()


def _check_switches(page: Any, url: str, path: str, metric: dict[str, Any]) -> None:
    page.get_by_label("Include machine clicks").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "machine=1" in page.url
    assert page.locator("#m-clicked").inner_text() == f"{metric['clicked']:,}"
    page.get_by_role("navigation", name="Chart period").get_by_role("link", name="Hours").click()
    page.wait_for_load_state()
    assert "period=hours" in page.url and "machine=1" in page.url
    assert page.locator("figure.chart svg").get_attribute("data-period") == "hours"
    assert page.locator("svg rect.bar.human").count() >= 1
    assert page.locator("#m-clicked").inner_text() == f"{metric['clicked']:,}"
    labels = page.locator("svg text.axis").all_text_contents()
    assert any(re.fullmatch(r"\d\d:00", label) for label in labels), labels
    for period in ("weeks", "months"):
        page.goto(f"{url}{path}?period={period}")
        assert page.locator("svg rect.bar.human").count() >= 1
    bad = page.goto(f"{url}{path}?period=years")
    assert bad is not None and bad.status == 400


def _check_actions(page: Any, app: httpx.Client, campaign: dict[str, Any], action: int) -> None:
    """The actions table, and the report narrowed to one action: the API's action numbers."""
    page.goto(page.url.split("?")[0])
    rows = page.locator("table.actions tbody tr")
    assert rows.count() == 2
    page.get_by_role("link", name="Sale mail").click()
    page.wait_for_load_state()
    assert f"action={action}" in page.url
    base = f"/v1/campaigns/{campaign['id']}/actions/{action}"
    metric = app.get(f"{base}/metrics").json()["metric"]
    links = app.get(f"{base}/links").json()["links"]
    assert page.locator("#m-clicked").inner_text() == f"{metric['human_clicked']:,}"
    assert page.locator("table.top-links tr.link").count() == len(links) == 3
    for link in links:
        row = page.locator(f'tr[data-link-id="{link["link_id"]}"]')
        assert _cell(row, "human_clicks") == f"{link['human_clicks']:,}"


def _check_clickmap(
    page: Any, url: str, path: str, app: httpx.Client, campaign: dict[str, Any], action: int
) -> None:
    """Each anchor of the sale mail badged with its link's human clicks and share."""
    links = app.get(f"/v1/campaigns/{campaign['id']}/actions/{action}/links").json()["links"]
    whole = sum(link["human_clicks"] for link in links)
    by_text = {"Shop the sale": "sale", "Banner": "sale", "Help": "/help", "Blog": "/blog"}
    frame = page.frame_locator("iframe.clickmap")
    anchors = frame.locator("a")
    assert anchors.count() == 4
    for text, which in by_text.items():
        link = next(k for k in links if k["tag"] == which or k["href"].endswith(which))
        badge = frame.locator(f'a:text-is("{text}") + .lt-badge')
        share = link["human_clicks"] / whole * 100
        assert badge.inner_text() == f"{link['human_clicks']:,} · {share:.1f} %", text
        assert frame.locator(f'a:text-is("{text}")').get_attribute("href") == "#"
    assert page.locator("iframe.clickmap").get_attribute("sandbox") == ""
    answer = page.goto(f"{url}{path}/clickmap?action={action}")
    assert answer is not None and answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "/e/o/" not in page.content()  # the open pixel emptied: viewing is not an open
    check_page(page, "report-clickmap")


def _check_empty(page: Any, url: str, app: httpx.Client) -> None:
    """A message sent to nobody yet: its empty states, still accessible."""
    made = app.post("/v1/transactional", json={"name": "Welcome", "subject": "Hi",
                                               "body": SALE, "from": "s@example.com"})  # fmt: skip
    message = made.json()["transactional_message"]["id"]
    page.goto(f"{url}/ui/messages/transactional/{message}")
    assert page.get_by_text("Nothing was sent yet: send it").is_visible()
    assert page.get_by_text("No tracked links yet").is_visible()
    assert page.locator("svg rect.bar").count() == 0 and page.locator("svg line.grid").count() > 1
    check_page(page, "report-empty")


def _check_refused(browser: Any, url: str, path: str) -> None:
    page = browser.new_page()
    log_in(page, url, "olu@other.test", PASSWORD)
    for target in (path, f"{path}/clickmap", "/ui/messages/transactional/999999"):
        answer = page.goto(f"{url}{target}")
        assert answer is not None and answer.status == 404, target
    check_page(page, "report-not-found")
    page.close()


TEMPLATE = """<html lang="en"><head><title>Receipt</title></head><body>
<p>Thanks {{ customer.first_name }}: <a href="https://shop.example.com/orders">your orders</a>
<img src="https://cdn.example.com/logo.png" alt="Shop"></p></body></html>"""


def test_report_pages_over_http(db_url: str, tmp_path: Path) -> None:
    """A transactional message before and after its send, the click map's documents,
    and every bad address a clear 4xx (another kind's id, a bad action or period)."""
    with Mailbox() as mailbox, running(db_url, tmp_path, smtp_port=mailbox.port) as server:
        ws = server.workspace("Acme")
        create_user(db_url, "ana@acme.test", ws["id"])
        app = app_client(server, ws["app_api_key"])
        made = app.post("/v1/transactional", json={"name": "Receipt", "subject": "Receipt",
                                                   "body": TEMPLATE, "from": "s@example.com"})  # fmt: skip
        message = made.json()["transactional_message"]["id"]
        path = f"/ui/messages/transactional/{message}"
        with httpx.Client(base_url=server.url, timeout=30) as web:
            assert web.get(path).status_code == 303  # to the login page
            assert ui_log_in(web, "ana@acme.test", PASSWORD).status_code == 303
            empty = web.get(path)
            assert empty.status_code == 200 and "Nothing was sent yet" in empty.text
            assert "The template (nothing was sent yet" in empty.text
            template = web.get(f"{path}/clickmap")
            assert template.headers["content-security-policy"].startswith("default-src 'none'")
            # The template, inert; its links have no rows before a send, so no badges yet.
            assert 'href="#">your orders</a>\n<img' in template.text
            assert '<span class="lt-badge' not in template.text
            sent = app.post("/v1/send/email", json={"transactional_message_id": message,
                            "to": "ada@example.com", "identifiers": {"id": "ada"}})  # fmt: skip
            assert sent.status_code == 200, sent.text
            mailbox.wait(1)
            after = web.get(f"{path}/clickmap").text
            # The delivery's body: its tracked link badged (no clicks yet), its pixel gone.
            assert '<a href="#">your orders</a><span class="lt-badge lt-zero"' in after
            assert "/e/o/" not in after and "/e/c/" not in after
            assert 'src="https://cdn.example.com/logo.png"' in after
            page = web.get(path)
            assert "The message as sent to one recipient" in page.text
            assert "https://shop.example.com/orders" in page.text
            campaign = app.post("/v1/campaigns", json={"name": "C", "trigger_event": "e",
                "actions": [{"subject": "S", "body": "<p>x</p>"}]}).json()["campaign"]  # fmt: skip
            action = campaign["actions"][0]["id"]
            for wrong, status in (
                ("/ui/messages/podcast/1", 404),
                ("/ui/messages/transactional/x1", 404),
                (f"/ui/messages/transactional/{action}", 404),  # a campaign's action
                (f"/ui/messages/broadcast/{campaign['id']}", 404),
                (f"/ui/messages/campaign/{campaign['id']}?action=abc", 400),
                (f"/ui/messages/campaign/{campaign['id']}?action={message}", 404),
                (f"{path}?period=years", 400),
                (f"/ui/messages/campaign/{campaign['id']}?action={action}", 200),
            ):
                assert web.get(wrong).status_code == status, wrong
