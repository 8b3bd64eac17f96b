"""No dashboard page reads or changes another workspace's data.

The matrix comes from the dashboard's own route table: every `Route("…")` in
`src/linktrack/entrypoints/ui/*.py`, with each path parameter filled with an id of
workspace A. A's user gets the page (so the case is not vacuous); B's user gets a
404 and A's data is unchanged. A route with a parameter this test cannot fill fails
it: a new page must say how its ids are isolated. The pages without ids show B
nothing of A's.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_ui_login import PASSWORD, create_user, csrf_of, log_in

from linktrack.adapters import store
from server import app_client, poll, running

UI = Path(__file__).resolve().parents[2] / "src" / "linktrack" / "entrypoints" / "ui"
ROUTE = re.compile(r'Route\(\s*"(/[^"]*)"')
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"


def ui_routes() -> list[tuple[str, str]]:
    """(method, path) of every dashboard page route, read from the page modules."""
    found = []
    for module in sorted(UI.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        for match in ROUTE.finditer(text):
            rest = text[match.end() :].split("Route(", 1)[0]  # up to the next route
            given = re.search(r"methods=\[([^\]]*)\]", rest)
            methods = re.findall(r'"(GET|POST)"', given.group(1)) if given else ["GET"]
            found += [(method, match.group(1)) for method in methods]
    return sorted(set(found))


def owner_world(server: Any, ws: dict[str, Any]) -> dict[str, list[str]]:
    """Workspace A's objects, through the API, as values for each path parameter."""
    app = app_client(server, ws["app_api_key"])
    body = '<html><body><a href="https://a.example/secret-offer">A only</a></body></html>'
    tx = app.post("/v1/transactional", json={"name": "A's receipt", "subject": "Hi",
                                             "body": body, "from": "a@a.example"}).json()  # fmt: skip
    tx_id = tx["id"] if "id" in tx else tx["transactional_message"]["id"]
    sent = app.post("/v1/send/email", json={"transactional_message_id": tx_id, "to": "ana@a.example",
                                            "identifiers": {"id": "ana-a"}}).json()  # fmt: skip
    delivery = app.get(f"/v1/deliveries/{sent['delivery_id']}").json()["delivery"]
    tracked = re.search(r'href="([^"]+/e/c/[^"]+)"', delivery["body"])
    assert tracked, delivery["body"]
    time.sleep(2.1)  # a human click sooner than 2 s after the send would be too_fast
    httpx.get(tracked.group(1), headers={"user-agent": CHROME}, follow_redirects=False)
    poll(lambda: app.get(f"/v1/deliveries/{sent['delivery_id']}").json()["delivery"]["links"],
         lambda links: links and links[0]["first_clicked_at"] is not None)  # fmt: skip
    campaign = app.post("/v1/campaigns", json={"name": "A's campaign", "actions": [
        {"subject": "S", "body": body, "from": "a@a.example"}]}).json()["campaign"]  # fmt: skip
    newsletter = app.post("/v1/newsletters", json={"name": "A's news", "subject": "N",
                                                   "body": body, "from": "a@a.example"}).json()  # fmt: skip
    segment = app.post("/v1/segments", json={"name": "A's clickers", "conditions": {
        "clicked_link": {"message": {"kind": "transactional", "id": tx_id}}}}).json()["segment"]  # fmt: skip
    app.post("/v1/workspace/signing_keys")  # two live keys: the older may be retired
    keys = app.get("/v1/workspace/signing_keys").json()
    kids = [k["kid"] for k in keys.get("signing_keys", keys.get("keys", []))]
    engine = store.make_engine(server.db_url)
    try:
        person = store.get_person(engine, ws["id"], "ana-a")
        api_keys = store.list_api_keys(engine, ws["id"])
    finally:
        engine.dispose()
    assert person is not None and kids and api_keys
    return {
        "{kind}/{id}": [
            f"campaign/{campaign['id']}",
            f"transactional/{tx_id}",
            f"newsletter/{newsletter['newsletter']['id']}",
        ],
        "{cio_id}": [person.cio_id],
        "{id}": [str(segment["id"])],
        "{kid}": [kids[-1]],
        "{id}/revoke": [f"{api_keys[0].id}/revoke"],
        "link": [str(delivery["links"][0]["link_id"])],
        "names": [
            *("A&#39;s receipt", "A's receipt", "A's campaign", "A's news", "A's clickers"),
            *("ana@a.example", "a.example/secret-offer"),
        ],
    }


def concrete(path: str, world: dict[str, list[str]]) -> list[str]:
    """`path` with A's ids in it; [] for a path without parameters."""
    if "{" not in path:
        return []
    for pattern in ("{kind}/{id}", "{id}/revoke", "{cio_id}", "{kid}", "{id}"):
        if pattern in path:
            filled = [path.replace(pattern, value, 1) for value in world[pattern]]
            if any("{" in p for p in filled):
                pytest.fail(f"the UI isolation test cannot fill every parameter of {path}")
            return filled
    pytest.fail(f"the UI isolation test does not know how to fill {path}: add a case")
    return []


def logged_in(server: Any, email: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    assert log_in(client, email, PASSWORD).status_code == 303
    return client


def test_no_page_shows_or_changes_another_workspaces_data(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        a, b = server.workspace("A"), server.workspace("B")
        create_user(db_url, "owner@a.example", a["id"])
        create_user(db_url, "other@b.example", b["id"])
        world = owner_world(server, a)
        owner, other = logged_in(server, "owner@a.example"), logged_in(server, "other@b.example")
        routes = ui_routes()
        assert ("GET", "/people/{cio_id}") in routes and ("POST", "/segments/{id}/delete") in routes
        checked = 0
        for method, path in routes:
            for target in concrete(path, world):
                url = f"/ui{target}"
                if method == "GET":
                    assert owner.get(url).status_code == 200, url
                    assert other.get(url).status_code == 404, url
                else:
                    token = csrf_of(other.get("/ui/messages").text)
                    answer = other.post(url, data={"csrf_token": token})
                    assert answer.status_code == 404, (url, answer.status_code)
                checked += 1
        assert checked >= 10
        # Who clicked A's link: a 404 for B, the clicker for A.
        link = world["link"][0]
        assert other.get(f"/ui/people?clicked_link={link}").status_code == 404
        assert "ana@a.example" in owner.get(f"/ui/people?clicked_link={link}").text
        # B's own pages (no ids in the path) show nothing of A's.
        for method, path in routes:
            if method == "GET" and "{" not in path:
                page = other.get(f"/ui{path}").text
                leaked = [name for name in world["names"] if name in page]
                assert not leaked, (path, leaked)
        # Searching for A's person from B finds no one (the query is echoed, the person not).
        for query in ("ana@a.example", "ana-a", world["{cio_id}"][0]):
            found = other.get("/ui/people", params={"q": query}).text
            assert f"/ui/people/{world['{cio_id}'][0]}" not in found, query
        # A's data is all still there after B's posts.
        app = app_client(server, a["app_api_key"])
        assert app.get(f"/v1/segments/{world['{id}'][0]}").status_code == 200
        live = app.get("/v1/workspace/signing_keys").json()
        assert world["{kid}"][0] in str(live)
        owner.close()
        other.close()
