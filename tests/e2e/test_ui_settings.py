"""The Workspace settings page in a real browser (Debian's chromium), over a real server:
a URL parameter saved on the page is on the next send's links, its live preview, a
refused form that keeps its input, signing keys rotated and retired, an API key created
(shown once, working), revoked (refused from then on), and a form posted from another
origin refused by CSRF protection."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from test_ui_login import PASSWORD, create_user

from browser import check_page, chromium, log_in
from server import Mailbox, Server, app_client, running

BODY = (
    '<html><body><p>Hi</p><a href="https://shop.example.com/spring">Spring sale</a></body></html>'
)


@contextmanager
def other_origin(html: str) -> Iterator[str]:
    """A page served from another origin (the same host, another port): an attacker's."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _destination_of_sent_link(server: Server, app: httpx.Client, mailbox: Mailbox) -> str:
    """Send an email through the API and follow its tracked link: where it redirects."""
    sent = app.post("/v1/send/email", json={
        "to": "bo@example.com", "from": "shop@example.com", "subject": "Spring",
        "identifiers": {"email": "bo@example.com"}, "body": BODY})  # fmt: skip
    assert sent.status_code == 200, sent.text
    mail = mailbox.wait(1)[-1]
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    payload = html.get_payload(decode=True)
    assert isinstance(payload, bytes)
    (tracked,) = re.findall(r'href="(' + re.escape(server.url) + r'/e/c/[^"]+)"', payload.decode())
    answer = httpx.get(tracked, follow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _url_parameters(page: Any, server: Server, app: httpx.Client, mailbox: Mailbox) -> None:
    page.goto(f"{server.url}/ui/settings")
    assert page.get_by_role("heading", name="Workspace settings").is_visible()
    # The workspace tracks over plain HTTP (127.0.0.1): the API's HSTS warning is shown.
    warnings = app.get("/v1/workspace/settings").json()["warnings"]
    assert warnings and warnings[0] in page.locator(".notice.warn").first.inner_text()
    check_page(page, "settings")
    page.get_by_label("Name of parameter 1", exact=True).fill("utm_source")
    page.get_by_label("Value of parameter 1", exact=True).fill("newsletter")
    page.get_by_role("button", name="Add a row").click()  # by the script: no request
    assert page.locator("tr.param-row").count() == 3
    page.get_by_label("Name of parameter 3", exact=True).fill("utm_campaign")
    page.get_by_label("Value of parameter 3", exact=True).fill("{{ campaign.name }}")
    # The live preview: the page's script asks /ui/settings/preview as the rows change.
    expect(page.locator("#preview-url")).to_have_text(
        "https://www.example.com/spring-sale?ref=mail&utm_source=newsletter"
        "&utm_campaign=Spring%20sale&_cio_id=a1b2c3d4e5f6"
    )
    # Liquid that does not compile: the preview says so, saving is refused with the input kept.
    page.get_by_label("Value of parameter 3", exact=True).fill("{{ campaign.name")
    expect(page.locator("#preview-url")).to_contain_text("URL parameter utm_campaign")
    with page.expect_response(f"{server.url}/ui/settings") as refused:
        page.get_by_role("button", name="Save URL parameters").click()
    assert refused.value.status == 422
    assert "utm_campaign" in page.get_by_role("alert").inner_text()
    # Shown again without the blank row between: utm_campaign is the second now.
    assert page.get_by_label("Value of parameter 2", exact=True).input_value() == "{{ campaign.name"
    assert page.get_by_label("Value of parameter 1", exact=True).input_value() == "newsletter"
    check_page(page, "settings-refused")
    assert app.get("/v1/workspace/settings").json()["url_params"] == {}
    page.get_by_role("checkbox", name="Remove parameter 2").check()  # the refused row
    page.get_by_role("button", name="Save URL parameters").click()
    assert "URL parameters saved" in page.get_by_role("status").first.inner_text()
    assert app.get("/v1/workspace/settings").json()["url_params"] == {"utm_source": "newsletter"}
    location = _destination_of_sent_link(server, app, mailbox)
    assert location.startswith("https://shop.example.com/spring?utm_source=newsletter&_cio_id=")


def _signing_keys(page: Any, server: Server, app: httpx.Client) -> None:
    (first,) = app.get("/v1/workspace/signing_keys").json()["signing_keys"]
    page.get_by_role("button", name="Rotate: add a new signing key").click()
    assert "A new signing key" in page.get_by_role("status").first.inner_text()
    keys = app.get("/v1/workspace/signing_keys").json()["signing_keys"]
    assert len(keys) == 2 and keys[0]["kid"] == first["kid"]
    newest = page.locator("#signing-keys tbody tr").nth(1)
    assert keys[1]["kid"] in newest.inner_text() and "Signs new links" in newest.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Retire key {first['kid']}").click()
    assert "Signing key retired" in page.get_by_role("status").first.inner_text()
    keys = app.get("/v1/workspace/signing_keys").json()["signing_keys"]
    assert keys[0]["retired_at"] is not None and keys[1]["retired_at"] is None
    # The one live key left cannot be retired: the page offers no button for it.
    assert page.get_by_role("button", name=re.compile("^Retire")).count() == 0


def _api_keys(page: Any, server: Server) -> None:
    page.get_by_label("Kind").select_option("app")
    with page.expect_response(f"{server.url}/ui/settings/api-keys") as made:
        page.get_by_role("button", name="Create API key").click()
    assert made.value.status == 201
    key = page.locator("#new-key").inner_text()
    assert re.fullmatch("[0-9a-f]{40}", key)
    assert "will not be shown again" in page.locator(".new-key").inner_text()
    check_page(page, "settings-new-key")
    with httpx.Client(base_url=server.url, timeout=30) as api:
        bearer = {"Authorization": f"Bearer {key}"}
        assert api.get("/v1/workspace/settings", headers=bearer).status_code == 200
        page.goto(f"{server.url}/ui/settings")
        assert key not in page.content()  # shown once
        row = page.locator(
            "#api-keys tbody tr", has_text=hashlib.sha256(key.encode()).hexdigest()[:12]
        )
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name=re.compile("^Revoke")).click()
        assert "API key revoked" in page.get_by_role("status").first.inner_text()
        assert api.get("/v1/workspace/settings", headers=bearer).status_code == 401


