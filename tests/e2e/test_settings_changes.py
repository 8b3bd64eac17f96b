"""Settings apply to messages sent afterwards; links already sent keep what they were signed with."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from server import app_client, running


def test_url_params_and_cio_id_changes_affect_only_later_sends(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path}/s.db", tmp_path) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        created = app.post(
            "/v1/transactional",
            json={"name": "m", "subject": "s", "body": '<a href="https://set.example/p">p</a>'},
        )
        message_id = created.json()["transactional_message"]["id"]

        def send_and_link() -> str:
            sent = app.post(
                "/v1/send/email",
                json={"transactional_message_id": message_id, "to": "s@example.com",
                      "identifiers": {"id": "s-1"}},
            )  # fmt: skip
            body = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]
            return str(re.findall(r'href="([^"]+/e/c/[^"]+)"', body["body"])[0])

        def query(link: str) -> dict[str, list[str]]:
            response = httpx.get(link, follow_redirects=False)
            assert response.status_code == 302
            return parse_qs(urlsplit(response.headers["location"]).query)

        assert (
            app.put(
                "/v1/workspace/settings",
                json={"url_params": {"utm_source": "v1"}, "add_cio_id": True},
            ).status_code
            == 200
        )
        before = send_and_link()
        assert (
            app.put(
                "/v1/workspace/settings",
                json={"url_params": {"utm_source": "v2"}, "add_cio_id": False},
            ).status_code
            == 200
        )
        after = send_and_link()

        old = query(before)
        assert old["utm_source"] == ["v1"] and "_cio_id" in old  # as it was sent
        new = query(after)
        assert new["utm_source"] == ["v2"] and "_cio_id" not in new


def test_settings_read_modify_write(tmp_path: Path) -> None:
    """GET, change one field, PUT the whole document back (its warnings too): a 200."""
    with running(f"sqlite:///{tmp_path}/s.db", tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        document = app.get("/v1/workspace/settings").json()
        assert document["warnings"]  # read-only: the HTTP-only tracking domain's
        document["url_params"] = {"utm_source": "linktrack"}
        put = app.put("/v1/workspace/settings", json=document)
        assert put.status_code == 200, put.text
        again = app.get("/v1/workspace/settings").json()
        assert again == document and app.put("/v1/workspace/settings", json=again).json() == again
