"""What every App API and Track API handler shares: answers, errors, auth and parsing.

A handler is a sync method `(self, request)` or `(self, request, body)`;
`endpoint` and `with_body` make it a Starlette endpoint that runs it in a
thread and turns every expected failure into `{"meta":{"error":"…"}}`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.errors import InputError, NotFoundError, StoreError, Unprocessable

Handler = Callable[[Request], Awaitable[Response]]
Resource = TypeVar("Resource")  # the object whose method a handler is
MAX_DEPTH: Final = 32  # how deep objects and arrays may nest in a request body


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class ApiError(Exception):
    """A refusal with no type in `linktrack.core.errors` (401, 503), with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, *, track: bool = False) -> JSON:
    """`{"meta":{"error":"…"}}`; on the Track API also Customer.io's `"errors":["…"]`."""
    meta: dict[str, Any] = {"error": message}
    if track:
        meta["errors"] = [message]
    return JSON({"meta": meta}, status_code=status)


def on_track_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def body_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise InputError("request body must be JSON")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"request body is not valid JSON: {exc}") from None
    if b"\\u0000" in raw and _has_nul(data):
        # Text columns refuse it on PostgreSQL: a clear 422, not a failed write.
        raise Unprocessable("request body must not contain NUL characters (\\u0000)")
    if _nests_deeper(data, MAX_DEPTH):
        # What is stored is serialised again (orjson stops at 254 levels) and rendered.
        raise Unprocessable(f"request body nests objects and arrays deeper than {MAX_DEPTH} levels")
    return data


def _nests_deeper(data: Any, limit: int) -> bool:
    """Whether objects and arrays in `data` nest more than `limit` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _has_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_nul(item) for item in data)
    return False


def positive_int(value: str, name: str) -> int:
    """`value` (a path or query parameter) as an int: a bad id is 404, anything else 400."""
    number = model.parse_number(value)
    if number is None:
        refusal = NotFoundError if name.endswith("id") else InputError
        raise refusal(f"{name} must be a positive integer")
    return number


# -- auth ------------------------------------------------------------------------------


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "missing App API key: send Authorization: Bearer <app api key>")
    return key.strip()


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    try:
        if scheme.lower() != "basic":
            raise ValueError
        site_id, _, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401, "missing Track API credentials: send Basic auth with site_id:track_api_key"
        ) from None
    return site_id, key


def app_workspace(engine: store.Engine, request: Request) -> model.Workspace:
    """The workspace whose App API key the request carries (Bearer)."""
    ws = store.workspace_by_api_key(engine, "app", _bearer(request))
    if ws is None:
        raise ApiError(401, "App API key not recognised")
    return ws


def track_workspace(engine: store.Engine, request: Request) -> model.Workspace:
    """The workspace whose site id and Track API key the request carries (Basic)."""
    site_id, key = _basic(request)
    ws = store.workspace_by_api_key(engine, "track", key)
    if ws is None or ws.site_id != site_id:
        raise ApiError(401, "Track API credentials not recognised")
    return ws


# -- handlers into endpoints -------------------------------------------------------------


def endpoint(
    method: Callable[[Resource, Request], Response],
) -> Callable[[Resource, Request], Awaitable[Response]]:
    """A Starlette endpoint from a sync handler `method(self, request)`."""

    async def run(self: Resource, request: Request) -> Response:
        return await _answer(run_in_threadpool(method, self, request), on_track_api(request))

    return run


def with_body(
    method: Callable[[Resource, Request, Any], Response],
) -> Callable[[Resource, Request], Awaitable[Response]]:
    """A Starlette endpoint from a sync handler `method(self, request, json_body)`."""

    async def call(self: Resource, request: Request) -> Response:
        data = await body_json(request)
        return await run_in_threadpool(method, self, request, data)

    async def run(self: Resource, request: Request) -> Response:
        return await _answer(call(self, request), on_track_api(request))

    return run


async def _answer(work: Awaitable[Response], track: bool) -> Response:
    """The handler's response, or the JSON error its expected failure stands for.

    The status of each error type is its `.status` (see `linktrack.core.errors`).
    """
    try:
        return await work
    except (ApiError, InputError, StoreError) as exc:
        return error(exc.status, str(exc), track=track)


# -- pages of a list ----------------------------------------------------------------

LIST_LIMIT: Final = 100  # entries of a list's page, at most and by default
NOT_A_START: Final = "start must be the next value of a previous page"
Item = TypeVar("Item")


def page_request(
    request: Request, *, most: int = LIST_LIMIT, default: int = LIST_LIMIT
) -> tuple[int, str | None]:
    """(limit, start) of a list request: a limit out of range is a 400."""
    q = request.query_params
    limit = positive_int(q.get("limit", str(default)), "limit")
    if not 1 <= limit <= most:
        raise InputError(f"limit must be between 1 and {most}")
    return limit, q.get("start") or None


def id_start(start: str | None) -> int | None:
    """A page's `start` where pages are cut by id: the id its entries are below (422 if
    it is not one: the document allows any string)."""
    if start is None:
        return None
    if not (start.isascii() and start.isdigit() and len(start) <= 18):
        raise Unprocessable(NOT_A_START)
    return int(start)


def page(found: list[Item], limit: int, next_of: Callable[[Item], str]) -> tuple[list[Item], str]:
    """The first `limit` of `found` (asked for with limit + 1) and the next page's start
    (`""` when there is none)."""
    return found[:limit], next_of(found[limit - 1]) if len(found) > limit else ""
