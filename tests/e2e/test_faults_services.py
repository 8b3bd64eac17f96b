"""Faults of the services linktrack stands on, run for real: its Redis stream goes
away and comes back, its PostgreSQL is restarted under load. Each test starts its
own redis-server or PostgreSQL cluster and always stops it."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from server import ClickLoad, app_client, free_port, poll, running, wait_port

REDIS_SERVER = Path("/usr/bin/redis-server")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BODY = "".join(f'<a href="https://services.example/{i}">{i}</a>' for i in range(4))
SEND = {"to": "s@example.com", "identifiers": {"id": "s"}, "subject": "s", "body": BODY}


def _need_binary(*paths: Path) -> None:
    """Skip with the reason when a server binary is missing; with CI=true, fail."""
    missing = [str(p) for p in paths if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = f"not installed: {', '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


def _links(app: httpx.Client) -> list[str]:
    sent = app.post("/v1/send/email", json=SEND).json()["delivery_id"]
    body = app.get(f"/v1/deliveries/{sent}").json()["delivery"]["body"]
    links = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
    assert len(links) == 4, body
    return links


def _stored(db_url: str) -> tuple[int, int]:
    """(clicks stored, distinct event ids among them)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("select count(*), count(distinct event_id) from clicks"))
            total, distinct = row.one()
    finally:
        engine.dispose()
    return int(total), int(distinct)


class RedisServer:
    """A private redis-server on a free loopback port, its AOF fsynced on every write."""

    def __init__(self, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.dir = where
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_port(self.port, timeout=10)
        import redis

        client = redis.Redis.from_url(self.url)
        try:  # the AOF is loaded once PING answers (LOADING before)
            poll(lambda: _ping(client), lambda ok: ok, timeout=10)
        finally:
            client.close()

    def xlen(self, stream: str) -> int:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return int(client.xlen(stream))
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM: Redis writes out its AOF, then exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _ping(client: Any) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_redis_down_answers_503_quickly_and_recovers_without_a_restart(
    pg_url: str, tmp_path: Path
) -> None:
    _need_binary(REDIS_SERVER)
    started = time.monotonic()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        stream = "linktrack:faults"
        env = {"LINKTRACK_EVENT_LOG": "redis", "LINKTRACK_REDIS_URL": redis.url,
               "LINKTRACK_REDIS_STREAM": stream}  # fmt: skip
        with running(pg_url, tmp_path, env=env) as server:
            app = app_client(server, server.workspace()["app_api_key"])
            links = _links(app)
            answered = {302: 0, 503: 0}
            slowest_503 = 0.0
            with httpx.Client(timeout=30) as web:  # one keep-alive connection throughout
                for n in range(40):
                    assert web.get(links[n % 4]).status_code == 302
                    answered[302] += 1
                redis.stop()
                down = time.monotonic()
                n = 0
                while time.monotonic() - down < 2.0:  # two seconds of clicks while it is down
                    n += 1
                    began = time.monotonic()
                    answer = web.get(links[n % 4])
                    slowest_503 = max(slowest_503, time.monotonic() - began)
                    assert answer.status_code == 503, answer
                    assert "location" not in answer.headers, answer.headers
                    assert answer.headers["retry-after"] == "1"
                    answered[503] += 1
                redis.start()  # same port, same directory: its AOF comes back
                # Every click answered 302 is in the stream, and no 503'd one.
                assert redis.xlen(stream) == answered[302]
                deadline = time.monotonic() + 15
                while (status := web.get(links[0]).status_code) != 302:
                    assert status == 503 and time.monotonic() < deadline, status
                    answered[503] += 1
                answered[302] += 1
                for n in range(40):
                    assert web.get(links[n % 4]).status_code == 302
                    answered[302] += 1
            stored = poll(lambda: _stored(pg_url), lambda s: s[0] >= answered[302])
            time.sleep(1.0)  # nothing more arrives later: none of the 503s was kept
            assert _stored(pg_url) == stored == (answered[302], answered[302])
            writer = poll(lambda: app.get("/v1/writer").json()["writer"],
                          lambda w: w["state"] == "ok")  # fmt: skip
            assert writer["consumer"] == "writer:redis"
    finally:
        redis.stop()
    assert slowest_503 < 1.0, slowest_503
    print(f"redis down: {answered[302]} clicks answered 302, {answered[503]} answered 503 "
          f"(slowest 503 {slowest_503 * 1000:.0f} ms), {stored[0]} stored once; "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip


class PgCluster:
    """A private PostgreSQL 15 cluster: trust auth, 127.0.0.1 only, on a free port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        # initdb refuses root: as root, the cluster is the postgres user's.
        cmd = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (cmd, out.stdout[-2000:], out.stderr[-2000:])

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "pg.log"),
                  "-w", "-t", "30", "-o", options, *args)  # fmt: skip

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale", "C")  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self, mode: str) -> None:
        self._ctl("-m", mode, "restart")

    def pid(self) -> int:
        """The postmaster's pid (the first line of its pid file)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-m", "immediate", "stop")


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 directories.
    root = Path(tempfile.mkdtemp(prefix="linktrack-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PgCluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_postgresql_restarted_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    _need_binary(PG_BIN / "initdb", PG_BIN / "pg_ctl", PG_BIN / "postgres")
    started = time.monotonic()
    with pg_cluster() as pg, running(pg.url, tmp_path) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        links = _links(app)
        restarts: list[str] = []
        with ClickLoad(links, clients=2) as load:
            poll(lambda: _stored(pg.url)[0], lambda n: n > 0)  # it stores under the load
            for mode in ("fast", "immediate"):
                postmaster = pg.pid()
                began = time.monotonic()
                pg.restart(mode)
                took = time.monotonic() - began
                assert pg.pid() != postmaster  # a new server, every connection to it new
                # The writer stores again on its own, while the clicks go on.
                before = _stored(pg.url)[0]
                poll(lambda: _stored(pg.url)[0], lambda n, b=before: n > b, timeout=30)
                restarts.append(f"-m {mode} {took:.1f} s, storing again after "
                                f"{time.monotonic() - began:.1f} s")  # fmt: skip
            time.sleep(1.0)
        answered = load.answered
        assert answered[1] == 0 and answered[0] > 100, answered
        stored = poll(lambda: _stored(pg.url), lambda s: s[0] >= answered[0], timeout=30)
        time.sleep(1.0)
        assert _stored(pg.url) == stored == (answered[0], answered[0])
        writer = poll(lambda: app.get("/v1/writer").json()["writer"],
                      lambda w: w["state"] == "ok")  # fmt: skip
        assert writer["consumer"] == "writer"
        # One line (with its traceback) per outage, and one when it works again.
        log = server.log.read_text()
        for failing in ("writer batches fail", "delivery worker passes fail"):
            assert log.count(failing) <= len(restarts), (failing, log[-4000:])
    print(f"postgres restarted under load ({'; '.join(restarts)}): {answered[0]} clicks "
          f"answered 302, {answered[1]} otherwise, {stored[0]} stored once; "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
