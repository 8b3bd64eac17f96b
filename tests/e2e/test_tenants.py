"""One tenant's template cannot freeze the others: while its sends are refused (422, over
the render limits), every other tenant's sends and clicks carry on."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx

from server import app_client, poll, running

HEAVY = (
    "{% assign s = 'y' %}" + "{% assign s = s | append: s %}" * 19
    + "{% assign t = s | upcase %}" * 5000 + '<a href="https://a.example/">a</a>'
)  # fmt: skip


def test_a_tenant_over_the_render_limits_freezes_no_one_else(tmp_path: Path) -> None:
    with running(f"sqlite:///{tmp_path}/tenants.db", tmp_path) as server:
        heavy = app_client(server, server.workspace("A")["app_api_key"])
        other = app_client(server, server.workspace("B")["app_api_key"])
        refused: list[httpx.Response] = []
        stop = threading.Event()

        def abuse() -> None:
            with httpx.Client(base_url=server.url, headers=heavy.headers, timeout=30) as client:
                while not stop.is_set():
                    refused.append(client.post("/v1/send/email", json={
                        "identifiers": {"id": f"victim-{len(refused)}"}, "to": "v@example.com",
                        "subject": "s", "body": HEAVY,
                    }))  # fmt: skip

        abuser = threading.Thread(target=abuse)
        abuser.start()
        try:
            poll(lambda: len(refused), lambda n: n >= 1, timeout=60)
            links: list[str] = []
            for i in range(20):
                sent = other.post("/v1/send/email", json={
                    "identifiers": {"id": f"b-{i}"}, "to": f"b{i}@example.com", "subject": "s",
                    "body": f'<a href="https://b.example/{i}">b</a>',
                })  # fmt: skip
                assert sent.status_code == 200, sent.text
                body = other.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()
                links += re.findall(r'href="([^"]+/e/c/[^"]+)"', body["delivery"]["body"])
            with httpx.Client(follow_redirects=False, timeout=10) as web:
                assert all(web.get(link).status_code == 302 for link in links)
        finally:
            stop.set()
            abuser.join(timeout=60)
        assert refused and all(r.status_code == 422 for r in refused)
        assert "longer than 0.25 s to render" in refused[0].json()["meta"]["error"]
        # Nothing of the refused sends was written: no person, no delivery.
        assert heavy.get("/v1/customers/victim-0").status_code == 404
        poll(lambda: _clicks(other), lambda n: n >= len(links), timeout=60)


def _clicks(app: httpx.Client) -> int:
    found = app.get("/v1/exports/clicks.csv").text.strip().splitlines()
    return len(found) - 1
