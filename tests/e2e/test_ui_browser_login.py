"""The login page and the Messages page in a real browser (Debian's chromium)."""

from __future__ import annotations

from pathlib import Path

from test_ui_login import PASSWORD, create_user

from browser import check_page, chromium, log_in
from server import running


def test_login_in_the_browser(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/lt.db"
    with running(db_url, tmp_path) as server, chromium() as browser:
        ws = server.workspace("Acme")
        create_user(db_url, "ana@acme.test", ws["id"])
        page = browser.new_page()
        page.goto(f"{server.url}/ui/messages")
        assert page.url.startswith(f"{server.url}/ui/login")
        check_page(page, "login")
        log_in(page, server.url, "ana@acme.test", "wrong password!")
        assert page.get_by_role("alert").inner_text() == "Wrong email or password."
        log_in(page, server.url, "ana@acme.test", PASSWORD)
        assert page.url == f"{server.url}/ui/messages"
        assert page.get_by_role("heading", name="Messages").is_visible()
        check_page(page, "messages-empty")
