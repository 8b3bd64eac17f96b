"""/healthz, /readyz and the Prometheus endpoint, over real sockets to a real server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from helpers import fill, small_tmpfs
from server import app_client, free_port, poll, running

BODY = "".join(f'<a href="https://health.example/{i}">{i}</a>' for i in range(3))
SEND = {"to": "h@example.com", "identifiers": {"id": "h"}, "subject": "s", "body": BODY}


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _answered(samples: dict, route: str, status: int) -> float:  # type: ignore[type-arg]
    return samples[("linktrack_answered_total", (("route", route), ("status", str(status))))]


def test_metrics_count_what_the_node_answered(tmp_path: Path) -> None:
    port = free_port()
    env = {"LINKTRACK_METRICS_ADDR": f"127.0.0.1:{port}"}
    with running(f"sqlite:///{tmp_path}/m.db", tmp_path, env=env) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
        body = app.get(f"/v1/deliveries/{sent}").json()["delivery"]["body"]
        links = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        (pixel,) = re.findall(r'src="([^"]+/e/o/[^"]+)"', body)
        with httpx.Client() as web:  # one keep-alive connection: the fast path answers
            for n in range(7):
                assert web.get(links[n % len(links)]).status_code == 302
            for n in range(3):
                assert web.get(links[n][:-3] + "AAA").status_code == 404
            assert web.get(pixel).status_code == 200
            assert web.post(links[0]).status_code == 405  # the ASGI path counts too
        assert httpx.get(f"{server.url}/metrics").status_code == 404  # not on the public port
        samples = poll(lambda: _scrape(port),
                       lambda s: s.get(("linktrack_writer_state", (("state", "ok"),))) == 1,
                       timeout=40)  # fmt: skip
        assert _answered(samples, "click", 302) == 7
        assert _answered(samples, "click", 404) == 3
        assert _answered(samples, "click", 405) == 1
        assert _answered(samples, "open", 200) == 1
        assert _answered(samples, "click", 503) == 0
        assert samples[("linktrack_event_log_commit_seconds_count", ())] >= 8
        assert samples[("linktrack_deliveries", (("status", "queued"),))] == 0
        assert ("linktrack_writer_lag_seconds", ()) in samples


def test_readyz_says_when_the_click_log_cannot_take_clicks(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "volume", "4m") as volume, \
            running(f"sqlite:///{tmp_path}/r.db", volume, log=tmp_path / "server.log") as server:  # fmt: skip
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        ready = poll(lambda: httpx.get(f"{server.url}/readyz"), lambda r: r.status_code == 200)
        assert ready.json() == {"ready": True, "failed": {}}
        filler = volume / "filler"
        fill(filler)
        unready = httpx.get(f"{server.url}/readyz")
        assert unready.status_code == 503, unready.text
        assert "full" in unready.json()["failed"]["event_log"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # alive, only not ready
        filler.unlink()
        assert httpx.get(f"{server.url}/readyz").status_code == 200


def _heartbeats(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        query = "select count(*) from consumer_offsets where heartbeat_at is not null"
        return int(conn.execute(query).fetchone()[0])


def test_readyz_says_when_the_writer_has_stalled(tmp_path: Path) -> None:
    """A writer that stops reporting (here: stopped with SIGSTOP) makes the node unready
    once it has been silent past the bound; it is ready again when the writer goes on."""
    import os
    import signal

    from server import session_processes

    env = {"LINKTRACK_MAX_WRITER_LAG": "1"}  # silent for max(1, 15) s: stalled
    with running(f"sqlite:///{tmp_path}/w.db", tmp_path, env=env) as server:
        assert server.proc is not None
        poll(lambda: httpx.get(f"{server.url}/readyz").status_code, lambda s: s == 200)
        poll(lambda: _heartbeats(tmp_path / "w.db"), lambda n: n == 1)  # it has reported
        (writer,) = [p for p in session_processes(server.proc.pid)
                     if b"consume" in Path(f"/proc/{p}/cmdline").read_bytes()]  # fmt: skip
        os.kill(writer, signal.SIGSTOP)
        try:
            unready = poll(lambda: httpx.get(f"{server.url}/readyz"),
                           lambda r: r.status_code == 503, timeout=40)  # fmt: skip
            assert "the writer is stalled" in unready.json()["failed"]["writer"]
        finally:
            os.kill(writer, signal.SIGCONT)
        poll(lambda: httpx.get(f"{server.url}/readyz").status_code, lambda s: s == 200,
             timeout=30)  # fmt: skip
