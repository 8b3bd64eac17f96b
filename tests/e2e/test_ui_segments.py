"""The Segments pages in a real browser (Debian's chromium), over a real server: a
segment built on the page from the human clickers of one link of a broadcast has the
members those clicks made, and the count the API's `customer_count` gives."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from test_segments import _click, _links, _stored
from test_ui_login import PASSWORD, create_user

from browser import check_page, chromium, log_in
from server import Mailbox, app_client, poll, running

BODY = """<html><body><p>Hi {{ customer.first_name }}</p>
<a href="https://shop.example.com/sale/shoes">Sale</a>
<a href="https://shop.example.com/help">Help</a></body></html>"""
PEOPLE = ("p1", "p2", "p3", "p4")


def test_segment_built_in_the_browser(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lt.db"
    with (
        Mailbox() as mailbox,
        running(db_url, tmp_path, smtp_port=mailbox.port) as server,
        chromium() as browser,
    ):
        ws = server.workspace("Acme")
        create_user(db_url, "ana@acme.test", ws["id"])
        app = app_client(server, ws["app_api_key"])
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        for ident in PEOPLE:
            answer = track.put(f"/api/v1/customers/{ident}",
                               json={"email": f"{ident}@example.com", "first_name": ident})  # fmt: skip
            assert answer.is_success, answer.text
        broadcast = app.post("/v1/broadcasts", json={"name": "Spring sale", "actions": [
            {"subject": "Sale", "body": BODY, "from": "shop@example.com"}]}).json()["broadcast"]  # fmt: skip
        job = app.post(f"/v1/broadcasts/{broadcast['id']}/trigger", json={"ids": list(PEOPLE)})
        assert job.status_code == 202, job.text
        mailbox.wait(len(PEOPLE))
        links = _links(server, mailbox)
        time.sleep(2.5)  # a human click sooner than 2 s after the send is too_fast
        _click(links["p1"][0])
        _click(links["p3"][0])
        _click(links["p3"][0])  # twice: still one member
        _click(links["p2"][0], machine=True)  # a HEAD: a machine's
        _click(links["p4"][1])  # another link
        poll(lambda: _stored(app), lambda n: n == 5)

        page = browser.new_page()
        log_in(page, server.url, "ana@acme.test", PASSWORD)
        page.goto(f"{server.url}/ui/segments")
        assert "No segments yet" in page.locator(".empty").inner_text()
        check_page(page, "segments-empty")
        page.get_by_role("link", name="New segment").click()
        check_page(page, "segment-new")
        page.get_by_label("Name", exact=True).fill("Sale clickers")
        page.get_by_label("Clicked a link in").select_option(label="Broadcast: Spring sale")
        page.get_by_label("Link matching (optional)").fill("https://shop.example.com/sale/*")
        page.get_by_label("First click on or after (UTC, optional)").fill("2030-01-02")
        page.get_by_label("First click on or before (UTC, optional)").fill("2030-01-01")
        # Refused as the API refuses it (since after until: 422), the input kept.
        with page.expect_response(f"{server.url}/ui/segments/new") as refused:
            page.get_by_role("button", name="Create segment").click()
        assert refused.value.status == 422
        assert "since is after until" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Name", exact=True).input_value() == "Sale clickers"
        check_page(page, "segment-new-refused")
        page.get_by_label("First click on or after (UTC, optional)").fill("")
        page.get_by_label("First click on or before (UTC, optional)").fill("")
        assert page.get_by_label("Human clicks only").is_checked()
        page.get_by_role("button", name="Create segment").click()

        found = re.fullmatch(re.escape(server.url) + r"/ui/segments/([0-9]+)\?created=1", page.url)
        assert found, page.url
        segment = int(found.group(1))
        api_count = app.get(f"/v1/segments/{segment}/customer_count").json()["count"]
        assert api_count == 2  # p1 and p3: p2's click was a machine's, p4 clicked another link
        assert page.locator("#member-count").inner_text() == str(api_count)
        members = page.locator("table.data tbody th").all_inner_texts()
        assert members == ["p1", "p3"]
        assert app.get(f"/v1/segments/{segment}/membership").json()["ids"] == members
        check_page(page, "segment")
        # The same conditions as the same segment made through the API.
        made = app.get(f"/v1/segments/{segment}").json()["segment"]
        assert made["conditions"] == {"clicked_link": {
            "human_only": True, "href": "https://shop.example.com/sale/*",
            "message": {"kind": "broadcast", "id": broadcast["id"]}}}  # fmt: skip

        page.get_by_role("link", name="← Segments").click()
        row = page.locator("table.data tbody tr")
        assert row.count() == 1 and "Sale clickers" in row.inner_text()
        assert row.locator("td.num").inner_text() == str(api_count)
        check_page(page, "segments")
        row.get_by_role("link", name="Sale clickers").click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Delete this segment").click()
        assert "Segment deleted" in page.get_by_role("status").inner_text()
        assert app.get(f"/v1/segments/{segment}").status_code == 404
        assert page.goto(f"{server.url}/ui/segments/{segment}").status == 404
        # Another workspace's segment is no more to be seen than one that does not exist.
        other = app_client(server, server.workspace("Other")["app_api_key"])
        theirs = other.post("/v1/segments", json={"name": "Theirs", "conditions": {
            "clicked_link": {"href": "*"}}}).json()["segment"]["id"]  # fmt: skip
        assert page.goto(f"{server.url}/ui/segments/{theirs}").status == 404
        page.goto(f"{server.url}/ui/segments")
        assert "Theirs" not in page.content()
