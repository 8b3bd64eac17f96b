"""kill -9 the real server under click load: every answered 302 is in the store, once."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from server import Server, app_client, poll

BODY = (
    "<html><body>"
    + "".join(f'<a href="https://crash.example/{n}">{n}</a>' for n in range(8))
    + "</body></html>"
)


def test_kill_dash_nine_loses_no_answered_click(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/crash.db"
    server = Server(db_url, tmp_path).start()
    try:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        created = app.post(
            "/v1/transactional", json={"name": "crash", "body": BODY, "subject": "s"}
        )
        message_id = created.json()["transactional_message"]["id"]
        sent = app.post(
            "/v1/send/email",
            json={"transactional_message_id": message_id, "to": "c@example.com",
                  "identifiers": {"email": "c@example.com"}},
        )  # fmt: skip
        delivery = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]
        links = re.findall(r'href="([^"]+/e/c/[^"]+)"', delivery["body"])
        assert len(links) == 8

        answered = 0
        errors = 0
        lock = threading.Lock()
        stop = threading.Event()

        def clicker(offset: int) -> None:
            nonlocal answered, errors
            with httpx.Client(follow_redirects=False, timeout=5) as web:
                n = offset
                while not stop.is_set():
                    try:
                        response = web.get(links[n % len(links)])
                    except httpx.HTTPError:
                        with lock:
                            errors += 1
                        if stop.wait(0.05):
                            return
                        continue
                    n += 1
                    if response.status_code == 302:
                        with lock:
                            answered += 1

        threads = [threading.Thread(target=clicker, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        poll(lambda: answered, lambda n: n >= 300, timeout=60)
        server.kill()  # kill -9 of the whole process group, mid-load
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        total_answered = answered
        assert total_answered >= 300

        server = Server(db_url, tmp_path).start()
        app = app_client(server, ws["app_api_key"])

        def stored() -> int:
            links_now = app.get(f"/v1/transactional/{message_id}/links").json()["links"]
            return sum(link["clicks"] for link in links_now)

        poll(stored, lambda n: n >= total_answered, timeout=60)
        # The writer may have stored every answered click before the kill: wait until
        # the restarted one has also drained the log (clicks appended without a 302).
        poll(lambda: drained(db_url, tmp_path / "events"), bool, timeout=60)
        count = stored()
        time.sleep(1.0)
        # Stable: the restarted writer replays nothing twice. A request in flight at the
        # kill may have been appended without its 302 arriving: at most one per client.
        assert stored() == count
        assert total_answered <= count <= total_answered + len(threads)
    finally:
        server.stop()


def drained(db_url: str, events: Path) -> bool:
    """The writer's checkpoint is at the end of the click log."""
    import sqlite3

    segments = sorted(events.glob("*.log"))
    end = f"{segments[-1].stem}:{segments[-1].stat().st_size}" if segments else None
    with sqlite3.connect(f"file:{db_url.removeprefix('sqlite:///')}?mode=ro", uri=True) as db:
        row = db.execute("select position from consumer_offsets where consumer = 'writer'")
        found = row.fetchone()
    return found is not None and found[0] == end
