"""The dashboard's door, over a real socket: `linktrack user create`, the login page,
sessions, logout, CSRF protection and the login rate limit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server import running

PASSWORD = "correct horse battery staple"


def create_user(db_url: str, email: str, workspace: int, password: str = PASSWORD) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", "user", "create", email,
         "--workspace", str(workspace), "--db", db_url],
        input=password + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/ui/login").text)
    return client.post(
        "/ui/login", data={"email": email, "password": password, "csrf_token": token}
    )


def test_login_session_logout(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        ws = server.workspace("Acme")
        other = server.workspace("Other")
        assert "created" in create_user(db_url, "ana@acme.test", ws["id"])
        create_user(db_url, "olu@other.test", other["id"])
        with httpx.Client(base_url=server.url, timeout=30) as client:
            # Every page but the login page sends a stranger to the login page.
            first = client.get("/ui/messages?sort=name")
            assert first.status_code == 303
            assert first.headers["location"] == "/ui/login?next=/ui/messages%3Fsort%3Dname"
            assert client.get("/").headers["location"] == "/ui/"
            login = client.get("/ui/login")
            assert login.status_code == 200 and "Log in" in login.text
            cookie = login.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie
            wrong = log_in(client, "ana@acme.test", "not the password")
            assert wrong.status_code == 401 and "Wrong email or password." in wrong.text
            unknown = log_in(client, "nobody@acme.test", PASSWORD)
            assert unknown.status_code == 401 and "Wrong email or password." in unknown.text
            ok = log_in(client, "ANA@acme.test", PASSWORD)  # emails match without case
            assert ok.status_code == 303 and ok.headers["location"] == "/ui/"
            page = client.get("/ui/messages")
            assert page.status_code == 200 and "ana@acme.test · Acme" in page.text
            assert "No messages yet" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
            # Logging out needs the form's token; after it the session is gone.
            token = csrf_of(page.text)
            assert client.post("/ui/logout", data={"csrf_token": ""}).status_code == 403
            assert client.post("/ui/logout", data={"csrf_token": token}).status_code == 303
            assert client.get("/ui/messages").status_code == 303
        # Another workspace's user sees their own workspace only.
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert log_in(client, "olu@other.test", PASSWORD).status_code == 303
            assert "olu@other.test · Other" in client.get("/ui/messages").text


def test_csrf_and_rate_limit(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        ws = server.workspace("Acme")
        create_user(db_url, "ana@acme.test", ws["id"])
        with httpx.Client(base_url=server.url, timeout=30) as client:
            token = csrf_of(client.get("/ui/login").text)
            form = {"email": "ana@acme.test", "password": PASSWORD, "csrf_token": token}
            # A post from another site's page, even with a valid token: refused.
            foreign = client.post("/ui/login", data=form, headers={"origin": "http://evil.test"})
            assert foreign.status_code == 403 and "CSRF" in foreign.text
            stale = client.post("/ui/login", data={**form, "csrf_token": "x" * 43})
            assert stale.status_code == 403
            # Five wrong passwords for one email, then even the right one waits.
            for _ in range(5):
                assert (
                    client.post("/ui/login", data={**form, "password": "nope"}).status_code == 401
                )
            blocked = client.post("/ui/login", data=form)
            assert blocked.status_code == 429 and "try again" in blocked.text
            assert int(blocked.headers["retry-after"]) > 0


def test_user_create_refuses_bad_input(db_url: str, tmp_path: Path) -> None:
    def attempt(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "linktrack.entrypoints.cli", "user", "create", *args,
             "--db", db_url],
            input=password + "\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    with running(db_url, tmp_path) as server:
        ws = server.workspace("Acme")
        short = attempt("ana@acme.test", "--workspace", str(ws["id"]), password="short")
        assert short.returncode == 2 and "at least 10 characters" in short.stderr
        nowhere = attempt("ana@acme.test", "--workspace", "999999")
        assert nowhere.returncode == 2 and "no workspace 999999" in nowhere.stderr
        assert attempt("ana@acme.test", "--workspace", str(ws["id"])).returncode == 0
        again = attempt("ana@acme.test", "--workspace", str(ws["id"]))
        assert again.returncode == 2 and "exists" in again.stderr


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/", "/v1/outbox"])
def test_login_goes_only_to_dashboard_pages(target: str) -> None:
    from linktrack.entrypoints.ui.auth import local_target

    assert local_target(target) == "/ui/"
    assert local_target("/ui/people?q=ana") == "/ui/people?q=ana"
