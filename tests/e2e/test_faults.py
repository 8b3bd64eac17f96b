"""Faults on real components: a relay that is down, a data volume that fills up or
cannot be written. Each says what it does, loses nothing it answered, and recovers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import fill, small_tmpfs
from server import (
    ClickLoad,
    Mailbox,
    Server,
    app_client,
    free_port,
    poll,
    running,
    session_processes,
    stored_clicks,
)

BODY = "".join(f'<a href="https://faults.example/{i}">{i}</a>' for i in range(4))
SEND = {"to": "f@example.com", "identifiers": {"id": "f"}, "subject": "s", "body": BODY}


def _delivery(app: httpx.Client, delivery_id: str) -> dict[str, object]:
    return dict(app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"])


def test_a_relay_that_is_down_is_retried_visibly_then_delivered(tmp_path: Path) -> None:
    relay = free_port()  # nothing listens there yet
    env = {"LINKTRACK_DELIVERY_BACKOFF": "1"}  # retries after 1, 2, 4 and 8 s
    with running(f"sqlite:///{tmp_path}/r.db", tmp_path, smtp_port=relay, env=env) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
        waiting = poll(lambda: _delivery(app, sent), lambda d: d["error"] is not None)
        assert waiting["status"] == "queued" and waiting["sent_at"] is None
        assert re.match(r"attempt 1 of 5 failed, retrying: ", str(waiting["error"])), waiting
        with Mailbox(port=relay) as mailbox:
            (message,) = mailbox.wait(1, timeout=30)
            delivered = poll(lambda: _delivery(app, sent), lambda d: d["status"] == "sent")
        assert message["To"] == "f@example.com" and delivered["error"] is None
        print(f"relay down: queued with {waiting['error']!r}; delivered once it was up")


def test_a_relay_that_stays_down_fails_the_delivery_with_its_error(tmp_path: Path) -> None:
    relay = free_port()
    env = {"LINKTRACK_DELIVERY_BACKOFF": "0.1"}
    with running(f"sqlite:///{tmp_path}/d.db", tmp_path, smtp_port=relay, env=env) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
        failed = poll(lambda: _delivery(app, sent), lambda d: d["status"] == "failed")
        assert failed["error"] and "retrying" not in str(failed["error"]), failed
        outbox = app.get("/v1/outbox").json()
        assert sent not in str(outbox)  # failed, not waiting in the outbox


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of its own: a data directory that really fills up."""
    with small_tmpfs(tmp_path / "volume", "4m") as where:
        yield where


def test_a_full_data_volume_answers_503_without_a_redirect_and_recovers(
    tmp_path: Path, volume: Path
) -> None:
    db = tmp_path / "full.db"  # the store is elsewhere: only the click log is on the volume
    with running(f"sqlite:///{db}", volume, log=tmp_path / "server.log") as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
        body = str(_delivery(app, sent)["body"])
        links = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        answered = {302: 0, 503: 0}
        with httpx.Client() as web:
            for link in links:
                assert web.get(link).status_code == 302
                answered[302] += 1
            fill(volume / "filler")
            for n in range(80):  # the segment's last page may take ~20 (4 KiB of clicks)
                answer = web.get(links[n % len(links)])
                assert answer.status_code in (302, 503)
                answered[answer.status_code] += 1
                if answer.status_code == 503:
                    assert "location" not in answer.headers, answer.headers
                    assert answer.headers["retry-after"] == "1"
            (volume / "filler").unlink()  # space returns: no restart, no operator
            again = poll(lambda: web.get(links[1]).status_code, lambda s: s == 302)
            answered[again] += 1
            for link in links:
                assert web.get(link).status_code == 302
                answered[302] += 1
        assert answered[503] >= 40  # refused while full (a few may have fit in the last bytes)
        poll(lambda: stored_clicks(db), lambda n: n == answered[302])
        log = server.log.read_text()
    assert log.count("Traceback") == 0, log[-3000:]
    print(f"full volume: {answered[302]} clicks answered 302 and stored, "
          f"{answered[503]} answered 503 while full")  # fmt: skip


def test_an_unwritable_data_directory_is_a_clear_start_up_error(
    tmp_path: Path, volume: Path
) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(volume)], check=True)
    out = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", "serve",
         "--db", f"sqlite:///{tmp_path}/ro.db", "--data-dir", str(volume / "data"),
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert str(volume) in out.stderr and "Traceback" not in out.stderr, out.stderr


def _writer_pid(server: Server) -> int | None:
    """The `consume --background` process serve supervises, once it runs."""
    assert server.proc is not None
    for pid in session_processes(server.proc.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"consume" in cmdline and b"--background" in cmdline:
            return pid
    return None


def test_kill_dash_nine_of_the_writer_under_load_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "writer.db"
    with running(f"sqlite:///{db}", tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
        links = re.findall(r'href="([^"]+/e/c/[^"]+)"', str(_delivery(app, sent)["body"]))
        killed = []
        with ClickLoad(links) as load:
            for _ in range(2):
                pid = poll(lambda: _writer_pid(server), lambda p: p is not None and p not in killed)
                poll(lambda: stored_clicks(db), lambda n: n > 0)  # it stores while the load runs
                time.sleep(0.5)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            poll(lambda: _writer_pid(server), lambda p: p is not None and p not in killed)
            time.sleep(1.0)
        answered = load.answered
        assert answered[1] == 0 and answered[0] > 100
        # Every answered click once: the restarted writer replays from its checkpoint and
        # skips what it had stored (event ids are unique).
        poll(lambda: stored_clicks(db), lambda n: n == answered[0], timeout=60)
        time.sleep(1.0)
        assert stored_clicks(db) == answered[0]
        assert "the event writer exited; restarting it" in server.log.read_text()
    print(f"writer kill -9 twice under load: {answered[0]} clicks answered 302, "
          f"{answered[0]} stored once")  # fmt: skip
