"""The HTTP front: a lean RSGI click/open path, everything else bridged to the API.

The click path is a few obvious lines: verify the signature with keys held in
memory (no database read), append the click to the durable event log, answer
302. Routing frameworks cost several times the whole request here
(../shared/PERF-NOTES.md), so this path does not go through one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar
from urllib.parse import unquote

import orjson

from linktrack.adapters.eventlog import EventLogError
from linktrack.core.tokens import KeyRing, TokenError, UnknownKeyError

T = TypeVar("T")
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NOT_FOUND = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<h1>Link not found</h1><p>This link is not valid. Check that it was copied completely.</p>"
)
_NO_STORE = ("cache-control", "no-store, no-cache, must-revalidate, max-age=0")
_HTML = [("content-type", "text/html; charset=utf-8"), _NO_STORE]
_GIF_HEADERS = [("content-type", "image/gif"), _NO_STORE, ("pragma", "no-cache")]
MAX_BODY = 1 << 20  # 1 MiB: the largest API request body accepted


_RETRY = [("retry-after", "1"), *_HTML]
_dumps = orjson.dumps
_now = time.time


class _Reload:
    """The token names a key this process does not hold yet: reload, then verify."""


RELOAD = _Reload()


class TrackingFront:
    """RSGI application: `/e/c/…`, `/e/o/…` and short links here, the rest to `api`."""

    def __init__(self, services: Any, api: ASGIApp) -> None:
        self.services = services
        self.api = api
        self.log = services.event_log
        self.keys = services.keys
        # Event ids: unique per process start without a syscall per click.
        self._prefix = f"{os.getpid():x}{time.time_ns():x}-"
        self._counter = itertools.count()
        self._trust_proxy = services.config.trust_proxy
        self._loop: asyncio.AbstractEventLoop | None = None  # set by granian at start

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.services.start(loop)
        # Everything built so far lives as long as the process: move it out of
        # the collector's sight. Otherwise each full collection walks the whole
        # heap (SQLAlchemy, Starlette, Liquid) and stalls clicks for tens of
        # milliseconds (p99 at full load: ~40 ms with, ~6 ms without).
        gc.collect()
        gc.freeze()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.services.stop()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        path = scope.path
        if path.startswith("/e/c/"):
            await self.click(scope, protocol, path)
        elif path.startswith("/e/o/"):
            await self.open(scope, protocol, path)
        elif path.startswith("/lnk.") and self.services.shortlinks is not None:
            await self.short(scope, protocol, path)
        else:
            await self.bridge(scope, protocol)

    def _add_origin(self, fields: dict[str, Any], scope: Any) -> None:
        """Where the request came from: the proxy's X-Forwarded-For if trusted, else the
        socket peer as granian gives it ("host:port"); the writer takes the host apart,
        off the click path."""
        if self._trust_proxy:
            forwarded = scope.headers.get("x-forwarded-for")
            if forwarded:
                fields["ip"] = str(forwarded).split(",")[0].strip()
                return
        fields["peer"] = scope.client

    def _open_event(self, scope: Any, kid: str, delivery: str) -> bytes:
        fields = {
            "id": f"{self._prefix}{next(self._counter)}",
            "type": "open",
            "kid": kid,
            "d": delivery,
            "ts": _now(),
            "ua": scope.headers.get("user-agent") or "",
            "m": scope.method,
        }
        self._add_origin(fields, scope)
        return _dumps(fields)

    def _verify_now(
        self, verify: Callable[[KeyRing, str, str], T], path: str
    ) -> T | _Reload | None:
        """The token of `/e/x/{payload}/{signature}`; None if not ours, RELOAD if the key is new."""
        parts = path.split("/")
        if len(parts) != 5:
            return None
        try:
            return verify(self.keys.ring, parts[3], parts[4])
        except UnknownKeyError:
            return RELOAD
        except TokenError:
            return None

    async def _verify_after_reload(
        self, verify: Callable[[KeyRing, str, str], T], path: str
    ) -> T | None:
        """Verify again once the keys are reloaded (a workspace created or a key rotated)."""
        if not await asyncio.to_thread(self.keys.reload_if_due):
            return None
        token = self._verify_now(verify, path)
        return None if isinstance(token, _Reload) else token

    async def _verify(self, verify: Callable[[KeyRing, str, str], T], path: str) -> T | None:
        token = self._verify_now(verify, path)
        if isinstance(token, _Reload):
            return await self._verify_after_reload(verify, path)
        return token

    async def click(self, scope: Any, protocol: Any, path: str) -> None:
        """Verify, append durably, then redirect — never before the append.

        The hot path, written out flat: no helper coroutines and no generic
        keyword-merging event builder (each cost about a microsecond per click).
        """
        method = scope.method  # each scope attribute is a conversion from Rust: read once
        if method not in ("GET", "HEAD"):
            protocol.response_bytes(405, [("allow", "GET, HEAD"), *_HTML], b"")
            return
        token = self._verify_now(KeyRing.verify_click, path)
        if isinstance(token, _Reload):
            token = await self._verify_after_reload(KeyRing.verify_click, path)
        if token is None:
            protocol.response_bytes(404, _HTML, NOT_FOUND)
            return
        fields = {
            "id": f"{self._prefix}{next(self._counter)}",
            "type": "click",
            "kid": token.kid,
            "d": token.delivery_id,
            "l": token.link_id,
            "p": token.position,
            "h": token.href,
            "ts": _now(),
            "ua": scope.headers.get("user-agent") or "",
            "m": method,
        }
        self._add_origin(fields, scope)
        event = _dumps(fields)
        try:
            await self.log.append(event, self._loop)
        except (EventLogError, OSError):
            protocol.response_bytes(503, _RETRY, b"<h1>Please try again in a moment</h1>")
            return
        protocol.response_empty(
            302, [("location", token.href), _NO_STORE, ("referrer-policy", "no-referrer")]
        )

    async def open(self, scope: Any, protocol: Any, path: str) -> None:
        token = await self._verify(KeyRing.verify_open, path)
        if token is None:
            protocol.response_bytes(404, _HTML, NOT_FOUND)
            return
        # An open pixel must still render: on a log failure the open is lost, not the page.
        with contextlib.suppress(EventLogError, OSError):
            await self.log.append(self._open_event(scope, token.kid, token.delivery_id))
        protocol.response_bytes(200, _GIF_HEADERS, GIF)

    async def short(self, scope: Any, protocol: Any, path: str) -> None:
        """`/lnk.<code>` on the short domain: resolve, then exactly as a click."""
        target = await asyncio.to_thread(self.services.shortlinks.resolve, path[5:])
        if target is None or target.expired:
            status = 404
            page = (
                b"<!doctype html><meta charset=utf-8><title>Link expired</title>"
                b"<h1>This link has expired</h1><p>Short links are kept for 90 days.</p>"
                if target is not None
                else NOT_FOUND
            )
            protocol.response_bytes(status, _HTML, page)
            return
        await self.click(scope, protocol, target.path)

    async def bridge(self, scope: Any, protocol: Any) -> None:
        """Run the ASGI API app for this request (bodies are small JSON: buffered)."""
        length = scope.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            protocol.response_bytes(
                413,
                [("content-type", "application/json")],
                b'{"meta":{"error":"request body too large (limit 1 MiB)"}}',
            )
            return
        body = await protocol()
        if len(body) > MAX_BODY:
            protocol.response_bytes(
                413,
                [("content-type", "application/json")],
                b'{"meta":{"error":"request body too large (limit 1 MiB)"}}',
            )
            return
        host, _, port = str(scope.client).rpartition(":")
        path = scope.path
        asgi_scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": scope.http_version,
            "method": scope.method,
            "scheme": scope.scheme,
            "path": unquote(path),
            "raw_path": path.encode("latin-1", "replace"),
            "query_string": scope.query_string.encode("latin-1", "replace"),
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
                for k, v in scope.headers.items()
            ],
            "client": (host.strip("[]"), int(port) if port.isdigit() else 0),
            "server": None,
            "state": {},
        }
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await protocol.client_disconnect()
            return {"type": "http.disconnect"}

        status = 500
        headers: list[tuple[str, str]] = []
        stream: Any = None

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers, stream
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if stream is None and not more:
                    protocol.response_bytes(status, headers, chunk)
                    return
                if stream is None:
                    stream = protocol.response_stream(status, headers)
                if chunk:
                    await stream.send_bytes(chunk)

        await self.api(asgi_scope, receive, send)


def create_app() -> TrackingFront:
    """Granian's app factory: configuration comes from `LINKTRACK_*` variables."""
    from linktrack.bootstrap import Config, build
    from linktrack.entrypoints.api import build_api

    services = build(Config.from_env())
    return TrackingFront(services, build_api(services))
