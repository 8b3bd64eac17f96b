"""HTTPS: `serve --tls-cert/--tls-key` for the API and the click path, and Customer.io's own
Python client (`customerio` from PyPI) against it with only its URL and a CA bundle changed."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from customerio import APIClient, CustomerIO, SendEmailRequest

from server import Server, poll

NODE_CLIENT = Path(__file__).resolve().parents[1] / "node"

TEMPLATE = {
    "name": "welcome", "subject": "Welcome {{ customer.first_name }}",
    "body": '<p>Hi {{ customer.first_name }}, <a href="https://tls.example/start">start</a></p>',
}  # fmt: skip


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def pair(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(certificate chain, key, CA bundle) for a server at 127.0.0.1."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key, bundle = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    ca.cert_pem.write_to_path(str(bundle))
    return chain, key, bundle


def _https_server(
    pair: tuple[Path, Path, Path], tmp_path: Path
) -> tuple[Server, dict[str, Any], ssl.SSLContext]:
    """serve over HTTPS with the pair, a workspace in it, and a context trusting the CA."""
    chain, key, bundle = pair
    env = {"LINKTRACK_TLS_CERT": str(chain), "LINKTRACK_TLS_KEY": str(key)}
    server = Server(f"sqlite:///{tmp_path}/tls.db", tmp_path, env=env, https=True).start()
    try:
        ws = server.workspace()
    except BaseException:
        server.stop()
        raise
    return server, ws, ssl.create_default_context(cafile=str(bundle))


def test_customerio_python_client_over_https(
    pair: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ws, trusted = _https_server(pair, tmp_path)
    bundle = pair[2]
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # how requests takes a CA
        track = CustomerIO(ws["site_id"], ws["track_api_key"], host="127.0.0.1",
                           port=server.port, retries=0)  # fmt: skip
        track.identify(id="ada", email="ada@example.com", first_name="Ada")
        track.track(customer_id="ada", name="signed_up", data={"plan": "pro"})
        app = httpx.Client(base_url=server.url, verify=trusted,
                           headers={"Authorization": f"Bearer {ws['app_api_key']}"})  # fmt: skip
        created = app.post("/v1/transactional", json=TEMPLATE).json()
        message_id = created["transactional_message"]["id"]
        api = APIClient(ws["app_api_key"], url=server.url, retries=0)
        sent = api.send_email(SendEmailRequest(
            transactional_message_id=message_id, to="ada@example.com",
            identifiers={"id": "ada"}, _from="team@example.com",
        ))  # fmt: skip
        delivery = app.get(f"/v1/deliveries/{sent['delivery_id']}").json()["delivery"]
        assert delivery["subject"] == "Welcome Ada"  # the identified person's attribute
        (link,) = re.findall(r'href="([^"]+/e/c/[^"]+)"', delivery["body"])
        assert link.startswith(f"{server.url}/e/c/")  # tracked through https
        with httpx.Client(verify=trusted) as web:  # keep-alive over TLS: the fast path
            for _ in range(5):
                clicked = web.get(link)
                assert clicked.status_code == 302
                assert clicked.headers["location"].startswith("https://tls.example/start")
            assert web.get(link[:-3] + "AAA").status_code == 404
            assert web.post(link).status_code == 405  # and the slow path, same connection
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not answered on the TLS port
            httpx.get(server.url.replace("https", "http") + "/healthz", timeout=5)
        assert httpx.get(f"{server.url}/healthz", verify=trusted).status_code == 200
        links = poll(lambda: app.get(f"/v1/transactional/{message_id}/links").json()["links"],
                     lambda found: found and found[0]["clicks"] == 5)  # fmt: skip
        assert links[0]["href"] == "https://tls.example/start"
        # Idle keep-alive connections (app's, the clients' pools) do not hold the stop
        # for the 30 s a TLS close may wait for a close_notify they never read.
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 10
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log and "spoke TLS" not in log, log[-3000:]


def test_a_tls_pair_that_does_not_load_is_a_clear_error(
    pair: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    chain, key, _ = pair
    base = [sys.executable, "-m", "linktrack.entrypoints.cli", "serve",
            "--db", f"sqlite:///{tmp_path}/e.db", "--data-dir", str(tmp_path / "d")]  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base += ["--port", str(probe.getsockname()[1])]
    for extra, said in (
        (["--tls-cert", str(chain)], "HTTPS needs both --tls-cert and --tls-key"),
        (["--tls-cert", str(chain), "--tls-key", str(chain)], "cannot load the TLS certificate"),
        (["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(key)], "No such file"),
    ):
        out = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stderr
        assert said in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_customerio_node_client_over_https(pair: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """customerio-node from npm (tests/node, installed by scripts/setup.sh where npm is)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: customerio-node cannot run here")
    if not (NODE_CLIENT / "node_modules" / "customerio-node").is_dir():
        pytest.fail("tests/node/node_modules is missing: run bash scripts/setup.sh (npm ci)")
    server, ws, trusted = _https_server(pair, tmp_path)
    bundle = pair[2]
    try:
        app = httpx.Client(base_url=server.url, verify=trusted,
                           headers={"Authorization": f"Bearer {ws['app_api_key']}"})  # fmt: skip
        created = app.post("/v1/transactional", json=TEMPLATE).json()
        broadcast = app.post("/v1/broadcasts", json={"name": "Spring", "actions": [
            {"subject": "{{ trigger.promo }} for {{ customer.first_name }}", "body": "<p>x</p>"},
        ]}).json()["broadcast"]  # fmt: skip
        ran = subprocess.run(
            [node, str(NODE_CLIENT / "customerio_client.js")],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "NODE_EXTRA_CA_CERTS": str(bundle), "LINKTRACK_URL": server.url,
                 "SITE_ID": ws["site_id"], "TRACK_API_KEY": ws["track_api_key"],
                 "APP_API_KEY": ws["app_api_key"],
                 "MESSAGE_ID": str(created["transactional_message"]["id"]),
                 "BROADCAST_ID": str(broadcast["id"])},
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        answers = json.loads(ran.stdout)
        sent, status = answers["sent"], answers["status"]
        # Customer.io's broadcast trigger path (/v1/campaigns/{id}/triggers), by its client.
        assert status["id"] == answers["trigger"]["id"] and status["status"] == "done", answers
        assert status["sent"] == 1, answers
        delivery = app.get(f"/v1/deliveries/{sent['delivery_id']}").json()["delivery"]
        assert delivery["subject"] == "Welcome Grace"
        person = app.get("/v1/customers/grace").json()
        assert "grace@example.com" in json.dumps(person), person
    finally:
        server.stop()
