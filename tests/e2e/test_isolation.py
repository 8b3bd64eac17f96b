"""No request reads or changes another workspace's data: a matrix over every API route.

The cases are generated from the route table (`entrypoints.api.app.ROUTES`): each
route is called with an intruder's credentials and the owner's ids, and with those
ids off by one. A path parameter or a write route the matrix does not know fails the
test, so a new route cannot land without its isolation case.

What is checked, for every call:
- without credentials, or with the other API's kind of credentials: 401;
- with the intruder's credentials and the owner's exact ids: 401, 403 or 404;
- no answer carries anything of the owner's (its names, subject, links, email,
  attributes, cio_id, delivery ids) that the request itself did not name;
- afterwards the owner's own view of its data is what it was before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from linktrack.entrypoints.api.app import ROUTES
from server import Server, app_client, poll, running

PUBLIC = {"/openapi.json", "/v1/openapi.json"}
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")

OWNER_HTML = """<html><body><p>Hello {{ customer.first_name }}</p>
<a href="https://owner.example/private-offer">Owner's private offer</a></body></html>"""


@dataclass
class Owner:
    """The victim workspace and every id it holds; `markers` are strings only it has."""

    ws: dict[str, Any]
    ids: dict[str, Any] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


def _track(server: Server, ws: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(ws["site_id"], ws["track_api_key"]), timeout=30)


def _wait_job(app: httpx.Client, path: str) -> None:
    poll(lambda: app.get(path).json(), lambda j: j["status"] != "running")


def _fill_owner(server: Server) -> Owner:
    """A workspace with one of everything: person, transactional message and send,
    campaign run, broadcast trigger, newsletter send, a second signing key, a click."""
    owner = Owner(server.workspace("Owner"))
    app, track = app_client(server, owner.ws["app_api_key"]), _track(server, owner.ws)
    ids = owner.ids
    person = _ok(track.put("/api/v1/customers/owner-ada", json={
        "email": "ada@owner.example", "first_name": "Adaowner", "plan": "owner-plan-7f3"}))  # fmt: skip
    ids["identifier"], ids["cio_id"] = "owner-ada", person["cio_id"]
    ids["email"] = "ada@owner.example"
    ids["device"] = "owner-device-token-5e1"
    _ok(track.put("/api/v1/customers/owner-ada/devices",
                  json={"device": {"id": ids["device"], "platform": "ios"}}))  # fmt: skip
    message = _ok(app.post("/v1/transactional", json={
        "name": "Owner receipt", "subject": "Owner secret subject", "body": OWNER_HTML}))  # fmt: skip
    ids["transactional"] = message["transactional_message"]["id"]
    sent = _ok(app.post("/v1/send/email", json={
        "transactional_message_id": ids["transactional"], "identifiers": {"id": "owner-ada"},
        "to": "ada@owner.example"}))  # fmt: skip
    ids["delivery"] = sent["delivery_id"]
    campaign = _ok(app.post("/v1/campaigns", json={
        "name": "Owner campaign", "trigger_event": "owner_purchase",
        "actions": [{"name": "Owner action", "subject": "Owner secret subject", "body": OWNER_HTML}],
    }))["campaign"]  # fmt: skip
    ids["campaign"], ids["campaign_action"] = campaign["id"], campaign["actions"][0]["id"]
    _ok(app.post(f"/v1/campaigns/{campaign['id']}/trigger", json={
        "identifiers": {"id": "owner-ada"}, "event": {"name": "owner_purchase", "data": {}}}))
    broadcast = _ok(app.post("/v1/broadcasts", json={
        "name": "Owner broadcast", "actions": [{"subject": "Owner secret subject", "body": OWNER_HTML}],
    }))["broadcast"]  # fmt: skip
    ids["broadcast"], ids["broadcast_action"] = broadcast["id"], broadcast["actions"][0]["id"]
    ids["trigger"] = _ok(app.post(f"/v1/broadcasts/{broadcast['id']}/trigger",
                                  json={"ids": ["owner-ada"]}))["id"]  # fmt: skip
    _wait_job(app, f"/v1/broadcasts/{broadcast['id']}/triggers/{ids['trigger']}")
    newsletter = _ok(app.post("/v1/newsletters", json={
        "name": "Owner newsletter", "subject": "Owner secret subject", "body": OWNER_HTML}))["newsletter"]
    ids["newsletter"], ids["content"] = newsletter["id"], newsletter["contents"][0]["id"]
    ids["send"] = _ok(app.post(f"/v1/newsletters/{newsletter['id']}/send",
                               json={"ids": ["owner-ada"]}))["id"]  # fmt: skip
    _wait_job(app, f"/v1/newsletters/{newsletter['id']}/sends/{ids['send']}")
    ids["kid"] = _ok(app.post("/v1/workspace/signing_keys"))["kid"]
    ids["webhook"] = _ok(app.post("/v1/reporting_webhooks", json={
        "name": "Owner warehouse", "endpoint": "https://owner.example/hook",
        "events": ["email_clicked"]}))["id"]  # fmt: skip
    ids["segment"] = _ok(app.post("/v1/segments", json={
        "name": "Owner segment", "conditions": {"clicked_link": {
            "message": {"kind": "transactional", "id": ids["transactional"]}}}}))["segment"]["id"]  # fmt: skip
    _click_one(server, app, ids["delivery"])
    owner.markers = {
        "ada@owner.example", "Adaowner", "owner-plan-7f3", "Owner secret subject",
        "https://owner.example/private-offer", "Owner receipt", "Owner campaign", "Owner action",
        "Owner broadcast", "Owner newsletter", "Owner segment", person["cio_id"], ids["delivery"], ids["kid"],
        "Owner warehouse", "https://owner.example/hook",
    }  # fmt: skip
    return owner


