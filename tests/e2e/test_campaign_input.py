"""Campaigns, broadcasts and newsletters, bad input over real HTTP: 404 for what does
not exist, 400/422 with `{"meta":{"error":…}}` for malformed requests, and nothing
written. The recipients filter language itself: unit/test_audience.py.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server import Server, app_client, running

BODY = '<html><body><a href="https://kinds.example/a">a</a></body></html>'
TABLES = ("containers", "messages", "send_jobs", "deliveries", "people", "links")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("kinds-input")
    with running(f"sqlite:///{tmp}/kinds.db", tmp) as server:
        ws = server.workspace("A")
        app = app_client(server, ws["app_api_key"])
        ids = {}
        for plural, body in (
            ("campaigns", {"name": "c", "actions": [{"subject": "s", "body": BODY}]}),
            ("broadcasts", {"name": "b", "actions": [{"subject": "s", "body": BODY}]}),
            ("newsletters", {"name": "n", "subject": "s", "body": BODY}),
        ):
            created = app.post(f"/v1/{plural}", json=body)
            assert created.status_code == 201, created.text
            (view,) = created.json().values()
            ids[plural] = (view["id"], view["content_ids" if plural == "newsletters" else "actions"])
        ids["action"] = ids["campaigns"][1][0]["id"]
        yield server, app, ids


def counts(server: Server) -> tuple[int, ...]:
    path = server.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return tuple(conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES)


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["meta"]["error"]
    assert isinstance(message, str) and message
    return message


def test_unknown_ids_are_404(env: tuple[Server, httpx.Client, dict[str, Any]]) -> None:
    server, app, ids = env
    campaign, broadcast, newsletter = (ids[k][0] for k in ("campaigns", "broadcasts", "newsletters"))
    action = ids["action"]
    before = counts(server)
    for path in (
        "/v1/campaigns/999999", "/v1/broadcasts/999999", "/v1/newsletters/999999",
        "/v1/campaigns/abc", "/v1/campaigns/999999/metrics", "/v1/campaigns/999999/links",
        "/v1/newsletters/999999/metrics/links", f"/v1/campaigns/{campaign}/actions/999999",
        f"/v1/campaigns/{campaign}/actions/999999/metrics", f"/v1/broadcasts/{broadcast}/actions/{action}",
        f"/v1/broadcasts/{broadcast}/triggers/999999", f"/v1/newsletters/{newsletter}/sends/999999",
        f"/v1/broadcasts/{broadcast}/triggers/x", f"/v1/campaigns/{broadcast}",  # a broadcast is no campaign
        f"/v1/newsletters/{newsletter}/contents/{action}/links",
    ):  # fmt: skip
        error_of(app.get(path), 404)
    error_of(app.post("/v1/campaigns/999999/trigger",
                      json={"identifiers": {"id": "a"}, "event": {"name": "e"}}), 404)  # fmt: skip
    error_of(app.post("/v1/broadcasts/999999/trigger", json={"ids": ["a"]}), 404)
    error_of(app.post("/v1/newsletters/999999/send", json={"ids": ["a"]}), 404)
    error_of(app.put(f"/v1/campaigns/{campaign}/actions/999999", json={"subject": "x"}), 404)
    error_of(app.post(f"/v1/campaigns/{campaign}/trigger",
                      json={"identifiers": {"cio_id": "nobody1"}}), 404)  # fmt: skip
    # Another workspace sees none of it.
    other = app_client(server, server.workspace("B")["app_api_key"])
    error_of(other.get(f"/v1/campaigns/{campaign}"), 404)
    error_of(other.get(f"/v1/newsletters/{newsletter}/metrics"), 404)
    error_of(other.post(f"/v1/broadcasts/{broadcast}/trigger", json={"ids": ["a"]}), 404)
    assert other.get("/v1/campaigns").json() == {"campaigns": [], "next": ""}
    assert counts(server) == before


BAD_CREATES = [
    ("campaigns", b"{not json", "not valid JSON"),
    ("campaigns", [], "JSON object"),
    ("campaigns", {"name": "x"}, "actions must be a non-empty list"),
    ("campaigns", {"actions": []}, "actions must be a non-empty list"),
    ("campaigns", {"actions": [{"subject": "s"}]}, "body is required in action 1"),
    ("campaigns", {"actions": [{"body": "b", "channel": "fax"}]}, "channel must be one of"),
    ("campaigns", {"actions": [{"body": "b", "tracked": "yes"}]}, "tracked must be true or false"),
    ("campaigns", {"name": 5, "actions": [{"body": "b"}]}, "name must be a non-empty string"),
    ("campaigns", {"actions": [{"body": "b"}], "segment": 1}, "unknown field(s) in request body: segment"),
    ("campaigns", {"actions": [{"body": "b"}], "trigger_event": ""}, "trigger_event"),
    ("broadcasts", {"actions": [{"body": "b"}], "trigger_event": "x"}, "unknown field"),
    ("broadcasts", {"actions": [{"body": "b", "color": "red"}]}, "unknown field(s) in action 1: color"),
    ("newsletters", {"subject": "s"}, "body is required"),
    ("newsletters", {"contents": "x"}, "contents must be a non-empty list"),
    ("newsletters", {"contents": [{"body": "b"}], "subject": "s"}, "unknown field"),
]


def test_unprocessable_creates_are_422_and_write_nothing(
    env: tuple[Server, httpx.Client, dict[str, Any]],
) -> None:
    """Valid by the schema, but Liquid that does not compile: 422, and nothing stored."""
    server, app, _ = env
    before = counts(server)
    response = app.post("/v1/campaigns", json={"actions": [{"body": BODY}, {"body": "{% if %}"}]})
    assert "Liquid" in error_of(response, 422)
    assert counts(server) == before


@pytest.mark.parametrize(("plural", "body", "expected"), BAD_CREATES)
def test_malformed_creates_are_400_and_write_nothing(
    env: tuple[Server, httpx.Client, dict[str, Any]], plural: str, body: Any, expected: str
) -> None:
    server, app, _ = env
    before = counts(server)
    if isinstance(body, bytes):
        response = app.post(f"/v1/{plural}", content=body, headers={"content-type": "application/json"})
    else:
        response = app.post(f"/v1/{plural}", json=body)
    assert expected in error_of(response, 400)
    assert counts(server) == before


BAD_TRIGGERS = [
    {},
    {"identifiers": {"id": "a", "email": "a@example.com"}},
    {"identifiers": {"phone": "1"}},
    {"identifiers": {"id": ""}},
    {"identifiers": {"id": "a"}, "event": "purchase"},
    {"identifiers": {"id": "a"}, "event": {"name": 5}},
    {"identifiers": {"id": "a"}, "event": {"name": "e", "data": [1]}},
    {"identifiers": {"id": "a"}, "event": {"name": "e", "when": 1}},
    {"identifiers": {"id": "a"}, "data": {}},
]


@pytest.mark.parametrize("body", BAD_TRIGGERS)
def test_malformed_campaign_triggers_are_400(
    env: tuple[Server, httpx.Client, dict[str, Any]], body: dict[str, Any]
) -> None:
    server, app, ids = env
    before = counts(server)
    error_of(app.post(f"/v1/campaigns/{ids['campaigns'][0]}/trigger", json=body), 400)
    assert counts(server) == before


def test_a_campaign_that_cannot_render_writes_nothing(
    env: tuple[Server, httpx.Client, dict[str, Any]],
) -> None:
    server, app, _ = env
    created = app.post("/v1/campaigns", json={"name": "div", "actions": [
        {"subject": "ok", "body": BODY},
        {"subject": "bad", "body": '<a href="https://kinds.example/{{ event.n | divided_by: 0 }}">x</a>'},
    ]})  # fmt: skip
    campaign = created.json()["campaign"]["id"]
    before = counts(server)
    response = app.post(f"/v1/campaigns/{campaign}/trigger",
                        json={"identifiers": {"email": "new@example.com"}, "event": {"name": "e", "data": {"n": 1}}})  # fmt: skip
    assert "divide by 0" in error_of(response, 422)
    assert counts(server) == before  # not even the person the trigger would have created


BAD_AUDIENCES = [
    ({}, "give exactly one of ids, emails, per_user_data or recipients"),
    ({"data": {"a": 1}}, "give exactly one of"),
    ({"ids": []}, "ids must be a non-empty list"),
    ({"ids": "a"}, "ids must be a non-empty list"),
    ({"ids": [""]}, "non-empty strings"),
    ({"ids": [True]}, "non-empty strings"),
    ({"emails": ["a@example.com"], "ids": ["a"]}, "exactly one of"),
    ({"ids": ["a"], "data": 5}, "data must be a JSON object"),
    ({"ids": ["a"], "segment": 1}, "unknown field(s): segment"),
    ({"per_user_data": [{"data": {}}]}, "names one of id, email, cio_id"),
    ({"per_user_data": [{"id": "a", "data": []}]}, "must be a JSON object"),
    ({"recipients": []}, "recipients must be a JSON object"),
    ({"recipients": {"ids": []}}, "ids must be a non-empty list"),
    ({"recipients": {"or": []}}, "use \"and\" or \"attribute\""),
    ({"recipients": {"and": []}}, '"and" must be a non-empty list'),
    ({"recipients": {"attribute": {"field": "plan", "operator": "gt", "value": 1}}}, "eq or exists"),
    ({"recipients": {"attribute": {"field": "plan"}}}, "attribute.value"),
    ({"recipients": {"attribute": {"operator": "exists"}}}, "attribute.field"),
    ({"recipients": {"attribute": {"field": "a", "operator": "eq", "value": [1]}}}, "attribute.value"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_AUDIENCES)
def test_malformed_sends_are_400_and_start_nothing(
    env: tuple[Server, httpx.Client, dict[str, Any]], body: dict[str, Any], expected: str
) -> None:
    server, app, ids = env
    before = counts(server)
    for path in (f"/v1/broadcasts/{ids['broadcasts'][0]}/trigger",
                 f"/v1/newsletters/{ids['newsletters'][0]}/send"):  # fmt: skip
        assert expected in error_of(app.post(path, json=body), 400)
    assert counts(server) == before


def test_bad_report_queries_and_updates(env: tuple[Server, httpx.Client, dict[str, Any]]) -> None:
    _, app, ids = env
    campaign, action = ids["campaigns"][0], ids["action"]
    base = f"/v1/campaigns/{campaign}"
    assert "period" in error_of(app.get(f"{base}/metrics/links", params={"period": "years"}), 400)
    assert "steps" in error_of(app.get(f"{base}/metrics/links", params={"steps": "2.5"}), 400)
    assert "unique" in error_of(app.get(f"{base}/actions/{action}/metrics/links", params={"unique": "x"}), 400)
    before = app.get(f"{base}/actions/{action}").json()
    assert "cannot change" in error_of(app.put(f"{base}/actions/{action}", json={"channel": "sms"}), 422)
    assert "Liquid" in error_of(app.put(f"{base}/actions/{action}", json={"body": "{{ x"}), 422)
    assert app.get(f"{base}/actions/{action}").json() == before


def test_unknown_people_in_a_list_are_reported_on_the_job(
    env: tuple[Server, httpx.Client, dict[str, Any]],
) -> None:
    _, app, ids = env
    base = f"/v1/broadcasts/{ids['broadcasts'][0]}"
    started = app.post(f"{base}/trigger", json={"ids": ["ghost", "cio_00ff"]})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 30
    while (job := app.get(f"{base}/triggers/{started.json()['id']}").json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (job["status"], job["total"], job["sent"], job["failed"]) == ("done", 2, 0, 2)
    assert [e["identifier"] for e in job["errors"]] == ["ghost", "cio_00ff"]


def test_every_route_is_in_the_openapi_document(
    env: tuple[Server, httpx.Client, dict[str, Any]],
) -> None:
    from types import SimpleNamespace

    from linktrack.entrypoints.api import app

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    services = ("engine", "keys", "sender", "containers", "campaigns", "bulk_sends", "sdk_events",
                "writer_status")
    fake = SimpleNamespace(**dict.fromkeys(services))
    routes = app.routes(fake)  # type: ignore[arg-type]
    doc = httpx.get(f"{env[0].url}/openapi.json").json()["paths"]
    documented = {(shape(path), verb.upper()) for path, ops in doc.items() for verb in ops}
    channels = ("email", "sms", "whatsapp", "push", "in_app")  # one documented path each

    def paths(path: str) -> list[str]:
        if "{channel:str}" in path:
            return [path.replace("{channel:str}", c) for c in channels]
        return [path]

    served = {(shape(path), verb) for r in routes for path in paths(r.path)
              for verb in r.methods or () if verb != "HEAD"}  # fmt: skip
    assert len(served) > 40
    assert served <= documented, served - documented
