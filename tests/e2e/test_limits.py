"""What a tenant sends is bounded: each limit answers a clear 4xx and writes nothing; a
request at the limit is served. On SQLite and PostgreSQL, whose columns set the sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from server import app_client, running


def links(n: int, tag: str = "") -> str:
    attr = f' data-cio-tag="{tag}"' if tag else ""
    return "".join(f'<a{attr} href="https://shop.example/{i}">{i}</a>' for i in range(n))


def nested(depth: int) -> str:
    """A JSON object `depth` levels deep: {"a":{"a":…1…}}."""
    return '{"a":' * (depth - 1) + '{"a":1' + "}" * depth


SEND = {"identifiers": {"id": "ada"}, "to": "ada@example.com"}

# (method, path, JSON body or raw text, status, words of the error)
REFUSED: list[tuple[str, str, Any, int, str]] = [
    ("POST", "/v1/transactional", {"name": "n" * 251, "body": "x"}, 400, "name must be at most 250"),
    ("POST", "/v1/transactional", {"from": "f" * 321, "body": "x"}, 400, "from must be at most 320"),
    ("POST", "/v1/campaigns", {"name": "c" * 251, "actions": [{"body": "x"}]}, 400,
     "name must be at most 250"),
    ("POST", "/v1/campaigns", {"trigger_event": "e" * 256, "actions": [{"body": "x"}]}, 400,
     "trigger_event must be at most 255"),
    ("POST", "/v1/newsletters", {"name": "n" * 251, "body": "x"}, 400, "name must be at most 250"),
    ("POST", "/v1/send/email", {**SEND, "from": "f" * 321, "body": "x"}, 400, "from must be at most 320"),
    ("POST", "/v1/send/email", {**SEND, "body": links(1, tag="t" * 256)}, 422,
     "data-cio-tag is at most 255"),
    ("POST", "/v1/send/email", {**SEND, "body": links(1_001)}, 422, "at most 1,000 tracked links"),
    ("POST", "/v1/send/email", {**SEND, "body": "{% for i in (1..1001) %}<a href=\"https://s.example/{{ i }}\">x</a>{% endfor %}"},
     422, "at most 1,000 tracked links"),
    ("POST", "/v1/send/email", '{"identifiers":{"id":"ada"},"to":"a@example.com","body":"x","message_data":'
     + nested(32) + "}", 422, "deeper than 32 levels"),
    ("PUT", "/v1/workspace/settings", {"url_params": {f"p{i}": "v" for i in range(51)}}, 400,
     "at most 50 parameters"),
    ("PUT", "/v1/workspace/settings", {"url_params": {"p": "v" * 1001}}, 400, "value at most 1,000"),
]  # fmt: skip

SERVED: list[tuple[str, str, Any]] = [
    ("POST", "/v1/transactional", {"name": "n" * 250, "from": "f" * 320, "body": "x"}),
    ("POST", "/v1/campaigns", {"name": "c" * 250, "trigger_event": "e" * 255,
                               "actions": [{"body": "x"}, {"body": "y"}]}),
    ("POST", "/v1/send/email", {**SEND, "body": links(1_000, tag="t" * 255)}),
    ("POST", "/v1/send/email", '{"identifiers":{"id":"ada"},"to":"a@example.com","body":"x","message_data":'
     + nested(31) + "}"),
    ("PUT", "/v1/workspace/settings", {"url_params": {f"p{i}": "v" * 1000 for i in range(50)}}),
]  # fmt: skip


def _call(app: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, str):
        return app.request(method, path, content=body, headers={"content-type": "application/json"})
    return app.request(method, path, json=body)


def test_every_limit_is_a_clear_refusal_that_writes_nothing(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        settings = app.get("/v1/workspace/settings").json()
        for method, path, body, status, words in REFUSED:
            answer = _call(app, method, path, body)
            assert answer.status_code == status, (path, answer.text[:300])
            assert words in answer.json()["meta"]["error"], (path, answer.text[:300])
        assert app.get("/v1/transactional").json()["messages"] == []
        assert app.get("/v1/campaigns").json()["campaigns"] == []
        assert app.get("/v1/newsletters").json()["newsletters"] == []
        assert app.get("/v1/outbox").json()["deliveries"] == []
        assert app.get("/v1/customers/ada").status_code == 404
        assert app.get("/v1/workspace/settings").json() == settings

        answers = [_call(app, method, path, body) for method, path, body in SERVED]
        assert [a.status_code for a in answers] == [201, 201, 200, 200, 200], answers[-1].text
        delivery = app.get(f"/v1/deliveries/{answers[2].json()['delivery_id']}").json()["delivery"]
        assert delivery["body"].count(f"{server.url}/e/c/") == 1_000