def _click_one(server: Server, app: httpx.Client, delivery_id: str) -> None:
    """Click the delivery's tracked link and wait until the writer has stored it."""
    body = app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"]["body"]
    (link,) = re.findall(r'href="(' + re.escape(server.url) + r'/e/c/[^"]+)"', body)
    before = _stored_clicks(app)
    assert httpx.get(link, follow_redirects=False, timeout=30).status_code == 302
    poll(lambda: _stored_clicks(app), lambda n: n == before + 1)


def _stored_clicks(app: httpx.Client) -> int:
    return len(app.get("/v1/exports/clicks.csv").text.strip().splitlines()) - 1


# What the owner sees of its own data; the matrix must leave it as it was.
SNAPSHOT = [
    "/v1/customers/{identifier}", "/v1/customers/{identifier}/activities",
    "/v1/transactional/{transactional}", "/v1/transactional/{transactional}/metrics",
    "/v1/campaigns/{campaign}", "/v1/campaigns/{campaign}/metrics",
    "/v1/broadcasts/{broadcast}", "/v1/broadcasts/{broadcast}/metrics",
    "/v1/broadcasts/{broadcast}/triggers", "/v1/newsletters/{newsletter}",
    "/v1/newsletters/{newsletter}/metrics", "/v1/newsletters/{newsletter}/sends",
    "/v1/workspace/settings", "/v1/workspace/signing_keys", "/v1/outbox?limit=500",
    "/v1/deliveries/{delivery}", "/v1/exports/clicks.csv", "/v1/reporting_webhooks/{webhook}",
    "/v1/deliveries/{delivery}", "/v1/exports/clicks.csv", "/v1/segments/{segment}",
    "/v1/segments/{segment}/customer_count", "/v1/segments/{segment}/membership",
]  # fmt: skip


def _snapshot(server: Server, owner: Owner) -> dict[str, str]:
    app = app_client(server, owner.ws["app_api_key"])
    return {path: app.get(path.format(**owner.ids)).text for path in SNAPSHOT}


# The owner id a `{id}` names, by the collection the path is under.
COLLECTION_IDS = {"transactional": "transactional", "campaigns": "campaign",
                  "broadcasts": "broadcast", "newsletters": "newsletter",
                  "segments": "segment"}  # fmt: skip
ACTION_IDS = {"campaigns": "campaign_action", "broadcasts": "broadcast_action"}


def _owner_values(path: str, param: str, ids: dict[str, Any]) -> list[Any]:
    """The owner's value for a path parameter (first), then its neighbours."""
    collection = path.split("/")[2]
    if path.startswith("/v1/campaigns/{id}/triggers"):  # Customer.io's path for broadcasts
        collection = "broadcasts"
    numeric = {"id": COLLECTION_IDS.get(collection), "action_id": ACTION_IDS.get(collection),
               "content_id": "content", "trigger_id": "trigger", "send_id": "send",
               "webhook_id": "webhook"}  # fmt: skip
    if numeric.get(param):
        exact = ids[str(numeric[param])]
        return [exact, exact - 1, exact + 1]
    if param == "identifier":
        return [ids["identifier"], ids["email"], f"cio_{ids['cio_id']}"]
    if param in ("delivery_id", "kid"):
        value = ids["delivery" if param == "delivery_id" else "kid"]
        return [value, value[:-1] + ("0" if value[-1] != "0" else "1")]
    if param == "channel":
        return ["email"]
    if param == "device_id":
        return [ids["device"], ids["device"] + "0"]
    raise AssertionError(f"no isolation case for parameter {{{param}}} in {path}")


