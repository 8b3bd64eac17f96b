"""Access and event logs of a real `linktrack serve`: one line per request, text or JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server import app_client, running

BODY = "".join(f'<a href="https://logs.example/{i}">{i}</a>' for i in range(3))
SEND = {"to": "l@example.com", "identifiers": {"id": "l"}, "subject": "s", "body": BODY}
TEXT_LINE = re.compile(
    r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO linktrack\.access: (?P<client>\S+) '
    r'"(?P<method>\S+) (?P<target>\S+)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'(?P<ms>\d+\.\d\d)ms "(?P<ua>.*)"$'
)


def _traffic(server_url: str, app: httpx.Client) -> list[tuple[str, str, int]]:
    """Requests of every kind the server answers, as (method, target, status) sent."""
    sent: list[tuple[str, str, int]] = []
    delivery = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
    sent.append(("POST", "/v1/send/email", 200))
    body = app.get(f"/v1/deliveries/{delivery}").json()["delivery"]["body"]
    sent.append(("GET", f"/v1/deliveries/{delivery}", 200))
    links = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
    (pixel,) = re.findall(r'src="([^"]+/e/o/[^"]+)"', body)
    with httpx.Client(headers={"user-agent": 'a "quoted" agent'}) as web:  # keep-alive: fast
        for n in range(5):
            assert web.get(links[n % 3]).status_code == 302
            sent.append(("GET", links[n % 3].removeprefix(server_url), 302))
        assert web.head(links[0]).status_code == 302
        sent.append(("HEAD", links[0].removeprefix(server_url), 302))
        assert web.get(links[1][:-3] + "AAA?x=1").status_code == 404
        sent.append(("GET", links[1][:-3].removeprefix(server_url) + "AAA?x=1", 404))
        assert web.get(pixel).status_code == 200
        sent.append(("GET", pixel.removeprefix(server_url), 200))
        assert web.post(links[0]).status_code == 405  # the slow path logs too
        sent.append(("POST", links[0].removeprefix(server_url), 405))
    assert httpx.get(f"{server_url}/v1/campaigns").status_code == 401
    sent.append(("GET", "/v1/campaigns", 401))
    assert httpx.get(f"{server_url}/healthz").status_code == 200
    sent.append(("GET", "/healthz", 200))
    return sent


def _access_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "linktrack.access" in line]


def test_text_access_log_has_one_line_per_request(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running(f"sqlite:///{tmp_path}/l.db", tmp_path, log=log) as server:
        sent = _traffic(server.url, app_client(server, server.workspace()["app_api_key"]))
    # Stopped: every line is out (the sink drains at exit).
    parsed = [TEXT_LINE.match(line) for line in _access_lines(log)]
    assert all(parsed), _access_lines(log)
    got = [(m["method"], m["target"], int(m["status"])) for m in parsed if m]
    assert sorted(got) == sorted(sent)
    for m in parsed:
        assert m and m["client"].startswith("127.0.0.1:")
        assert float(m["ms"]) < 30_000
    clicks = [m for m in parsed if m and m["target"].startswith("/e/c/")]
    assert {m["ua"] for m in clicks} == {r"a \"quoted\" agent"}  # cannot forge a field
    assert any(float(m["ms"]) > 0 for m in clicks)  # measured, not the loop's coarse clock
    assert "INFO linktrack.service.writer: event writer" in log.read_text()


def test_json_lines_carry_access_and_event_logs(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = {"LINKTRACK_LOG_FORMAT": "json"}
    with running(f"sqlite:///{tmp_path}/j.db", tmp_path, log=log, env=env) as server:
        sent = _traffic(server.url, app_client(server, server.workspace()["app_api_key"]))
    entries = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
        else:  # only serve's own banner is printed, not logged
            assert line.startswith("linktrack: "), line
    access = [e for e in entries if e["logger"] == "linktrack.access"]
    assert sorted((e["method"], e["target"], e["status"]) for e in access) == sorted(sent)
    assert all(e["level"] == "info" and e["ms"] >= 0 and "time" in e for e in access)
    assert {e["user_agent"] for e in access if "/e/c/" in e["target"]} == {'a "quoted" agent'}
    loggers = {e["logger"] for e in entries}
    assert {"uvicorn.error", "linktrack.service.writer"} <= loggers  # the writer process's too


@pytest.mark.parametrize("env", [{"LINKTRACK_ACCESS_LOG": "0"}, {"LINKTRACK_LOG_LEVEL": "warning"}])
def test_access_log_off(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "server.log"
    with running(f"sqlite:///{tmp_path}/o.db", tmp_path, log=log, env=env) as server:
        _traffic(server.url, app_client(server, server.workspace()["app_api_key"]))
    assert _access_lines(log) == []
    if env.get("LINKTRACK_LOG_LEVEL") == "warning":
        assert " INFO " not in log.read_text()


def test_a_bad_log_setting_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", "serve", "--db",
         f"sqlite:///{tmp_path}/b.db", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "LINKTRACK_LOG_LEVEL": "loud"},
    )  # fmt: skip
    assert out.returncode == 2
    assert "LINKTRACK_LOG_LEVEL must be one of debug, info, warning, error" in out.stderr
