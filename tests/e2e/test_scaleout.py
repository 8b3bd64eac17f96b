"""Scale-out: an HTTP-only tracking node appends to Redis Streams; a separate
`linktrack consume` process writes the clicks into PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from server import Server, app_client, free_port, poll


def test_tracking_node_and_consumer_over_redis_and_postgres(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    stream = f"linktrack:test:{uuid.uuid4().hex}"
    env = {
        "LINKTRACK_EVENT_LOG": "redis",
        "LINKTRACK_REDIS_URL": redis_url,
        "LINKTRACK_REDIS_STREAM": stream,
        "LINKTRACK_EMBEDDED_WORKERS": "0",
        "LINKTRACK_METRICS_ADDR": f"127.0.0.1:{(metrics_port := free_port())}",
    }
    node = Server(pg_url, tmp_path, env=env).start()
    consumer = None
    try:
        ws = node.workspace()
        app = app_client(node, ws["app_api_key"])
        created = app.post(
            "/v1/transactional",
            json={"name": "s", "subject": "s", "body": '<a href="https://scale.example/x">x</a>'},
        )
        message_id = created.json()["transactional_message"]["id"]
        sent = app.post(
            "/v1/send/email",
            json={"transactional_message_id": message_id, "to": "s@example.com",
                  "identifiers": {"email": "s@example.com"}},
        )  # fmt: skip
        body = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]["body"]
        (link,) = re.findall(r'href="([^"]+/e/c/[^"]+)"', body)
        web = httpx.Client(follow_redirects=False, timeout=10)
        for _ in range(5):
            assert web.get(link).status_code == 302
        # The node's metrics: its answers, and how long each XADD pipeline took.
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(scraped) for s in f.samples}  # fmt: skip
        assert samples[("linktrack_answered_total", (("route", "click"), ("status", "302")))] == 5
        assert 1 <= samples[("linktrack_event_log_commit_seconds_count", ())] <= 5
        # Nothing consumes yet: the clicks wait in the stream.
        metric = app.get(f"/v1/transactional/{message_id}/metrics").json()["metric"]
        assert metric["clicked"] == 0

        consumer = subprocess.Popen(
            [sys.executable, "-m", "linktrack.entrypoints.cli", "consume", "--db", pg_url,
             "--data-dir", str(tmp_path / "consumer")],
            env={**node.env}, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        links = poll(
            lambda: app.get(f"/v1/transactional/{message_id}/links").json()["links"],
            lambda ls: ls and ls[0]["clicks"] == 5,
        )
        assert links[0]["unique_clicks"] == 1
    finally:
        if consumer is not None:
            consumer.terminate()
            consumer.wait(timeout=20)
        node.stop()
        import redis

        redis.Redis.from_url(redis_url).delete(stream)
