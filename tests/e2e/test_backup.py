"""`linktrack backup` of a live server under click load, `linktrack restore` into a fresh
place: every click that got a 302 before the backup is in the restored store, and the
restored server stores new clicks after them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from server import ClickLoad, app_client, poll, running, stored_clicks

BODY = "".join(f'<a href="https://backup.example/{i}">{i}</a>' for i in range(4))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linktrack.entrypoints.cli", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_backup_under_load_restores_every_click_answered_before_it(tmp_path: Path) -> None:
    live, data = tmp_path / "live.db", tmp_path / "live-data"
    data.mkdir()
    with running(f"sqlite:///{live}", data) as server:
        app = app_client(server, server.workspace()["app_api_key"])
        sent = app.post("/v1/send/email", json={
            "to": "b@example.com", "identifiers": {"id": "b"}, "subject": "s", "body": BODY})  # fmt: skip
        body = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]["body"]
        links = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        old_url = server.url
        with ClickLoad(links) as load:
            poll(lambda: load.answered[0], lambda n: n > 300)
            before = load.answered[0]  # every one of these was durable before the backup
            done = _cli("backup", str(tmp_path / "backup"), "--db", f"sqlite:///{live}",
                        "--data-dir", str(data))  # fmt: skip
            assert done.returncode == 0, done.stderr
            time.sleep(0.3)
        assert load.answered[1] == 0
    restored, restored_data = tmp_path / "restored.db", tmp_path / "restored-data"
    done = _cli("restore", str(tmp_path / "backup"), "--db", f"sqlite:///{restored}",
                "--data-dir", str(restored_data))  # fmt: skip
    assert done.returncode == 0, done.stderr
    again = _cli("restore", str(tmp_path / "backup"), "--db", f"sqlite:///{restored}",
                 "--data-dir", str(restored_data))  # fmt: skip
    assert again.returncode == 2 and "restore into a fresh place" in again.stderr
    with running(f"sqlite:///{restored}", restored_data, log=tmp_path / "restored.log") as server:
        # The writer stores what the copied log holds past the snapshot's checkpoint.
        recovered = poll(lambda: stored_clicks(restored), lambda n: n >= before, timeout=60)
        time.sleep(1.0)
        recovered = stored_clicks(restored)
        moved = [link.replace(old_url, server.url) for link in links[:1]]  # a new port
        with ClickLoad(moved, clients=1) as more:
            poll(lambda: more.answered[0], lambda n: n >= 50)
        poll(lambda: stored_clicks(restored), lambda n: n == recovered + more.answered[0], timeout=60)
    print(f"backup under load: {before} clicks answered before it, {recovered} restored "
          f"(the rest were answered during it); {more.answered[0]} new clicks stored after")  # fmt: skip
