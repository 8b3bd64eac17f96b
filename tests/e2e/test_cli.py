"""The `linktrack` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import shared_dir

ENV = {**os.environ, "LINKTRACK_SECRET": "cli-test-secret"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=60,
    )


def test_rewrite_links_and_decode(tmp_path: Path) -> None:
    page = tmp_path / "m.html"
    page.write_text('<p><a href="https://x.example/a?b=1&amp;c=2">a</a></p>', encoding="utf-8")
    settings = tmp_path / "s.json"
    settings.write_text(
        json.dumps(
            {
                "tracking_domain": "t.example.com",
                "url_params": {"utm_source": "cli"},
                "add_cio_id": False,
                "open_tracking": False,
            }
        ),
        encoding="utf-8",
    )
    out = run("rewrite", str(page), "--settings", str(settings))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('<p><a href="https://t.example.com/e/c/')
    links = json.loads(run("rewrite", str(page), "--settings", str(settings), "--links").stdout)
    assert links[0]["url"] == "https://x.example/a?b=1&c=2"
    decoded = run("decode", links[0]["tracked_url"])
    assert decoded.returncode == 0
    data = json.loads(decoded.stdout)
    assert data["href"] == "https://x.example/a?b=1&c=2&utm_source=cli"
    assert data["link_id"] == 1 and data["position"] == 1


def test_decode_rejects_tampered_and_other_keys(tmp_path: Path) -> None:
    page = tmp_path / "m.html"
    page.write_text('<a href="https://x.example/">a</a>', encoding="utf-8")
    url = json.loads(run("rewrite", str(page), "--links").stdout)[0]["tracked_url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    bad = run("decode", tampered)
    assert bad.returncode == 1 and "not a valid tracked URL" in bad.stderr
    other = run("decode", url, env={**ENV, "LINKTRACK_SECRET": "another"})
    assert other.returncode == 1
    assert run("decode", "https://x.example/nothing").returncode == 1


def test_render_with_person_and_trigger(tmp_path: Path) -> None:
    template = tmp_path / "t.html"
    template.write_text(
        '<html><body>Hi {{ customer.first_name }} <a href="{{ trigger.url }}">go</a></body></html>',
        encoding="utf-8",
    )
    person = tmp_path / "p.json"
    person.write_text(json.dumps({"first_name": "Ada", "cio_id": "abc9"}), encoding="utf-8")
    trigger = tmp_path / "tr.json"
    trigger.write_text(json.dumps({"url": "https://x.example/r"}), encoding="utf-8")
    out = run("render", str(template), "--person", str(person), "--trigger", str(trigger))
    assert out.returncode == 0, out.stderr
    assert "Hi Ada " in out.stdout and "/e/o/" in out.stdout
    url = out.stdout.split('href="')[1].split('"')[0]
    assert json.loads(run("decode", url).stdout)["href"] == "https://x.example/r?_cio_id=abc9"


def test_unset_secret_warns_and_errors_are_clear(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "LINKTRACK_SECRET"}
    template = tmp_path / "t.html"
    template.write_text("line one\n{% if %}", encoding="utf-8")
    person = tmp_path / "p.json"
    person.write_text("{}", encoding="utf-8")
    out = run("render", str(template), "--person", str(person), env=env)
    assert out.returncode == 2
    assert "line 2" in out.stderr and "Traceback" not in out.stderr
    missing = run("rewrite", str(tmp_path / "nope.html"), env=env)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    ok = tmp_path / "ok.html"
    ok.write_text("<a href='https://x.example'>x</a>", encoding="utf-8")
    assert "LINKTRACK_SECRET is not set" in run("rewrite", str(ok), env=env).stderr


def test_rewrite_a_corpus_file() -> None:
    path = next(iter(sorted((shared_dir() / "corpus" / "email").rglob("*.html"))))
    out = run("rewrite", str(path))
    assert out.returncode == 0
    assert "/e/c/" in out.stdout


@pytest.mark.parametrize("setting", ["", "idle", "19"])
def test_serve_runs_its_writer_at_a_lower_cpu_priority(tmp_path: Path, setting: str) -> None:
    """Clicks first: the consumer `serve` starts yields the CPU to the HTTP worker, at
    nice 10 unless LINKTRACK_WRITER_PRIORITY says otherwise."""
    import time

    from server import running

    if not hasattr(os, "SCHED_IDLE"):
        pytest.skip("this OS has no SCHED_IDLE")

    def priority(pid: int) -> str:
        if os.sched_getscheduler(pid) == os.SCHED_IDLE:
            return "idle"
        return str(os.getpriority(os.PRIO_PROCESS, pid))

    env = {"LINKTRACK_WRITER_PRIORITY": setting} if setting else {}
    with running(f"sqlite:///{tmp_path}/idle.db", tmp_path, env=env) as server:
        assert server.proc is not None
        deadline = time.monotonic() + 30
        consumer = None
        while consumer is None and time.monotonic() < deadline:
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if b"consume" in cmdline and int(stat[1]) == server.proc.pid:
                    consumer = int(entry.name)
            time.sleep(0.2)
        assert consumer is not None, "serve started no consumer process"
        expected = setting or "10"
        deadline = time.monotonic() + 30  # it lowers its priority as it starts
        while priority(consumer) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert priority(consumer) == expected
        assert os.getpriority(os.PRIO_PROCESS, server.proc.pid) == 0  # the HTTP worker


def test_a_writer_priority_that_is_not_one_is_refused(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", "consume",
         "--db", f"sqlite:///{tmp_path}/p.db", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "LINKTRACK_WRITER_PRIORITY": "20"},
    )  # fmt: skip
    assert out.returncode == 2
    assert "LINKTRACK_WRITER_PRIORITY must be 'idle' or a nice value 0-19" in out.stderr


def test_serve_installs_the_click_fast_path_and_refuses_to_start_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn wraps the app for proxy headers or trace logging, and the fast path then
    finds no front: every click would take the slow path, so serve exits 2 instead."""
    import uvicorn

    from linktrack.entrypoints import cli
    from linktrack.entrypoints.cli import serve

    monkeypatch.setattr(os, "environ", dict(os.environ))  # serve exports its configuration
    db, data = f"sqlite:///{tmp_path}/fast.db", str(tmp_path / "data")
    monkeypatch.setenv("LINKTRACK_DB", db)
    monkeypatch.setenv("LINKTRACK_DATA_DIR", data)
    monkeypatch.setenv("LINKTRACK_EMBEDDED_WORKERS", "0")
    args = cli.build_parser().parse_args(["serve", "--port", "0"])
    config = serve.uvicorn_config(args)
    serve.require_fast_path(config)  # serve's own configuration installs it
    config.loaded_app.services.stop()

    real_config = serve.uvicorn_config
    configs: list[uvicorn.Config] = []

    def wrapped(args: Any) -> uvicorn.Config:
        config = real_config(args)
        config.proxy_headers = True
        configs.append(config)
        return config

    served: list[object] = []
    monkeypatch.setattr(serve, "uvicorn_config", wrapped)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: served.append(self))
    try:
        code = cli.main(["serve", "--db", db, "--data-dir", data, "--port", "0"])
    finally:
        for config in configs:
            if config.loaded:
                config.loaded_app.app.services.stop()
    assert (code, served) == (2, [])
    err = capsys.readouterr().err
    assert "fast path cannot be installed" in err and "ProxyHeadersMiddleware" in err


