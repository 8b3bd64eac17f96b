"""The HTTP front over raw sockets: clicks answered without ASGI, everything else by uvicorn.

One connection may carry clicks and API requests in any order, pipelined or
not: every answer comes back in request order, and each click is stored.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server import Server, app_client, poll

BODY = (
    "<html><body>"
    + "".join(f'<a href="https://front.example/{n}">{n}</a>' for n in range(3))
    + "</body></html>"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("front")
    server = Server(f"sqlite:///{tmp}/front.db", tmp).start()
    try:
        ws = server.workspace()
        app = app_client(server, ws["app_api_key"])
        sent = app.post(
            "/v1/send/email",
            json={"to": "f@example.com", "from": "s@example.com", "subject": "s",
                  "identifiers": {"email": "f@example.com"}, "body": BODY},
        )  # fmt: skip
        delivery_id = sent.json()["delivery_id"]
        body = app.get(f"/v1/deliveries/{delivery_id}").json()["delivery"]["body"]
        paths = [u[len(server.url) :] for u in re.findall(r'href="([^"]+/e/c/[^"]+)"', body)]
        assert len(paths) == 3
        yield {"server": server, "app": app, "key": ws["app_api_key"], "paths": paths,
               "delivery_id": delivery_id}  # fmt: skip
    finally:
        server.stop()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` whole HTTP/1.1 responses (content-length bodies) from the socket."""
    data = b""
    out: list[tuple[int, dict[str, str], bytes]] = []
    while len(out) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            length = int(headers.get("content-length", "0"))
            end = head_end + 4 + length
            if len(data) >= end:
                out.append((int(head[0].split()[1]), headers, data[head_end + 4 : end]))
                data = data[end:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(out)} of {count} responses")
        data += chunk
    return out


def _get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\nUser-Agent: front-test\r\n{extra}\r\n".encode()


def _clicks(site: dict[str, Any]) -> int:
    """Stored clicks: the person's Clicked activities."""
    found = site["app"].get("/v1/customers/f@example.com/activities").json()["activities"]
    return sum(1 for entry in found if entry["type"] == "clicked")


def _settled_clicks(site: dict[str, Any]) -> int:
    """The stored click count once the writer has caught up (unchanged for a while)."""
    last = -1
    while True:
        now = _clicks(site)
        if now == last:
            return now
        last = now
        time.sleep(1.0)


def test_clicks_and_api_requests_share_a_connection_in_order(site: dict[str, Any]) -> None:
    server, paths = site["server"], site["paths"]
    before = _settled_clicks(site)
    api = (
        f"GET /v1/deliveries/{site['delivery_id']} HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {site['key']}\r\n\r\n"
    ).encode()
    with _connect(server) as sock:
        # One request per write: click, click, API, click, API.
        answers = []
        for request in (_get(paths[0]), _get(paths[1]), api, _get(paths[2]), api):
            sock.sendall(request)
            answers += _read_responses(sock, 1)
    statuses = [status for status, _, _ in answers]
    assert statuses == [302, 302, 200, 302, 200]
    assert answers[0][1]["location"].startswith("https://front.example/0")
    assert answers[1][1]["location"].startswith("https://front.example/1")
    assert answers[3][1]["location"].startswith("https://front.example/2")
    assert b'"delivery"' in answers[2][2]
    poll(lambda: _clicks(site), lambda n: n == before + 3)


def test_pipelined_requests_are_answered_in_request_order(site: dict[str, Any]) -> None:
    server, paths = site["server"], site["paths"]
    before = _settled_clicks(site)
    api_post = (
        "POST /v1/send/email HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {site['key']}\r\nContent-Length: 2\r\n\r\n{{}}"
    ).encode()
    missing = _get("/e/c/not-a-token/0000")
    # All in one write: clicks before and after API requests and a bad link.
    burst = _get(paths[0]) + _get(paths[1]) + api_post + _get(paths[2]) + missing + _get(paths[0])
    with _connect(server) as sock:
        sock.sendall(burst)
        answers = _read_responses(sock, 6)
    statuses = [status for status, _, _ in answers]
    assert statuses == [302, 302, 400, 302, 404, 302]
    assert answers[2][2].startswith(b'{"meta":{"error":')
    locations = [answers[i][1]["location"] for i in (0, 1, 3, 5)]
    assert [loc.split("?")[0] for loc in locations] == [
        "https://front.example/0",
        "https://front.example/1",
        "https://front.example/2",
        "https://front.example/0",
    ]
    poll(lambda: _clicks(site), lambda n: n == before + 4)


def test_head_and_http_1_0_clicks(site: dict[str, Any]) -> None:
    server, paths = site["server"], site["paths"]
    with _connect(server) as sock:
        sock.sendall(f"HEAD {paths[1]} HTTP/1.1\r\nHost: t\r\n\r\n".encode() + _get(paths[2]))
        (head, head_headers, head_body), (get, _, _) = _read_responses(sock, 2)
    assert (head, get) == (302, 302)
    assert head_headers["location"].startswith("https://front.example/1")
    assert head_body == b""
    assert "date" in head_headers and head_headers["cache-control"].startswith("no-store")
    with _connect(server) as sock:
        sock.sendall(f"GET {paths[0]} HTTP/1.0\r\n\r\n".encode())
        ((status, headers, _),) = _read_responses(sock, 1)
        assert status == 302 and headers["connection"] == "close"
        assert sock.recv(1) == b""  # HTTP/1.0 without keep-alive: closed after the answer