def _paths(path: str, ids: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """Each concrete path to try, and whether it names only the owner's exact ids."""
    params = PARAM.findall(path)
    exact = {p: _owner_values(path, p, ids)[0] for p in params}
    yield _substitute(path, exact), bool(params)
    for param in params:
        for other in _owner_values(path, param, ids)[1:]:
            yield _substitute(path, {**exact, param: other}), False


def _substitute(path: str, values: dict[str, Any]) -> str:
    return PARAM.sub(lambda m: str(values[m.group(1)]), path)


# The body each write route is tried with; `True` when the body names the owner's ids
# (so the answer must be a refusal, whatever the path), `False` when the write may
# rightly succeed in the intruder's own workspace (it must still leave the owner alone).
Body = Callable[[dict[str, Any]], Any]
# fmt: off
WRITES: dict[tuple[str, str], tuple[Body, bool]] = {
    ("PUT", "/api/v1/customers/{identifier}"): (lambda ids: {"plan": "intruder"}, False),
    ("POST", "/api/v1/customers/{identifier}/events"):
        (lambda ids: {"name": "owner_purchase", "data": {}}, False),
    ("DELETE", "/api/v1/customers/{identifier}"): (lambda ids: None, False),
    ("POST", "/api/v1/customers/{identifier}/suppress"): (lambda ids: None, False),
    ("POST", "/api/v1/customers/{identifier}/unsuppress"): (lambda ids: None, False),
    ("PUT", "/api/v1/customers/{identifier}/devices"):
        (lambda ids: {"device": {"id": ids["device"], "platform": "android"}}, False),
    ("DELETE", "/api/v1/customers/{identifier}/devices/{device_id}"): (lambda ids: None, False),
    ("POST", "/api/v1/merge_customers"):
        (lambda ids: {"primary": {"id": ids["identifier"]}, "secondary": {"email": ids["email"]}}, False),
    ("POST", "/api/v1/metrics"): (lambda ids: {"delivery_id": ids["delivery"], "metric": "opened"}, True),
    ("POST", "/api/v1/push/events"):
        (lambda ids: {"delivery_id": ids["delivery"], "event": "opened"}, True),
    ("POST", "/v1/transactional"): (lambda ids: {"name": "Intruder", "body": "<p>x</p>"}, False),
    ("PUT", "/v1/transactional/{id}"): (lambda ids: {"subject": "intruder"}, False),
    ("POST", "/v1/send/{channel:str}"): (lambda ids: {
        "transactional_message_id": ids["transactional"], "identifiers": {"id": ids["identifier"]},
        "to": "x@intruder.example"}, True),
    ("PUT", "/v1/workspace/settings"): (lambda ids: {"url_params": {"utm_source": "intruder"}}, False),
    ("POST", "/v1/workspace/signing_keys"): (lambda ids: None, False),
    ("DELETE", "/v1/workspace/signing_keys/{kid}"): (lambda ids: None, False),
    ("POST", "/v1/campaigns"): (lambda ids: {"name": "Intruder", "actions": [{"body": "<p>x</p>"}]}, False),
    ("PUT", "/v1/campaigns/{id}/actions/{action_id}"): (lambda ids: {"subject": "intruder"}, False),
    ("POST", "/v1/campaigns/{id}/trigger"): (lambda ids: {
        "identifiers": {"id": ids["identifier"]}, "event": {"name": "owner_purchase", "data": {}}}, False),
    ("POST", "/v1/broadcasts"): (lambda ids: {"name": "Intruder", "actions": [{"body": "<p>x</p>"}]}, False),
    ("PUT", "/v1/broadcasts/{id}/actions/{action_id}"): (lambda ids: {"subject": "intruder"}, False),
    ("POST", "/v1/broadcasts/{id}/trigger"): (lambda ids: {"ids": [ids["identifier"]]}, False),
    ("POST", "/v1/campaigns/{id}/triggers"): (lambda ids: {"ids": [ids["identifier"]]}, False),
    ("POST", "/v1/newsletters"): (lambda ids: {"name": "Intruder", "body": "<p>x</p>"}, False),
    ("PUT", "/v1/newsletters/{id}/contents/{content_id}"): (lambda ids: {"tracked": False}, False),
    ("POST", "/v1/newsletters/{id}/send"): (lambda ids: {"ids": [ids["identifier"]]}, False),
    ("POST", "/v1/reporting_webhooks"): (lambda ids: {
        "name": "Intruder", "endpoint": "https://intruder.example/", "events": ["email_clicked"]}, False),
    ("PUT", "/v1/reporting_webhooks/{webhook_id}"): (lambda ids: {"disabled": True}, False),
    ("DELETE", "/v1/reporting_webhooks/{webhook_id}"): (lambda ids: None, False),
    ("POST", "/v1/segments"): (lambda ids: {"name": "Intruder", "conditions": {"clicked_link": {
        "message": {"kind": "transactional", "id": ids["transactional"]}}}}, True),
    ("DELETE", "/v1/segments/{id}"): (lambda ids: None, False),
}
# fmt: on


@dataclass
class Tally:
    calls: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)


