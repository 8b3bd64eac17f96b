"""The click fast path: uvicorn's per-connection protocol, answering clicks without ASGI.

Over 400 lines for one concept: a connection's parsing, its clicks' answers in
request order, and its hand-over to uvicorn share state that splitting would
pass around on every click.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import Any, Final
from urllib.parse import unquote

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from linktrack.adapters.eventlog import EventLogError
from linktrack.core.tokens import ClickToken, KeyRing
from linktrack.entrypoints.http.access import clock
from linktrack.entrypoints.http.front import TrackingFront
from linktrack.entrypoints.http.responses import (
    HTML,
    JSON,
    MAX_BODY,
    NOT_FOUND,
    RETRY,
    RETRY_HEADERS,
    STATUS_LINES,
    TEXT,
    TOO_LARGE,
    Headers,
    default_headers,
    redirect_headers,
)
from linktrack.entrypoints.http.telemetry import Answered, answered_counts, tls_spoken
from linktrack.service.clicks import Reload, peer_of

_CLICK_STARTS = (b"GET /e/c/", b"HEAD /e/c/")
MAX_HEAD = 16 << 10  # a click's request line and headers; more is not a click
MAX_REQUEST_HEAD = 64 << 10  # any request parsed here (pipelined behind a click)
HEAD_TOO_LARGE = b'{"meta":{"error":"request line and headers too large (limit 64 KiB)"}}'
IDLE_SECONDS = 5.0  # keep-alive: an idle click connection is closed after this


def installed_front(config: Config) -> TrackingFront | None:
    """The front whose clicks the fast path answers: uvicorn's app, loaded now if need be.

    None when uvicorn wrapped the app (proxy headers, trace logging): every click
    then takes the slow path, so `linktrack serve` refuses to start that way.
    """
    if not config.loaded:
        config.load()
    app = config.loaded_app
    return app if isinstance(app, TrackingFront) else None


class Handover(enum.Enum):
    """Who answers the requests of a click connection; it only moves down this list."""

    CLICKS = enum.auto()
    """This protocol parses every request and answers the clicks itself."""
    DIVERTED = enum.auto()
    """A request went to uvicorn's protocol: all later ones do too, once the answers owed
    are out. The parser still runs while a request is half read."""
    SWITCHED = enum.auto()
    """uvicorn's protocol owns the transport: the data goes to it directly."""
    REFUSED = enum.auto()
    """A request was too large: its refusal follows the answers owed, then the connection
    closes; what else arrives is dropped."""


# Read for every click: a member looked up on its Enum class costs ~60 ns (Python 3.11).
_CLICKS = Handover.CLICKS
_REFUSED = Handover.REFUSED