def test_a_click_request_that_is_not_http_gets_400_and_a_closed_connection(
    site: dict[str, Any],
) -> None:
    with _connect(site["server"]) as sock:
        sock.sendall(b"GET /e/c/abc/def HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n")
        ((status, headers, _),) = _read_responses(sock, 1)
        assert status == 400 and headers["connection"] == "close"
        assert sock.recv(1) == b""


def test_an_oversized_click_head_goes_the_slow_way_and_still_redirects(
    site: dict[str, Any],
) -> None:
    before = _settled_clicks(site)
    padding = "x" * 20000
    with _connect(site["server"]) as sock:
        sock.sendall(_get(site["paths"][0], extra=f"X-Padding: {padding}\r\n"))
        ((status, headers, _),) = _read_responses(sock, 1)
    assert status == 302 and headers["location"].startswith("https://front.example/0")
    poll(lambda: _clicks(site), lambda n: n == before + 1)


def test_an_idle_click_connection_is_closed(site: dict[str, Any]) -> None:
    with _connect(site["server"]) as sock:
        sock.sendall(_get(site["paths"][0]))
        _read_responses(sock, 1)
        sock.settimeout(15)
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not by us
        assert time.monotonic() - started < 12


def test_a_click_split_across_writes(site: dict[str, Any], tmp_path: Path) -> None:
    request = _get(site["paths"][1])
    with _connect(site["server"]) as sock:
        for i in range(0, len(request), 7):
            sock.sendall(request[i : i + 7])
            time.sleep(0.002)
        ((status, headers, _),) = _read_responses(sock, 1)
    assert status == 302 and headers["location"].startswith("https://front.example/1")


def test_an_oversized_request_pipelined_behind_a_click_is_refused_after_it(
    site: dict[str, Any],
) -> None:
    before = _settled_clicks(site)
    big = 2 << 20
    post = (
        "POST /v1/send/email HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {site['key']}\r\nContent-Length: {big}\r\n\r\n"
    ).encode() + b" " * big
    with _connect(site["server"]) as sock:
        sock.sendall(_get(site["paths"][2]) + post)
        (click, refused) = _read_responses(sock, 2)
        assert click[0] == 302 and click[1]["location"].startswith("https://front.example/2")
        assert refused[0] == 413 and refused[1]["connection"] == "close"
        assert b"too large" in refused[2]
        # Closed: cleanly, or reset because the unread rest of the body was dropped.
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1) == b""
    with _connect(site["server"]) as sock:
        sock.sendall(_get(site["paths"][0]) + _get("/v1/x" + "y" * (70 << 10)))
        (click, refused) = _read_responses(sock, 2)
        assert (click[0], refused[0]) == (302, 431)
    poll(lambda: _clicks(site), lambda n: n == before + 2)


def test_a_percent_encoded_click_gets_one_answer_on_either_path(site: dict[str, Any]) -> None:
    """The fast path decodes a path as uvicorn does for the ASGI path: `/e/c/eyJr…` with a
    letter written `%65` is the same link whether or not the connection was handed over."""
    path = site["paths"][0]
    payload_start = len("/e/c/")
    encoded = path[:payload_start] + f"%{ord(path[payload_start]):02x}" + path[payload_start + 1 :]
    with _connect(site["server"]) as sock:  # a fresh connection: the fast path
        sock.sendall(_get(encoded))
        ((fast, fast_headers, _),) = _read_responses(sock, 1)
    api = f"GET /v1/workspace/settings HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {site['key']}\r\n\r\n"
    with _connect(site["server"]) as sock:  # handed to uvicorn first: the ASGI path
        sock.sendall(api.encode())
        _read_responses(sock, 1)
        sock.sendall(_get(encoded))
        ((slow, slow_headers, _),) = _read_responses(sock, 1)
    assert (fast, slow) == (302, 302)
    assert fast_headers["location"] == slow_headers["location"]


def test_an_unparsable_request_pipelined_behind_a_click_is_refused_after_it(
    site: dict[str, Any],
) -> None:
    """The click is still answered (once its append is durable), then the 400, then the close."""
    bad = b"GET /e/c/abc/def HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"
    with _connect(site["server"]) as sock:
        sock.sendall(_get(site["paths"][0]) + bad)
        (click, refused) = _read_responses(sock, 2)
        assert click[0] == 302 and click[1]["location"].startswith("https://front.example/0")
        assert refused[0] == 400 and refused[1]["connection"] == "close"
        assert sock.recv(1) == b""


def _tracebacks(server: Server) -> int:
    return (server.data_dir / "server.log").read_text(errors="replace").count("Traceback")


def test_a_request_handed_over_mid_read_sees_its_connection_close(site: dict[str, Any]) -> None:
    """A request passed on to uvicorn while the next one is half read: when the client goes,
    uvicorn's protocol learns of it and drops the answer instead of writing to a closed socket."""
    before = _tracebacks(site["server"])
    open_path = "/lnk.abcdefghjk"  # answered after a store lookup in a thread: still pending
    for _ in range(5):
        with _connect(site["server"]) as sock:
            sock.sendall(_get(site["paths"][0]) + _get(open_path) + b"GET /e/c/half")
        time.sleep(0.3)
    with _connect(site["server"]) as sock:  # still serving
        sock.sendall(_get(site["paths"][1]))
        ((status, _, _),) = _read_responses(sock, 1)
        assert status == 302
    assert _tracebacks(site["server"]) == before