def test_version_and_migrate_with_its_dry_run(tmp_path: Path, db_url: str) -> None:
    import sqlalchemy as sa

    from linktrack.adapters.store import make_engine, migrate

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "linktrack.entrypoints.cli", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    assert run("--version").stdout.startswith("linktrack ")
    migrate(db_url, "0001")  # a store from the first release
    dry = run("migrate", "--db", db_url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Running upgrade 0001 -> 0002" in dry.stdout and "ALTER TABLE" in dry.stdout.upper()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:  # the dry run changed nothing
            assert conn.execute(sa.text("select version_num from alembic_version")).all() == [
                ("0001",)
            ]
        done = run("migrate", "--db", db_url)
        assert done.returncode == 0 and "from 0001 to 0010" in done.stdout, done.stderr
        assert "is current (0010)" in run("migrate", "--db", db_url).stdout
        assert "current, nothing to run" in run("migrate", "--db", db_url, "--dry-run").stdout
    finally:
        engine.dispose()
    bad = run("migrate", "--db", f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert bad.returncode == 2 and "cannot migrate" in bad.stderr and "Traceback" not in bad.stderr


def test_common_operator_mistakes_get_a_clear_message(tmp_path: Path) -> None:
    import socket

    from server import free_port, running

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "linktrack.entrypoints.cli", "serve",
             "--data-dir", str(tmp_path / "data"), *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = serve("--db", f"sqlite:///{tmp_path}/a.db", "--port", port)
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    nowhere = serve("--db", "postgresql+psycopg://nobody@127.0.0.1:1/x", "--port", str(free_port()))
    assert nowhere.returncode == 2 and "cannot open the store" in nowhere.stderr
    assert "Traceback" not in busy.stderr + nowhere.stderr
    with running(f"sqlite:///{tmp_path}/t.db", tmp_path) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as tls:
            tls.sendall(bytes.fromhex("160301002a0100002603035a") + b"\0" * 38)  # a ClientHello
            tls.settimeout(10)
            assert tls.recv(100).startswith(b"HTTP/1.1 400")
        time.sleep(0.3)
        assert "a client spoke TLS (HTTPS) to this plain-HTTP port" in server.log.read_text()


def test_workspaces_and_their_keys_from_the_command_line(tmp_path: Path) -> None:
    import re

    import httpx

    from server import app_client, running

    db = f"sqlite:///{tmp_path}/keys.db"

    def run(*args: str) -> Any:
        out = subprocess.run([sys.executable, "-m", "linktrack.entrypoints.cli", *args, "--db", db],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if "--json" in args else out.stdout

    with running(db, tmp_path) as server:
        ws = server.workspace("Keys")
        listed = run("workspace", "list", "--json")
        assert [(w["id"], w["name"], w["site_id"]) for w in listed] == [(ws["id"], "Keys", ws["site_id"])]
        assert ws["app_api_key"] not in json.dumps(listed)  # keys are never listed
        old = app_client(server, ws["app_api_key"])
        sent = old.post("/v1/send/email", json={"to": "k@example.com", "identifiers": {"id": "k"},
                                                "subject": "s", "body": '<a href="https://k.example/">k</a>'})  # fmt: skip
        body = old.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]["body"]
        (link,) = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        decoded = run("decode", link)  # verified with the workspace's key from the store
        assert json.loads(decoded)["href"].startswith("https://k.example/?_cio_id=")
        assert json.loads(decoded)["workspace_id"] == ws["id"]
        new = run("workspace", "keys", "rotate", str(ws["id"]), "--kind", "app", "--json")
        assert old.get("/v1/transactional").status_code == 401  # revoked at once
        assert app_client(server, new["app_api_key"]).get("/v1/transactional").status_code == 200
        track = httpx.get(f"{server.url}/api/v1/customers/k", auth=(ws["site_id"], ws["track_api_key"]))
        assert track.status_code != 401  # the track key was not rotated
        kid = run("workspace", "signing-key", "rotate", str(ws["id"]), "--json")["kid"]
        assert kid in json.dumps(run("workspace", "list", "--json"))
        assert json.loads(run("decode", link))["kid"] != kid  # the old link still verifies
    forged = subprocess.run([sys.executable, "-m", "linktrack.entrypoints.cli", "decode", link],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert forged.returncode == 1  # without --db: the development key, which did not sign it


def test_an_operators_scanner_networks_file_is_checked_at_start(tmp_path: Path) -> None:
    from server import free_port

    bad = tmp_path / "nets.txt"
    bad.write_text("# ours\n198.51.100.0/24\nnot-a-network\n")
    out = subprocess.run(
        [sys.executable, "-m", "linktrack.entrypoints.cli", "serve", "--port", str(free_port()),
         "--db", f"sqlite:///{tmp_path}/a.db", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "LINKTRACK_SCANNER_NETWORKS": str(bad)},
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{bad} line 3: 'not-a-network' is not a network" in out.stderr
