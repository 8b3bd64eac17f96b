"""Bad input over real HTTP: a clear 4xx, never a redirect it should not give, nothing written."""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server import Server, app_client, running

BODY = '<html><body><a href="https://bad.example/a">a</a><a href="https://bad.example/b">b</a></body></html>'


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, dict, dict, list[str], str]]:  # type: ignore[type-arg]
    tmp = tmp_path_factory.mktemp("bad")
    with running(f"sqlite:///{tmp}/bad.db", tmp) as server:
        a, b = server.workspace("A"), server.workspace("B")
        app = app_client(server, a["app_api_key"])
        created = app.post("/v1/transactional", json={"name": "m", "subject": "s", "body": BODY})
        message_id = created.json()["transactional_message"]["id"]
        sent = app.post(
            "/v1/send/email",
            json={"transactional_message_id": message_id, "to": "x@example.com",
                  "identifiers": {"email": "x@example.com"}},
        )  # fmt: skip
        delivery_id = sent.json()["delivery_id"]
        body = app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"]["body"]
        links = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        assert len(links) == 2
        yield server, a, b, links, delivery_id


def counts(server: Server) -> tuple[int, ...]:
    path = server.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return tuple(
            conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("clicks", "opens", "deliveries", "people", "messages", "links")
        )


def settled(server: Server) -> tuple[int, ...]:
    """Counts once the event writer has stored what earlier tests clicked."""
    last = counts(server)
    while True:
        time.sleep(0.5)
        now = counts(server)
        if now == last:
            return now
        last = now


def mutations(link: str, rng: random.Random) -> Iterator[str]:
    prefix, payload, signature = link.rsplit("/", 2)
    yield f"{prefix}/{payload}/{signature[:-1]}"  # truncated signature
    yield f"{prefix}/{payload[:-3]}/{signature}"  # truncated payload
    yield f"{prefix}/{payload}"  # no signature
    yield f"{prefix}/{payload}/{signature.upper()}"
    yield f"{prefix}/{payload}/{signature}/extra"
    yield f"{prefix}/{payload}/{'0' * 64}"
    yield f"{prefix}/eyJoIjoiaHR0cHM6Ly9ldmlsLmV4YW1wbGUifQ/{signature}"  # {"h":"https://evil.example"}
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for _ in range(60):
        chars = list(payload)
        i = rng.randrange(len(chars))
        chars[i] = rng.choice([c for c in alphabet if c != chars[i]])
        yield f"{prefix}/{''.join(chars)}/{signature}"
        sig = list(signature)
        j = rng.randrange(len(sig))
        sig[j] = rng.choice([c for c in "0123456789abcdef" if c != sig[j]])
        yield f"{prefix}/{payload}/{''.join(sig)}"


def test_tampered_links_never_redirect_and_record_nothing(env) -> None:  # type: ignore[no-untyped-def]
    server, _, _, links, _ = env
    before = settled(server)
    web = httpx.Client(follow_redirects=False, timeout=10)
    rng = random.Random(7)
    for link in links:
        for bad in mutations(link, rng):
            for method in ("GET", "HEAD"):
                response = web.request(method, bad)
                assert response.status_code == 404, bad
                assert "location" not in response.headers
    assert web.post(links[0]).status_code == 405
    open_bad = links[0].replace("/e/c/", "/e/o/")
    assert web.get(open_bad).status_code == 404
    time.sleep(1.0)  # the writer would have stored anything that was appended
    assert counts(server) == before


def test_retired_key_stops_verifying(env) -> None:  # type: ignore[no-untyped-def]
    server, a, _, links, _ = env
    app = app_client(server, a["app_api_key"])
    web = httpx.Client(follow_redirects=False, timeout=10)
    assert web.get(links[0]).status_code == 302
    old = app.get("/v1/workspace/signing_keys").json()["signing_keys"][0]["kid"]
    assert app.delete(f"/v1/workspace/signing_keys/{old}").status_code == 409  # the only key
    new = app.post("/v1/workspace/signing_keys")
    assert new.status_code == 201
    assert web.get(links[0]).status_code == 302  # older keys keep verifying
    assert app.delete(f"/v1/workspace/signing_keys/{old}").status_code == 200
    assert web.get(links[0]).status_code == 404
    assert app.delete("/v1/workspace/signing_keys/nope").status_code == 404


