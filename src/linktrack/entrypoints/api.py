"""The App API (Bearer) and Track API (Basic), Customer.io-shaped, on Starlette.

Handlers only translate: parse and validate the request, call the store or a
service, shape the answer. Every error leaves as `{"meta":{"error":"…"}}` with
a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.errors import InputError, StoreError
from linktrack.core.liquid import TemplateError, compile_liquid
from linktrack.core.settings import SettingsError, TrackingSettings
from linktrack.entrypoints import api_channels, api_kinds
from linktrack.entrypoints.openapi import OPENAPI
from linktrack.service.containers import content_view, parse_content
from linktrack.service.send_requests import parse_send

Handler = Callable[[Request], Awaitable[Response]]
_PERIODS = ("hours", "days", "weeks", "months")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> JSON:
    return JSON({"meta": {"error": message}}, status_code=status)


async def body_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise ApiError(400, "request body must be JSON")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None


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


def _int(value: str, name: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise ApiError(404 if name.endswith("id") else 400, f"{name} must be a positive integer")
    return int(value)


class Api:
    """Holds the services; each method is one endpoint."""

    def __init__(self, services: Any) -> None:
        self.s = services
        self.engine = services.engine

    # -- auth ------------------------------------------------------------------------

    def app_workspace(self, request: Request) -> model.Workspace:
        ws = store.workspace_by_api_key(self.engine, "app", _bearer(request))
        if ws is None:
            raise ApiError(401, "App API key not recognised")
        return ws

    def track_workspace(self, request: Request) -> model.Workspace:
        site_id, key = _basic(request)
        ws = store.workspace_by_api_key(self.engine, "track", key)
        if ws is None or ws.site_id != site_id:
            raise ApiError(401, "Track API credentials not recognised")
        return ws

    # -- Track API ---------------------------------------------------------------------

    def identify(self, request: Request, data: Any) -> JSON:
        ws = self.track_workspace(request)
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object of attributes")
        person = store.upsert_person(self.engine, ws.id, request.path_params["identifier"], data)
        return JSON(_person(person))

    # -- messages ----------------------------------------------------------------------

    def create_transactional(self, request: Request, data: Any) -> JSON:
        ws = self.app_workspace(request)
        fields = _message_fields(data, creating=True)
        message = store.create_message(self.engine, ws.id, kind="transactional", **fields)
        return JSON({"transactional_message": _message(message)}, status_code=201)

    def list_transactional(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        found = store.list_messages(self.engine, ws.id, kind="transactional")
        return JSON({"messages": [_message(m) for m in found]})

    def get_transactional(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        return JSON({"transactional_message": _message(self._transactional(ws, request))})

    def update_transactional(self, request: Request, data: Any) -> JSON:
        ws = self.app_workspace(request)
        message = self._transactional(ws, request)
        fields = _message_fields(data, creating=False)
        updated = store.update_message(self.engine, ws.id, message.id, **fields)
        return JSON({"transactional_message": _message(updated)})

    def _transactional(self, ws: model.Workspace, request: Request) -> model.Message:
        message_id = _int(request.path_params["id"], "message id")
        message = store.get_message(self.engine, ws.id, message_id)
        if message is None or message.kind != "transactional":
            raise ApiError(404, f"no transactional message {message_id}")
        return message

    # -- sending -----------------------------------------------------------------------

    def send(self, request: Request, data: Any) -> JSON:
        ws = self.app_workspace(request)
        channel = request.path_params["channel"]
        if channel not in model.CHANNELS:
            raise ApiError(
                404, f"no such endpoint: channels are {', '.join(sorted(model.CHANNELS))}"
            )
        result = self.s.sender.send(ws, parse_send(data, channel))
        return JSON(
            {
                "delivery_id": result.delivery_id,
                "queued_at": int(result.queued_at),
                "warnings": result.warnings,
            }
        )

    def get_delivery(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        delivery = store.get_delivery(self.engine, ws.id, request.path_params["delivery_id"])
        if delivery is None:
            raise ApiError(404, "no such delivery in this workspace")
        return JSON({"delivery": _delivery(delivery)})

    def outbox(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        limit = min(_int(request.query_params.get("limit", "50"), "limit"), 500)
        found = store.list_deliveries(self.engine, ws.id, status="outbox", limit=limit)
        return JSON({"deliveries": [_delivery(d) for d in found]})

    # -- settings and keys ---------------------------------------------------------------

    def get_settings(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        return JSON(self._settings_view(self.s.sender.settings_of(ws)))

    def put_settings(self, request: Request, data: Any) -> JSON:
        ws = self.app_workspace(request)
        if not isinstance(data, dict):
            raise ApiError(400, "settings must be a JSON object")
        try:
            settings = TrackingSettings.from_dict(data, base=self.s.sender.settings_of(ws))
            for name, value in settings.url_params.items():
                compile_liquid(value, f"URL parameter {name}")
        except (SettingsError, TemplateError) as exc:
            raise ApiError(400, str(exc)) from None
        store.put_settings(self.engine, ws.id, settings.to_dict())
        return JSON(self._settings_view(settings))

    @staticmethod
    def _settings_view(settings: TrackingSettings) -> dict[str, Any]:
        return {**settings.to_dict(), "warnings": settings.warnings()}

    def list_keys(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        keys = store.workspace_signing_keys(self.engine, ws.id)
        return JSON(
            {
                "signing_keys": [
                    {"kid": k.kid, "created_at": k.created_at, "retired_at": k.retired_at}
                    for k in keys
                ]
            }
        )

    def rotate_key(self, request: Request, data: Any) -> JSON:
        ws = self.app_workspace(request)
        kid = store.rotate_signing_key(self.engine, ws.id)
        self.s.keys.reload()
        return JSON({"kid": kid}, status_code=201)

    def retire_key(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        store.retire_signing_key(self.engine, ws.id, request.path_params["kid"])
        self.s.keys.reload()
        return JSON({"retired": request.path_params["kid"]})

    # -- reports -------------------------------------------------------------------------

    def message_metrics(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        return self.metrics_of([self._transactional(ws, request).id])

    def link_metrics(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        return self.link_metrics_of(request, [self._transactional(ws, request).id])

    def top_links(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        return self.top_links_of([self._transactional(ws, request).id])

    # The three report shapes, over any messages: one transactional message, or
    # the actions of a campaign, broadcast or newsletter (api_kinds).

    def metrics_of(self, message_ids: list[int]) -> JSON:
        with self.engine.connect() as conn:
            return JSON({"metric": store.message_metrics(conn, message_ids)})

    def link_metrics_of(self, request: Request, message_ids: list[int]) -> JSON:
        q = request.query_params
        period = q.get("period", "days")
        if period not in _PERIODS:
            raise ApiError(400, f"period must be one of {', '.join(_PERIODS)}")
        steps = _int(q.get("steps", "7"), "steps")
        if not 1 <= steps <= 1000:
            raise ApiError(400, "steps must be between 1 and 1000")
        unique = q.get("unique", "false").lower()
        if unique not in ("true", "false"):
            raise ApiError(400, "unique must be true or false")
        with self.engine.connect() as conn:
            return JSON(
                store.link_series(
                    conn,
                    message_ids,
                    period,  # type: ignore[arg-type]  # checked against _PERIODS above
                    steps,
                    unique == "true",
                    time.time(),
                )
            )

    def top_links_of(self, message_ids: list[int]) -> JSON:
        with self.engine.connect() as conn:
            return JSON({"links": store.top_links(conn, message_ids)})

    def activities(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        person = store.get_person(self.engine, ws.id, request.path_params["identifier"])
        if person is None:
            raise ApiError(404, "no such person in this workspace")
        found = store.person_activities(self.engine, ws.id, person.id)
        return JSON({"activities": [_activity(a) for a in found]})

    def get_customer(self, request: Request) -> JSON:
        ws = self.app_workspace(request)
        person = store.get_person(self.engine, ws.id, request.path_params["identifier"])
        if person is None:
            raise ApiError(404, "no such person in this workspace")
        return JSON({"customer": _person(person)})

    def export_clicks(self, request: Request) -> Response:
        ws = self.app_workspace(request)
        q = request.query_params
        message_id = _int(q["message_id"], "message_id") if "message_id" in q else None
        try:
            start = float(q["start"]) if "start" in q else None
            end = float(q["end"]) if "end" in q else None
        except ValueError:
            raise ApiError(400, "start and end must be epoch seconds") from None
        if message_id is not None and store.get_message(self.engine, ws.id, message_id) is None:
            raise ApiError(404, f"no message {message_id}")

        def rows() -> Iterator[bytes]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            with self.engine.connect() as conn:
                for i, row in enumerate(
                    store.clicks_csv_rows(
                        conn, ws.id, message_id=message_id, start=start, end=end
                    )
                ):
                    writer.writerow(row)
                    if i % 500 == 0:
                        yield buffer.getvalue().encode()
                        buffer.seek(0)
                        buffer.truncate()
            yield buffer.getvalue().encode()

        return StreamingResponse(
            rows(),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="clicks.csv"'},
        )

    def openapi(self, request: Request) -> JSON:
        return JSON(OPENAPI)


# One validation and one view of message content for every kind (service/containers.py).
_message_fields = parse_content
_message = content_view


def _person(p: model.Person) -> dict[str, Any]:
    return {
        "id": p.external_id,
        "email": p.email,
        "phone": p.phone,
        "cio_id": p.cio_id,
        "attributes": p.attributes,
        "unsubscribed": p.unsubscribed,
    }


def _delivery(d: model.Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "delivery_id": d.id,
        "message_id": d.message_id,
        "channel": d.channel,
        "recipient": d.recipient,
        "subject": d.subject,
        "body": d.body,
        "body_plain": d.body_plain,
        "status": d.status,
        "error": d.error,
        "warnings": d.warnings,
        "settings": d.settings,
        "created_at": d.created_at,
        "sent_at": d.sent_at,
        "opened_at": d.opened_at,
        "clicked_at": d.clicked_at,
        "links": [
            {
                "link_id": link.id,
                "href": link.href,
                "tag": link.tag,
                "first_clicked_at": link.first_clicked_at,
            }
            for link in d.links
        ],
    }


def _activity(a: model.Activity) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": a.type,
        "timestamp": a.ts,
        "delivery_id": a.delivery_id,
        "message_id": a.message_id,
        "message_name": a.message_name,
        "channel": a.channel,
    }
    if a.type == "clicked":
        entry.update(link_id=a.link_id, href=a.href)
    if a.type in ("clicked", "opened"):
        entry.update(machine=a.machine, machine_reasons=list(a.machine_reasons))
    if a.type == "opened":
        entry["synthetic"] = a.synthetic
    return entry


def get(path: str, method: Callable[..., Any]) -> Route:
    """A GET route to a sync handler `method(request)`."""
    return Route(path, _wrap(method, body=False), methods=["GET"])


def with_body(path: str, method: Callable[..., Any], verb: str) -> Route:
    """A route to a sync handler `method(request, json_body)`."""
    return Route(path, _wrap(method, body=True), methods=[verb])


def _wrap(method: Callable[..., Any], *, body: bool) -> Handler:
    """Run a sync handler in a thread; map every expected failure to a JSON 4xx."""
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Request) -> Response:
        try:
            if body:
                data = await body_json(request)
                return await run_in_threadpool(method, request, data)
            return await run_in_threadpool(method, request)
        except ApiError as exc:
            return error(exc.status, str(exc))
        except (InputError, StoreError) as exc:
            return error(exc.status, str(exc))

    return endpoint


def build_api(services: Any) -> Starlette:
    api = Api(services)

    routes = [
        with_body("/api/v1/customers/{identifier}", api.identify, "PUT"),
        with_body("/v1/transactional", api.create_transactional, "POST"),
        get("/v1/transactional", api.list_transactional),
        get("/v1/transactional/{id}", api.get_transactional),
        with_body("/v1/transactional/{id}", api.update_transactional, "PUT"),
        get("/v1/transactional/{id}/metrics", api.message_metrics),
        get("/v1/transactional/{id}/metrics/links", api.link_metrics),
        get("/v1/transactional/{id}/links", api.top_links),
        with_body("/v1/send/{channel:str}", api.send, "POST"),
        get("/v1/deliveries/{delivery_id}", api.get_delivery),
        get("/v1/outbox", api.outbox),
        get("/v1/workspace/settings", api.get_settings),
        with_body("/v1/workspace/settings", api.put_settings, "PUT"),
        get("/v1/workspace/signing_keys", api.list_keys),
        Route(
            "/v1/workspace/signing_keys",
            _wrap(lambda r: api.rotate_key(r, None), body=False),
            methods=["POST"],
        ),
        Route(
            "/v1/workspace/signing_keys/{kid}",
            _wrap(api.retire_key, body=False),
            methods=["DELETE"],
        ),
        get("/v1/customers/{identifier}", api.get_customer),
        get("/v1/customers/{identifier}/activities", api.activities),
        get("/v1/exports/clicks.csv", api.export_clicks),
        get("/openapi.json", api.openapi),
        get("/v1/openapi.json", api.openapi),
        *api_channels.routes(api),
        *api_kinds.routes(api),
    ]

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        messages = {404: "no such endpoint", 405: "method not allowed on this endpoint"}
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    async def on_crash(request: Request, exc: Exception) -> Response:
        return error(500, "internal error")

    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: on_http_error, Exception: on_crash},
    )