def _cross_origin_post(page: Any, server: Server, app: httpx.Client) -> None:
    before = app.get("/v1/workspace/settings").json()
    attack = f"""<!doctype html><html lang="en"><title>Win a prize</title><body>
<form id="f" method="post" action="{server.url}/ui/settings">
<input name="section" value="tracking"><input name="tracking_domain" value="evil.example.net">
<input name="open_tracking" value="1"><input name="csrf_token" value="guessed">
</form><script>document.getElementById("f").submit()</script></body></html>"""
    with other_origin(attack) as attacker:
        assert not attacker.startswith(server.url)
        with page.expect_response(f"{server.url}/ui/settings") as answer:
            page.goto(attacker)
        assert answer.value.status == 403
        page.wait_for_load_state()
        assert "CSRF protection" in page.get_by_role("alert").inner_text()
    assert app.get("/v1/workspace/settings").json() == before


def test_workspace_settings_in_the_browser(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lt.db"
    with (
        Mailbox() as mailbox,
        running(db_url, tmp_path, smtp_port=mailbox.port) as server,
        chromium() as browser,
    ):
        ws = server.workspace("Acme")
        create_user(db_url, "ana@acme.test", ws["id"])
        app = app_client(server, ws["app_api_key"])
        page = browser.new_page()
        log_in(page, server.url, "ana@acme.test", PASSWORD)
        _url_parameters(page, server, app, mailbox)
        _signing_keys(page, server, app)
        _api_keys(page, server)
        _cross_origin_post(page, server, app)