def test_api_errors_are_json_4xx_and_write_nothing(env) -> None:  # type: ignore[no-untyped-def]
    server, a, b, _, delivery_id = env
    app = app_client(server, a["app_api_key"])
    other = app_client(server, b["app_api_key"])
    before = settled(server)
    cases = [
        (app.post("/v1/send/email", content=b"{not json"), 400),
        (app.post("/v1/send/email", content=b""), 400),
        (app.post("/v1/send/email", json=[1, 2]), 400),
        (app.post("/v1/send/email", json={"identifiers": {"email": "x@example.com"}}), 400),
        (
            app.post(
                "/v1/send/email", json={"body": "<a>", "identifiers": {"id": 1, "email": "e"}}
            ),
            400,
        ),
        (
            app.post(
                "/v1/send/email",
                json={"body": "x", "identifiers": {"email": "x@example.com"}, "tracked": "yes"},
            ),
            400,
        ),
        (
            app.post(
                "/v1/send/email",
                json={"transactional_message_id": 999999, "identifiers": {"id": "p"}},
            ),
            404,
        ),
        (
            app.post(
                "/v1/send/email",
                json={"transactional_message_id": "abc", "identifiers": {"id": "p"}},
            ),
            404,  # a name, as Customer.io allows: no message has it
        ),
        (app.post("/v1/send/fax", json={"body": "x", "identifiers": {"id": "p"}}), 404),
        (
            app.post(
                "/v1/send/email",
                json={"body": "{% if %}", "identifiers": {"id": "p"}, "to": "p@example.com"},
            ),
            422,
        ),
        (app.post("/v1/transactional", json={"name": "x"}), 400),
        (app.post("/v1/transactional", json={"body": "{{ x", "name": "x"}), 422),
        (app.post("/v1/transactional", json={"body": "x", "colour": "red"}), 400),
        (app.get("/v1/transactional/999999"), 404),
        (app.get("/v1/transactional/abc"), 404),
        (app.get("/v1/deliveries/nope"), 404),
        (other.get(f"/v1/deliveries/{delivery_id}"), 404),  # another workspace's delivery
        (app.get("/v1/customers/nobody/activities"), 404),
        (app.put("/v1/workspace/settings", json={"tracking_domain": "a b"}), 400),
        (app.put("/v1/workspace/settings", json={"url_params": {"x": "{{ broken"}}), 422),
        (app.put("/v1/workspace/settings", json={"nope": 1}), 400),
        (app.get("/v1/transactional/1/metrics/links", params={"period": "years"}), 400),
        (app.get("/v1/transactional/1/metrics/links", params={"steps": "-1"}), 400),
        (app.get("/v1/no/such/thing"), 404),
        (app_client(server, "wrong-key").get("/v1/transactional"), 401),
        (httpx.get(f"{server.url}/v1/transactional"), 401),
        (app.post("/v1/send/email", content=b"x" * (2 << 20)), 413),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert response.json()["meta"]["error"], response.text
    track = httpx.Client(base_url=server.url, timeout=10)
    assert (
        track.put("/api/v1/customers/p1", json={"a": 1}, auth=(a["site_id"], "bad")).status_code
        == 401
    )
    assert (
        track.put(
            "/api/v1/customers/p1", json={"a": 1}, auth=(b["site_id"], a["track_api_key"])
        ).status_code
        == 401
    )
    refused = track.put(
        "/api/v1/customers/p1", content=b"[]", auth=(a["site_id"], a["track_api_key"])
    )
    assert refused.status_code == 400
    # The Track API answers in Customer.io's shape too: the message also in meta.errors.
    meta = refused.json()["meta"]
    assert meta["errors"] == [meta["error"]] and meta["error"]
    unknown = track.post("/api/v1/nowhere", auth=(a["site_id"], a["track_api_key"]))
    assert unknown.status_code == 404 and unknown.json()["meta"]["errors"] == ["no such endpoint"]
    assert "errors" not in app.get("/v1/transactional/999999").json()["meta"]  # App API: one
    assert counts(server) == before


def test_openapi_document_lists_the_routes(env) -> None:  # type: ignore[no-untyped-def]
    server = env[0]
    doc = httpx.get(f"{server.url}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/send/email", "/v1/send/push", "/e/c/{payload}/{signature}", "/api/v1/customers/{identifier}",
                 "/v1/transactional/{id}/metrics/links", "/v1/workspace/settings"):  # fmt: skip
        assert path in doc["paths"]


def test_click_on_unknown_delivery_is_redirected_but_not_counted(tmp_path: Path) -> None:
    """A validly signed link whose delivery is gone still redirects (the person gets where
    they were going) and the writer skips it without blocking later events."""
    with running(f"sqlite:///{tmp_path}/u.db", tmp_path) as server:
        server.workspace()
        from linktrack.core.tokens import KeyRing, SigningKey

        path = server.db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            kid, secret = conn.execute("select kid, secret from signing_keys").fetchone()
        signer = KeyRing([SigningKey(kid, bytes.fromhex(secret))]).signer()
        url = server.url + signer.click_path("no-such-delivery", "https://x.example/", 1, 1)
        response = httpx.get(url, follow_redirects=False)
        assert response.status_code == 302
        time.sleep(1.0)
        with sqlite3.connect(path) as conn:
            assert conn.execute("select count(*) from clicks").fetchone()[0] == 0


def test_a_click_the_log_cannot_take_gets_503_not_a_redirect(tmp_path: Path) -> None:
    """The event log is down (Redis at a port nobody listens on): no 302 without the append."""
    from server import free_port

    env = {
        "LINKTRACK_EVENT_LOG": "redis",
        "LINKTRACK_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "LINKTRACK_EMBEDDED_WORKERS": "0",
    }
    with running(f"sqlite:///{tmp_path}/down.db", tmp_path, env=env) as server:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        sent = app.post(
            "/v1/send/email",
            json={"to": "d@example.com", "from": "f@example.com", "subject": "s", "body": BODY,
                  "identifiers": {"email": "d@example.com"}},
        )  # fmt: skip
        assert sent.status_code == 200, sent.text
        body = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]["body"]
        link = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)[0]
        resp = httpx.get(link, follow_redirects=False, timeout=30)
        assert resp.status_code == 503
        assert resp.headers["retry-after"] == "1"
        assert "location" not in resp.headers


