"""Stopping `linktrack serve`: a signal to its pid or its group drains and stops the writer,
kill -9 takes the writer with it, and one click log never has two writers."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from server import ClickLoad, Server, app_client, poll, session_processes, stored_clicks

BODY = '<a href="https://life.example/a">a</a> <a href="https://life.example/b">b</a>'


def _links(server: Server) -> list[str]:
    ws = server.workspace()
    app = app_client(server, ws["app_api_key"])
    sent = app.post(
        "/v1/send/email",
        json={"to": "l@example.com", "identifiers": {"id": "l"}, "subject": "s", "body": BODY},
    )
    body = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]["body"]
    return re.findall(r'href="([^"]+/e/c/[^"]+)"', body)


def _gone(server: Server, timeout: float) -> list[int]:
    """Wait for the server's whole session to exit; the pids still there after `timeout`."""
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    while (left := session_processes(server.proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_sigterm_to_the_pid_stops_serve_and_its_writer_and_loses_no_click(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path}/life.db"
    server = Server(db_url, tmp_path).start()
    try:
        clicking = ClickLoad(_links(server), clients=4).start()
        poll(lambda: clicking.answered[0], lambda n: n >= 200)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGTERM)  # the pid only, as `kill PID` does
        answered = clicking.stop()[0]
        assert server.proc.wait(timeout=30) == 0
        assert _gone(server, 30) == []  # the writer too: no orphan
        assert stored_clicks(db_url) <= answered + 4  # in flight: at most one a client
        assert "restarting it" not in (tmp_path / "server.log").read_text()
        # The writer stopped after the batch it was storing; the rest waits in the log.
        server = Server(db_url, tmp_path).start()
        poll(lambda: stored_clicks(db_url), lambda n: n >= answered, timeout=60)
    finally:
        server.stop()


def test_sigterm_to_the_group_during_load_leaves_no_process_and_restarts_nothing(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path}/group.db"
    server = Server(db_url, tmp_path).start()
    try:
        clicking = ClickLoad(_links(server), clients=6).start()
        poll(lambda: clicking.answered[0], lambda n: n >= 200)
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGTERM)  # as a service manager stops a unit
        answered = clicking.stop()[0]
        assert server.proc.wait(timeout=30) == 0
        assert _gone(server, 30) == []
        assert "restarting it" not in (tmp_path / "server.log").read_text()
        # What the stopped writer had not stored yet is in the log: a restart stores it.
        server = Server(db_url, tmp_path).start()
        poll(lambda: stored_clicks(db_url), lambda n: n >= answered, timeout=60)
    finally:
        server.stop()


def test_kill_dash_nine_of_serve_takes_its_writer_with_it(tmp_path: Path) -> None:
    server = Server(f"sqlite:///{tmp_path}/nine.db", tmp_path).start()
    try:
        assert server.proc is not None
        poll(lambda: len(session_processes(server.proc.pid)), lambda n: n >= 2)  # serve + writer
        os.kill(server.proc.pid, signal.SIGKILL)  # serve alone: no signal reaches the writer
        server.proc.wait(timeout=10)
        assert _gone(server, 20) == []  # the writer saw serve's pipe close and stopped
    finally:
        server.stop()


def test_a_second_writer_on_one_click_log_is_refused(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/two.db"
    server = Server(db_url, tmp_path).start()
    try:
        assert server.proc is not None
        poll(lambda: len(session_processes(server.proc.pid)), lambda n: n >= 2)
        time.sleep(1.0)  # the writer has its lock
        second = subprocess.run(
            [sys.executable, "-m", "linktrack.entrypoints.cli", "consume",
             "--db", db_url, "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert "another writer is storing the click log" in second.stderr
    finally:
        server.stop()


def test_a_checkpoint_of_the_other_log_type_stops_consume_until_it_replays(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path}/other.db"
    consume = [sys.executable, "-m", "linktrack.entrypoints.cli", "consume",
               "--db", db_url, "--data-dir", str(tmp_path)]  # fmt: skip
    subprocess.run([*consume[:3], "workspace", "create", "w", "--db", db_url], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:  # what a Redis writer saved
        db.execute("insert into consumer_offsets (consumer, position, updated_at) "
                   "values ('writer', '1796182495672-44', 0)")
    refused = subprocess.run(consume, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "linktrack consume --replay" in refused.stderr
    replaying = subprocess.Popen([*consume, "--replay"], stdout=subprocess.PIPE, text=True)
    try:
        assert replaying.stdout is not None
        assert "consuming file events" in replaying.stdout.readline()
    finally:
        replaying.terminate()
        assert replaying.wait(timeout=30) == 0
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        assert db.execute("select position from consumer_offsets").fetchall() == [(None,)]