class ClickProtocol(asyncio.Protocol):
    """An HTTP/1.1 connection that carries clicks, answered without ASGI.

    uvicorn creates one per connection (it is `Config.http`). While requests
    are `GET`/`HEAD /e/c/…` it parses them itself (httptools) and writes each
    302 from the append's done-callback, in request order. At the first
    request that is anything else it hands the connection to uvicorn's own
    protocol, the way uvicorn hands one to its WebSocket protocol: the bytes
    from that request on are given to the new protocol, which then owns the
    transport. Only a request pipelined behind a click in the same read is
    rebuilt from its parsed parts (browsers do not pipeline). `state` says
    where the connection is in that hand-over.
    """

    def __init__(
        self,
        config: Config,
        server_state: Any,  # uvicorn's ServerState: its types admit only its own protocols
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.front = installed_front(config)
        self.access = self.front.access if self.front is not None else None
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.peer: str | None = None
        self.state = Handover.CLICKS
        # (status, body) for a request parsed here that is too large: REFUSED after the read
        self.refusal: tuple[int, bytes] | None = None
        # uvicorn is stopping: answer what is pending, then close. Not a Handover state:
        # the server may stop in any of them.
        self.closing = False
        self.last_active = 0.0
        self.answers: deque[_Answer] = deque()  # clicks not yet answered, in request order
        self.delegate: HttpToolsProtocol | None = None
        self.held: list[bytes] = []  # data for the delegate, held while clicks are pending
        # Per request
        self.url = b""
        self.ua = b""
        self.forwarded: bytes | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_size = 0
        self.body_size = 0
        self.in_message = False
        self.fast = True
        self.rebuilt: list[bytes] = []  # non-click requests parsed here, for the delegate

    # -- asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)
        self.peer = peer_of(transport.get_extra_info("peername"))
        self.last_active = self.loop.time()
        _watch_idle(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self.parser = None  # type: ignore[assignment]
        if self.delegate is not None:  # not switched yet: its request must see the close too
            self.delegate.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        if self.state is _REFUSED:
            return  # the connection ends after the refusal is written
        if self.held or (
            not self.in_message and self.state is _CLICKS and not data.startswith(_CLICK_STARTS)
        ):
            if data[:1] == b"\x16" and not self.held and self.config.ssl is None:  # TLS hello
                tls_spoken(self.loop.time())
            self._to_delegate(data)  # from a request's first byte: uvicorn's from here on
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._refuse(400, b"Invalid HTTP request received.", TEXT)
            return
        if self.rebuilt:
            rebuilt, self.rebuilt = self.rebuilt, []
            self._to_delegate(b"".join(rebuilt))
        if self.refusal is not None:
            self._refuse(*self.refusal, JSON)

    def shutdown(self) -> None:
        """uvicorn is stopping: close now if idle, else after the pending answers."""
        self.closing = True
        if not self.answers and self.delegate is None:
            self.transport.close()

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        self.in_message = True
        self.fast = True
        self.url = b""
        self.ua = b""
        self.forwarded = None
        self.headers = []
        self.body = []
        self.head_size = 0
        self.body_size = 0

    def on_url(self, url: bytes) -> None:
        self.head_size += len(url)
        if self.head_size > MAX_REQUEST_HEAD:
            self.refusal = (431, HEAD_TOO_LARGE)
            return
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_REQUEST_HEAD:
            self.refusal = (431, HEAD_TOO_LARGE)
            return
        self.headers.append((name, value))
        if len(name) == 10 and name.lower() == b"user-agent":
            self.ua = value
        elif len(name) == 15 and name.lower() == b"x-forwarded-for":
            self.forwarded = value

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.fast = (
            self.url.startswith(b"/e/c/")
            and parser.get_method() in (b"GET", b"HEAD")
            and not parser.should_upgrade()
            and self.state is _CLICKS
            and self.front is not None
            and self.front.loop is not None
        )
        if self.head_size > MAX_HEAD or self.refusal is not None:
            self.fast = False

    def on_body(self, body: bytes) -> None:
        if self.fast or self.refusal is not None:
            return  # a GET's body means nothing to a click
        self.body_size += len(body)
        if self.body_size > MAX_BODY:
            self.refusal = (413, TOO_LARGE)
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        if self.refusal is not None:
            return
        if self.fast:
            self._click()
        else:
            self.state = Handover.DIVERTED
            self.rebuilt.append(self._rebuild())

    # -- clicks

    def _click(self) -> None:
        front = self.front
        assert front is not None  # checked in on_headers_complete
        parser = self.parser
        head = parser.get_method() == b"HEAD"
        keep_alive = parser.should_keep_alive()
        path = self.url.decode("latin-1").partition("?")[0]
        if "%" in path:  # as uvicorn decodes it for the ASGI path: one URL, one answer
            path = unquote(path)
        token = front.clicks.verify_click(path)
        answer = _Answer(self, head, keep_alive)
        if self.access is not None:  # what its access line shows
            answer.request = (clock(), self.url, self.ua, self.forwarded)
        self.answers.append(answer)
        if token is None:
            front.answered[_CLICK_404] += 1
            answer.write(404, HTML, NOT_FOUND)
        elif isinstance(token, Reload):
            task = self.loop.create_task(self._click_after_reload(front, answer, path))
            task.add_done_callback(self.server_state.tasks.discard)
            self.server_state.tasks.add(task)
        else:
            self._append(front, answer, token)

    def _append(self, front: TrackingFront, answer: _Answer, token: ClickToken) -> None:
        method = "HEAD" if answer.head else "GET"
        event = front.clicks.click_event(token, method, self.ua, self.forwarded, self.peer)
        answer.href = token.href
        answer.answered = front.answered
        try:
            front.append_then(event, self.loop, answer.appended)
        except (EventLogError, OSError):
            front.answered[_CLICK_503] += 1
            answer.write(503, RETRY_HEADERS, RETRY)

    async def _click_after_reload(self, front: TrackingFront, answer: _Answer, path: str) -> None:
        token = await front.clicks.verify_after_reload(KeyRing.verify_click, path)
        if token is None:
            front.answered[_CLICK_404] += 1
            answer.write(404, HTML, NOT_FOUND)
        else:
            self._append(front, answer, token)

    def answer_ready(self) -> None:
        """Write the answers that are ready, in request order, then go on."""
        answers = self.answers
        transport = self.transport
        while answers:
            response = answers[0].response
            if response is None:
                break
            answer = answers.popleft()
            self.server_state.total_requests += 1
            if transport.is_closing():
                continue
            transport.write(response)
            if not answer.keep_alive:
                transport.close()
        if answers or transport.is_closing():
            return
        if self.closing and not self.held:
            transport.close()
        elif self.held:
            held, self.held = self.held, []
            transport.resume_reading()
            self._to_delegate(b"".join(held))

    # -- everything else: uvicorn's protocol

    def _rebuild(self) -> bytes:
        """A request parsed here, as bytes for the delegate (body by length, not chunks)."""
        parser = self.parser
        body = b"".join(self.body)
        lines = [parser.get_method(), b" ", self.url, b" HTTP/", parser.get_http_version().encode()]
        lines.append(b"\r\n")
        for name, value in self.headers:
            lower = name.lower()
            if lower in (b"content-length", b"transfer-encoding", b"expect"):
                continue
            lines += [name, b": ", value, b"\r\n"]
        lines += [b"content-length: %d\r\n\r\n" % len(body), body]
        return b"".join(lines)

    def _to_delegate(self, data: bytes) -> None:
        """Give `data` to uvicorn's protocol once the clicks before it are answered; at a
        request boundary, give it the connection too."""
        if self.answers:
            self.held.append(data)
            self.transport.pause_reading()
            return
        if self.state is Handover.CLICKS:
            self.state = Handover.DIVERTED
        delegate = self.delegate
        if delegate is None:
            self.server_state.connections.discard(self)
            delegate = self.delegate = HttpToolsProtocol(
                self.config, self.server_state, self.app_state, self.loop
            )
            delegate.connection_made(self.transport)
        delegate.data_received(data)
        if self.state is Handover.DIVERTED and not self.in_message:
            self.state = Handover.SWITCHED
            self.transport.set_protocol(delegate)

    def _refuse(self, status: int, body: bytes, headers: Headers) -> None:
        """Refuse a request parsed here after the answers owed on the connection; then close."""
        self.state = Handover.REFUSED
        self.transport.pause_reading()
        refusal = _Answer(self, head=False, keep_alive=False)
        refusal.method = "-"
        refusal.request = (clock(), self.url or b"-", self.ua, self.forwarded)
        self.answers.append(refusal)
        refusal.write(status, headers, body)


# The keys of TrackingFront.answered the fast path adds to (telemetry.answered_counts).
_CLICK_302: Final = ("click", 302)
_CLICK_404: Final = ("click", 404)
_CLICK_503: Final = ("click", 503)
_NOT_COUNTED: Final = answered_counts()  # until _append sets the front's; refusals never append


class _Answer:
    """The response to one click, ready once its append is durable."""

    __slots__ = ("answered", "conn", "head", "href", "keep_alive", "method", "request", "response")

    def __init__(self, conn: ClickProtocol, head: bool, keep_alive: bool) -> None:
        self.conn = conn
        self.head = head
        self.method = "HEAD" if head else "GET"
        self.keep_alive = keep_alive
        self.href = ""
        self.response: bytes | None = None
        self.answered: Answered = _NOT_COUNTED
        # (read at, target, User-Agent, X-Forwarded-For) when the access log is on
        self.request: tuple[float, bytes, bytes, bytes | None] | None = None

    def appended(self, error: BaseException | None) -> None:
        if error is not None:
            self.answered[_CLICK_503] += 1
            self.write(503, RETRY_HEADERS, RETRY)
        else:
            self.answered[_CLICK_302] += 1
            self.write(302, redirect_headers(self.href), b"")

    def write(self, status: int, headers: Headers, body: bytes) -> None:
        conn = self.conn
        lines = [STATUS_LINES[status], default_headers(conn.server_state.default_headers)]
        for name, value in headers:
            lines += [name, b": ", value, b"\r\n"]
        lines.append(b"content-length: %d\r\n" % len(body))
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines += [b"\r\n", b"" if self.head else body]
        self.response = b"".join(lines)
        conn.answer_ready()
        request = self.request
        if request is not None and conn.access is not None:
            started, target, ua, forwarded = request
            size = 0 if self.head else len(body)
            conn.access.add(started, conn.peer, forwarded, self.method, target, status, size, ua)


def _watch_idle(conn: ClickProtocol) -> None:
    """Close click connections idle for IDLE_SECONDS: one timer per connection check."""

    def check() -> None:
        transport = conn.transport
        if conn.delegate is not None or transport.is_closing():
            return  # uvicorn's protocol keeps its own keep-alive timer
        idle = conn.loop.time() - conn.last_active
        if idle >= IDLE_SECONDS and not conn.answers and not conn.in_message:
            transport.close()
            return
        conn.loop.call_later(max(IDLE_SECONDS - idle, 0.5), check)

    conn.loop.call_later(IDLE_SECONDS, check)