def _call(client: httpx.Client, verb: str, path: str, body: Any) -> httpx.Response:
    if body is None:
        return client.request(verb, path)
    return client.request(verb, path, json=body)


def _check_leak(owner: Owner, verb: str, path: str, body: Any, answer: httpx.Response,
                tally: Tally) -> None:  # fmt: skip
    asked = path + repr(body)
    leaked = [m for m in owner.markers if m not in asked and m in answer.text]
    if leaked:
        tally.failures.append(f"{verb} {path}: {answer.status_code} carries {leaked}")


def _try_route(server: Server, owner: Owner, intruder: dict[str, Any], verb: str, path: str,
               tally: Tally) -> None:  # fmt: skip
    track_route = path.startswith("/api/")
    if verb in ("POST", "PUT", "DELETE") and (verb, path) not in WRITES:
        tally.failures.append(f"{verb} {path}: no isolation case in WRITES")
        return
    make_body, names_owner = WRITES.get((verb, path), (lambda ids: None, False))
    body = make_body(owner.ids)
    as_intruder = _track(server, intruder) if track_route else app_client(server, intruder["app_api_key"])
    wrong_kind = app_client(server, intruder["app_api_key"]) if track_route else _track(server, intruder)
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    for concrete, exact in _paths(path, owner.ids):
        for client, must in ((anonymous, {401}), (wrong_kind, {401})):
            answer = _call(client, verb, concrete, body)
            tally.calls += 1
            tally.refused += answer.status_code in must
            if answer.status_code not in must:
                tally.failures.append(f"{verb} {concrete} without its credentials: {answer.status_code}")
        answer = _call(as_intruder, verb, concrete, body)
        tally.calls += 1
        must_refuse = names_owner or (exact and not (track_route and path.count("{") == 1))
        if answer.status_code in (401, 403, 404):
            tally.refused += 1
        elif must_refuse:
            tally.failures.append(f"{verb} {concrete} as the intruder: {answer.status_code} {answer.text[:200]}")
        _check_leak(owner, verb, concrete, body, answer, tally)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_route_reads_or_changes_another_workspace(backend: str, tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:  # fmt: skip
    db_url = f"sqlite:///{tmp_path}/iso.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    with running(db_url, tmp_path) as server:
        owner = _fill_owner(server)
        intruder = server.workspace("Intruder")
        before = _snapshot(server, owner)
        tally = Tally()
        # Reads first, so that what the intruder's writes create in its own workspace
        # (a person under the same identifier, say) is not mistaken for a leak.
        ordered = sorted(ROUTES, key=lambda route: route[0] != "GET")
        for verb, path, _ in ordered:
            if path not in PUBLIC:
                _try_route(server, owner, intruder, verb, path, tally)
        # Whatever the intruder's calls put in the event log is stored before this click.
        intruder_app = app_client(server, intruder["app_api_key"])
        sent = _ok(intruder_app.post("/v1/send/email", json={
            "identifiers": {"id": "probe"}, "to": "p@intruder.example",
            "body": '<a href="https://intruder.example/">x</a>'}))  # fmt: skip
        _click_one(server, intruder_app, sent["delivery_id"])
        after = _snapshot(server, owner)
        changed = [path for path in SNAPSHOT if before[path] != after[path]]
        assert not tally.failures, "\n".join(tally.failures)
        assert not changed, f"the intruder changed the owner's {changed}"
        routes = sum(1 for _, path, _ in ROUTES if path not in PUBLIC)
        print(f"isolation ({backend}): {routes} routes, {tally.calls} calls, {tally.refused} refused, "
              f"0 leaks")  # fmt: skip
