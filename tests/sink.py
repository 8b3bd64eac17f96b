"""A real HTTP webhook receiver on loopback: records requests, answers as scripted."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the sink answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookSink:
    """`with WebhookSink(secret, statuses=[500, 500]) as sink:` answers 500 twice, then 200."""

    def __init__(self, secret: str = "sink-secret", statuses: list[int] | None = None) -> None:
        self.secret = secret
        self.statuses = list(statuses or [])
        self.received: list[Received] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink._lock:
                    status = sink.statuses.pop(0) if sink.statuses else 200
                    sink.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                 body, status)
                    )  # fmt: skip
                answer = b'{"ok":true}' if status < 400 else b'{"error":"refused by the sink"}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/messages"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        """What a linktrack server needs to post here (with quick retries)."""
        return {
            "LINKTRACK_WEBHOOK_URL": self.url,
            "LINKTRACK_WEBHOOK_SECRET": self.secret,
            "LINKTRACK_DELIVERY_BACKOFF": "0.2",
        }

    def verified(self, item: Received, prefix: str = "x-linktrack-") -> bool:
        """Does the request carry a valid signature over `v0:<timestamp>:<body>`? (Reporting
        webhooks sign as Customer.io does: `prefix="x-cio-"`.)"""
        timestamp = item.headers[f"{prefix}timestamp"]
        expected = hmac.new(
            self.secret.encode(), b"v0:" + timestamp.encode() + b":" + item.body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, item.headers[f"{prefix}signature"])

    def wait(self, count: int = 1, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} of {count} webhook calls arrived")
            time.sleep(0.05)

    def accepted(self) -> list[Received]:
        """The calls answered with a 2xx, in order."""
        with self._lock:
            return [r for r in self.received if r.status < 300]
