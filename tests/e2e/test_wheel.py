"""The wheel installs in a clean virtual environment and serves: what a user of
`pip install linktrack` gets, without this checkout on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import httpx

from server import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_in_a_clean_venv_and_serves_the_demo(tmp_path: Path) -> None:
    # Built from a copy of what the wheel is made of: setuptools writes build/ beside it.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("linktrack-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-c", str(ROOT / "constraints.txt"), str(wheel)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINKTRACK_", "PYTHON"))}
    env["LINKTRACK_TEST_RUN"] = os.environ.get("LINKTRACK_TEST_RUN", "")  # the leftover check
    serve = subprocess.Popen(
        [str(tmp_path / "venv" / "bin" / "linktrack"), "serve", "--demo", "--port", str(port),
         "--db", f"sqlite:///{tmp_path}/demo.db", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_port(port, timeout=60)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        doc = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert "/v1/send/email" in doc["paths"]
        # The dashboard's templates and static files came with the wheel.
        login = httpx.get(f"http://127.0.0.1:{port}/ui/login")
        assert login.status_code == 200 and "Log in" in login.text
        css = httpx.get(f"http://127.0.0.1:{port}/ui/static/app.css")
        assert css.status_code == 200 and "linktrack dashboard" in css.text
    finally:
        os.killpg(serve.pid, 15)
        out, _ = serve.communicate(timeout=30)
    assert "demo" in out.lower(), out[-2000:]
    # The installed package is the wheel's, not this checkout's.
    where = subprocess.run([str(python), "-c", "import linktrack; print(linktrack.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    assert str(tmp_path / "venv") in where.stdout, where.stdout
    # And the shipped scanner networks list (package data the writer reads).
    nets = subprocess.run(
        [str(python), "-c", "from linktrack.adapters import scanner_networks as s; "
         "print(len(s.load()))"], capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert nets.returncode == 0 and int(nets.stdout) >= 8, nets.stdout + nets.stderr
