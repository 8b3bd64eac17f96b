"""The fixed responses both HTTP paths send: bodies, headers, the Location of a redirect."""

from __future__ import annotations

from urllib.parse import quote

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NOT_FOUND = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<h1>Link not found</h1><p>This link is not valid. Check that it was copied completely.</p>"
)
EXPIRED = (
    b"<!doctype html><meta charset=utf-8><title>Link expired</title>"
    b"<h1>This link has expired</h1><p>Short links are kept for 90 days.</p>"
)
RETRY = b"<h1>Please try again in a moment</h1>"
TOO_LARGE = b'{"meta":{"error":"request body too large (limit 1 MiB)"}}'
MAX_BODY = 1 << 20  # 1 MiB: the largest API request body accepted

Headers = list[tuple[bytes, bytes]]

NO_STORE = (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0")
HTML: Headers = [(b"content-type", b"text/html; charset=utf-8"), NO_STORE]
GIF_HEADERS: Headers = [(b"content-type", b"image/gif"), NO_STORE, (b"pragma", b"no-cache")]
RETRY_HEADERS: Headers = [(b"retry-after", b"1"), *HTML]
JSON: Headers = [(b"content-type", b"application/json")]
TEXT: Headers = [(b"content-type", b"text/plain; charset=utf-8")]
# Characters a Location may carry as they are; anything else is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def location(href: str) -> bytes:
    """`href` as a header value: ASCII without controls, so no header can be injected."""
    if href.isascii() and href.isprintable():
        return href.encode("ascii")
    return quote(href, safe=_URL_SAFE).encode("ascii")


def redirect_headers(href: str) -> Headers:
    return [(b"location", location(href)), NO_STORE, (b"referrer-policy", b"no-referrer")]


# The status lines the click fast path writes itself.
STATUS_LINES = {
    302: b"HTTP/1.1 302 Found\r\n",
    400: b"HTTP/1.1 400 Bad Request\r\n",
    413: b"HTTP/1.1 413 Content Too Large\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
    404: b"HTTP/1.1 404 Not Found\r\n",
    503: b"HTTP/1.1 503 Service Unavailable\r\n",
}


_joined: tuple[object, bytes] = (None, b"")


def default_headers(headers: list[tuple[bytes, bytes]]) -> bytes:
    """uvicorn's default headers (Date) as bytes; uvicorn replaces the list each second."""
    global _joined
    if _joined[0] is not headers:
        _joined = (headers, b"".join(name + b": " + value + b"\r\n" for name, value in headers))
    return _joined[1]
