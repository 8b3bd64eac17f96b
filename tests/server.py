"""A real linktrack server in a subprocess, and a real SMTP server, on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


RUN_MARK = "LINKTRACK_TEST_RUN"  # set by conftest; every process a test starts inherits it


def processes_of_this_run() -> dict[int, str]:
    """pid → command line of every running process started under this test run."""
    mark = f"{RUN_MARK}={os.environ.get(RUN_MARK, '')}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        found[int(entry.name)] = cmdline.decode(errors="replace").strip()
    return found


def session_processes(session: int) -> list[int]:
    """The pids still running in a process session (a server started with its own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and int(fields[3]) == session:
            pids.append(int(entry.name))
    return pids


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


class Server:
    """`linktrack serve` on a free port; `kill()` is a kill -9 of its process group."""

    def __init__(
        self,
        db_url: str,
        data_dir: Path,
        *,
        smtp_port: int | None = None,
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
        log: Path | None = None,
        https: bool = False,
        demo: bool = False,
    ) -> None:
        self.env = {**os.environ, **(env or {})}
        self.prefix = prefix or []  # a command serve runs under (a wrapper that pins it, say)
        self.log = log or data_dir / "server.log"
        self.db_url = db_url
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        self.smtp_port = smtp_port
        self.demo = demo  # serve --demo: its workspace's keys in data_dir/demo-workspace.json
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        args = [
            *self.prefix, sys.executable, "-m", "linktrack.entrypoints.cli", "serve",
            "--db", self.db_url, "--data-dir", str(self.data_dir),
            "--port", str(self.port), "--public-url", self.url,
        ]  # fmt: skip
        if self.smtp_port:
            args += ["--smtp", f"smtp://127.0.0.1:{self.smtp_port}"]
        if self.demo:
            args.append("--demo")
        log = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=log, start_new_session=True, env=self.env
        )
        wait_port(self.port)
        return self

    def workspace(self, name: str = "Test") -> dict[str, Any]:
        out = cli("workspace", "create", name, "--json", "--db", self.db_url,
                  "--public-url", self.url)  # fmt: skip
        return dict(json.loads(out))

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM to the server's process group, as a service manager stops it; then wait
        for every process of its session (its writer drains first) to be gone."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc:
            deadline = time.monotonic() + 20
            while session_processes(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)


@contextmanager
def running(db_url: str, data_dir: Path, **kwargs: Any) -> Iterator[Server]:
    server = Server(db_url, data_dir, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


class Mailbox:
    """aiosmtpd on loopback collecting every message it receives."""

    def __init__(self, port: int | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []  # each message's envelope recipients (RCPT TO)
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                mailbox.recipients.append(list(envelope.rcpt_tos))
                mailbox.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = port or free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait(self, count: int = 1, timeout: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
            time.sleep(0.05)
        return self.messages


def app_client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def poll(fn: Any, until: Any, timeout: float = 30.0) -> Any:
    """Call fn until until(result) holds (the event writer runs asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last: {result!r}")
        time.sleep(0.1)


def stored_clicks(db: str | Path) -> int:
    """Clicks in a SQLite store (a path or a sqlite:/// URL), read without locking it."""
    path = str(db).removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return int(conn.execute("select count(*) from clicks").fetchone()[0])


class ClickLoad:
    """Clients clicking `links` over keep-alive connections (one each) until stopped:
    what a test does to a server while it breaks something. A refused connection (the
    server is stopping) counts as "anything else", and the client tries again."""

    def __init__(self, links: list[str], clients: int = 3) -> None:
        import threading

        self.links = links
        self.counts = [[0, 0] for _ in range(clients)]  # per client: 302s, anything else
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._click, args=(c,)) for c in self.counts]

    def _click(self, mine: list[int]) -> None:
        with httpx.Client(timeout=10) as web:
            n = id(mine)
            while not self._stop.is_set():
                n += 1
                try:
                    mine[web.get(self.links[n % len(self.links)]).status_code != 302] += 1
                except httpx.HTTPError:
                    mine[1] += 1
                    self._stop.wait(0.05)

    def start(self) -> ClickLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> tuple[int, int]:
        """Stop the clients; (302s, anything else)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        return self.answered

    def __enter__(self) -> ClickLoad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def answered(self) -> tuple[int, int]:
        """(302s, anything else), over every client."""
        return sum(c[0] for c in self.counts), sum(c[1] for c in self.counts)