def test_the_stored_click_ip_is_the_peer_or_the_trusted_proxy_header(tmp_path: Path) -> None:
    """Without a trusted proxy the socket peer counts; with one, the first X-Forwarded-For."""
    for trust, sent_header, want in (
        ("0", "203.0.113.5", "127.0.0.1"),  # an untrusted header is ignored
        ("1", "203.0.113.5, 10.0.0.1", "203.0.113.5"),
        ("1", None, "127.0.0.1"),  # trusted, but no header: the peer
    ):
        data = tmp_path / f"trust{trust}{sent_header is None}"
        data.mkdir()
        env = {"LINKTRACK_TRUST_PROXY": trust}
        with running(f"sqlite:///{data}/ip.db", data, env=env) as server:
            ws = server.workspace()
            app = app_client(server, ws["app_api_key"])
            sent = app.post(
                "/v1/send/email",
                json={"to": "i@example.com", "from": "f@example.com", "subject": "s",
                      "body": BODY, "identifiers": {"email": "i@example.com"}},
            )  # fmt: skip
            delivery = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]
            link = re.findall(r'href="([^"]+/e/c/[^"]+)"', delivery["body"])[0]
            headers = {"X-Forwarded-For": sent_header} if sent_header else {}
            assert httpx.get(link, headers=headers, follow_redirects=False).status_code == 302
            deadline = time.monotonic() + 30
            rows: list[tuple[str]] = []
            while not rows and time.monotonic() < deadline:
                with sqlite3.connect(f"file:{data}/ip.db?mode=ro", uri=True) as conn:
                    rows = conn.execute("select ip from clicks").fetchall()
                time.sleep(0.2)
            assert rows == [(want,)], (trust, sent_header)


def test_what_used_to_be_a_500_is_a_clear_4xx_and_writes_nothing(
    env: tuple[Server, dict, dict, list[str], str],  # type: ignore[type-arg]
) -> None:
    server, a, _, _, _ = env
    app = app_client(server, a["app_api_key"])
    message_id = app.get("/v1/transactional").json()["messages"][0]["id"]
    before = settled(server)
    huge = 2**63
    send = {"to": "n@example.com", "identifiers": {"id": "n"}, "subject": "s", "body": "b"}
    cases = [
        (app.get("/v1/transactional/²"), 404),  # str.isdigit() says yes; int() says no
        (app.get(f"/v1/transactional/{huge}"), 404),  # past SQLite's and PostgreSQL's ints
        (app.get(f"/v1/transactional/{2**31}"), 404),
        (app.post("/v1/send/email", json={**send, "transactional_message_id": huge}), 404),
        (app.post("/v1/send/email", json={**send, "transactional_message_id": "¹"}), 404),  # a name
        (app.post("/v1/send/email", json={**send, "identifiers": {"id": True}}), 400),
        (app.post("/v1/send/email", json={**send, "identifiers": {"id": "x" * 256}}), 400),
        (app.post("/v1/send/email", json={**send, "to": "x" * 321}), 400),
        # Valid by the schema (which cannot say it), so a 422, as Liquid that does not compile.
        (app.post("/v1/send/email", json={**send, "body": "nul \u0000 here"}), 422),
        (app.post("/v1/send/email", json={**send, "identifiers": {"id": "a\u0000b"}}), 422),
        # Only an id may be a number; 5.0 is the integer 5.
        (app.post("/v1/send/email", json={**send, "identifiers": {"email": 5}}), 400),
        (app.get("/v1/outbox", params={"limit": "0"}), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert response.json()["meta"]["error"], response.text
    # An empty change changes nothing, and a method not allowed says which ones are.
    unchanged = app.put(f"/v1/transactional/{message_id}", json={})
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["transactional_message"]["id"] == message_id
    refused = app.delete("/v1/transactional")
    assert refused.status_code == 405 and "GET" in refused.headers["allow"]
    assert counts(server) == before
