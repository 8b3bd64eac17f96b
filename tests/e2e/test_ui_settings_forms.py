"""The settings and segments forms over HTTP, without a browser (no JavaScript): refused
input is a 4xx page that keeps it, the Preview button, the preview endpoint's CSRF
check, and no form reaching another workspace's keys, messages or segments.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import httpx
from test_ui_login import PASSWORD, create_user, csrf_of, log_in

from server import app_client, running


def _client(url: str, email: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=30)
    assert log_in(client, email, PASSWORD).status_code == 303
    return client, csrf_of(client.get("/ui/settings").text)


def test_settings_forms(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        ws, other = server.workspace("Acme"), server.workspace("Other")
        create_user(db_url, "ana@acme.test", ws["id"])
        create_user(db_url, "olu@other.test", other["id"])
        app = app_client(server, ws["app_api_key"])
        before = app.get("/v1/workspace/settings").json()
        ana, token = _client(server.url, "ana@acme.test")
        olu, their_token = _client(server.url, "olu@other.test")
        with closing(ana), closing(olu):
            bad = ana.post("/ui/settings", data={"csrf_token": token, "section": "tracking",
                                                 "tracking_domain": "not a host!"})  # fmt: skip
            assert bad.status_code == 400
            assert "tracking_domain must be a host name" in bad.text
            assert 'value="not a host!"' in bad.text  # the input kept
            nameless = ana.post("/ui/settings", data={"csrf_token": token, "section": "params",
                                                      "param_name_0": "", "param_value_0": "x"})  # fmt: skip
            assert nameless.status_code == 400 and "needs a name" in nameless.text
            unknown = ana.post("/ui/settings", data={"csrf_token": token, "section": "keys"})
            assert unknown.status_code == 400 and "no settings section" in unknown.text
            assert app.get("/v1/workspace/settings").json() == before

            # The Preview button without JavaScript: the page again, the URL in it, not saved.
            rows = {"csrf_token": token, "section": "params", "param_name_0": "utm_medium",
                    "param_value_0": "{{ customer.plan }}"}  # fmt: skip
            shown = ana.post("/ui/settings", data={**rows, "action": "preview"})
            assert shown.status_code == 200
            assert "spring-sale?ref=mail&amp;utm_medium=pro</output>" in shown.text
            assert app.get("/v1/workspace/settings").json()["url_params"] == {}
            # The live preview's endpoint: the session's token, from this site only.
            assert (
                ana.post("/ui/settings/preview", data={**rows, "csrf_token": ""}).status_code == 403
            )
            cross = ana.post("/ui/settings/preview", data=rows,
                             headers={"origin": "http://127.0.0.1:1"})  # fmt: skip
            assert cross.status_code == 403
            answer = ana.post("/ui/settings/preview", data={**rows, "add_cio_id": "1"})
            assert answer.json()["url"].endswith("&utm_medium=pro&_cio_id=a1b2c3d4e5f6")
            broken = ana.post("/ui/settings/preview", data={**rows, "param_value_0": "{{ x"})
            assert (
                broken.status_code == 422 and "URL parameter utm_medium" in broken.json()["error"]
            )

            # Another workspace's keys: not found, and left alone.
            ids = re.findall(r'<th scope="row">#([0-9]+)</th>', ana.get("/ui/settings").text)
            kid = app.get("/v1/workspace/signing_keys").json()["signing_keys"][0]["kid"]
            olu.post("/ui/settings/signing-keys", data={"csrf_token": their_token})
            for path in [f"/ui/settings/api-keys/{i}/revoke" for i in ids] + [
                f"/ui/settings/signing-keys/{kid}/retire", "/ui/settings/api-keys/x/revoke",
            ]:  # fmt: skip
                assert olu.post(path, data={"csrf_token": their_token}).status_code == 404, path
            assert app.get("/v1/workspace/settings").status_code == 200
            assert (
                app.get("/v1/workspace/signing_keys").json()["signing_keys"][0]["retired_at"]
                is None
            )
            assert ana.post("/ui/settings/api-keys", data={"csrf_token": token,
                                                           "kind": "root"}).status_code == 400  # fmt: skip


def test_segment_forms(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        ws, other = server.workspace("Acme"), server.workspace("Other")
        create_user(db_url, "ana@acme.test", ws["id"])
        theirs = app_client(server, other["app_api_key"])
        message = theirs.post("/v1/transactional", json={"name": "Reset", "body": "<p>hi</p>"})
        their_id = message.json()["transactional_message"]["id"]
        segment = theirs.post("/v1/segments", json={"name": "Theirs", "conditions": {
            "clicked_link": {"href": "*"}}}).json()["segment"]["id"]  # fmt: skip
        ana, token = _client(server.url, "ana@acme.test")
        with closing(ana):
            form = {"csrf_token": token, "name": "S", "who": "human"}
            named = ana.post(
                "/ui/segments/new", data={**form, "message": f"transactional:{their_id}"}
            )
            assert named.status_code == 404 and 'value="S"' in named.text
            day = ana.post("/ui/segments/new", data={**form, "since": "yesterday"})
            assert day.status_code == 400 and "since must be a date" in day.text
            assert ana.post("/ui/segments/new", data={**form, "name": ""}).status_code == 400
            assert ana.get(f"/ui/segments/{segment}").status_code == 404
            assert (
                ana.post(f"/ui/segments/{segment}/delete", data={"csrf_token": token}).status_code
                == 404
            )
            assert ana.get("/ui/segments?start=abc").status_code == 400
            made = ana.post(
                "/ui/segments/new", data={**form, "href": "*/sale*", "until": "2031-05-01"}
            )
            assert made.status_code == 303
            page = ana.get(made.headers["location"])
            assert (
                "first on or before 2031-05-01" in page.text
                and "Nobody is in this segment" in page.text
            )
        assert theirs.get(f"/v1/segments/{segment}").status_code == 200


def test_segment_members_paged(db_url: str, tmp_path: Path) -> None:
    """50 members a page, by keyset: 51 people of a plan (a segment made through the API)."""
    with running(db_url, tmp_path) as server:
        ws = server.workspace("Acme")
        create_user(db_url, "ana@acme.test", ws["id"])
        track = httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]))
        for n in range(51):
            answer = track.put(f"/api/v1/customers/p{n:02}", json={"plan": "pro"})
            assert answer.is_success, answer.text
        app = app_client(server, ws["app_api_key"])
        pro = {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}}
        segment = app.post("/v1/segments", json={"name": "Pro", "conditions": pro})
        path = f"/ui/segments/{segment.json()['segment']['id']}"
        members = re.compile(r'<tr><th scope="row">(p[0-9]+)</th>')
        ana, _ = _client(server.url, "ana@acme.test")
        with closing(ana), closing(track):
            first = ana.get(path).text
            assert members.findall(first) == [f"p{n:02}" for n in range(50)]
            assert "Conditions (made through the API)" in first and ">51</div>" in first
            (start,) = re.findall(r'\?start=([0-9]+)" rel="next"', first)
            second = ana.get(f"{path}?start={start}").text
            assert members.findall(second) == ["p50"] and 'rel="next"' not in second
            listing = ana.get("/ui/segments").text
            assert '<td class="num">51</td>' in listing
