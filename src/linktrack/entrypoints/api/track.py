"""The Track API (Basic auth): identify people, track events, and SDK-reported metrics.

A tracked event triggers the campaigns whose `trigger_event` is its name. An
app's SDK reports opens, clicks, conversions and deliveries of push and in-app
messages (of any delivery, in fact); opens and clicks go through the same event
log as link clicks (`service.sdk_events`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.adapters.eventlog import EventLogError
from linktrack.core.errors import (
    InputError,
    NotFoundError,
    SuppressedError,
    reject_unknown,
    require_object,
)
from linktrack.core.model import EVENT_NAME_LENGTH, parse_identifier
from linktrack.entrypoints.api.common import JSON, ApiError, endpoint, track_workspace, with_body
from linktrack.entrypoints.api.views import person_view
from linktrack.service.campaigns import Campaigns, Event
from linktrack.service.sdk_events import (
    SdkEvent,
    SdkEvents,
    parse_device,
    parse_metric,
    parse_push_event,
)
from linktrack.service.send_requests import parse_identifiers

_IGNORED = {"ignored": "the identifier is suppressed"}


@dataclass(frozen=True, slots=True)
class TrackApi:
    """The Track API's endpoints."""

    engine: store.Engine
    campaigns: Campaigns
    sdk_events: SdkEvents

    @with_body
    def identify(self, request: Request, data: Any) -> JSON:
        ws = track_workspace(self.engine, request)
        if not isinstance(data, dict):
            raise InputError("request body must be a JSON object of attributes")
        ident = request.path_params["identifier"]
        try:
            person = store.upsert_person(self.engine, ws.id, ident, data)
        except SuppressedError:
            return JSON(_IGNORED)  # as Customer.io: calls naming a suppressed person are ignored
        return JSON(person_view(person))

    @endpoint
    def delete(self, request: Request) -> JSON:
        """Delete the person (their deliveries and clicks stay in reports, unlinked)."""
        ws = track_workspace(self.engine, request)
        if not store.delete_person(self.engine, ws.id, request.path_params["identifier"]):
            raise NotFoundError("no such person in this workspace")
        return JSON({"deleted": True})

    @endpoint
    def suppress(self, request: Request) -> JSON:
        """Delete the person and ignore their id, email and cio_id until unsuppressed."""
        ws = track_workspace(self.engine, request)
        store.suppress_person(self.engine, ws.id, request.path_params["identifier"])
        return JSON({"suppressed": True})

    @endpoint
    def unsuppress(self, request: Request) -> JSON:
        """Let the identifier (and those suppressed with it) be added again, as a new person."""
        ws = track_workspace(self.engine, request)
        freed = store.unsuppress(self.engine, ws.id, request.path_params["identifier"])
        return JSON({"suppressed": False, "was_suppressed": freed})

    @with_body
    def merge(self, request: Request, data: Any) -> JSON:
        """Customer.io's merge: `{"primary": {"id"|"email"|"cio_id": …}, "secondary": …}`."""
        ws = track_workspace(self.engine, request)
        body = require_object(data, "request body")
        reject_unknown(body, ("primary", "secondary"), "merge")
        primary = parse_identifiers(body.get("primary"), "primary")
        secondary = parse_identifiers(body.get("secondary"), "secondary")
        merged = store.merge_people(self.engine, ws.id, primary, secondary)
        return JSON({"merged": merged is not None})

    @with_body
    def add_device(self, request: Request, data: Any) -> JSON:
        """Customer.io's `{"device": {"id", "platform", "last_used", "attributes"}}`."""
        ws = track_workspace(self.engine, request)
        device = parse_device(data)
        ident = request.path_params["identifier"]
        try:
            person = store.get_person(self.engine, ws.id, ident) or store.upsert_person(
                self.engine, ws.id, ident, {}
            )
        except SuppressedError:
            return JSON(_IGNORED)
        store.upsert_device(self.engine, ws.id, person.id, device.token, platform=device.platform,
                            attributes=device.attributes, last_used=device.last_used)  # fmt: skip
        return JSON({"devices": store.devices_of(self.engine, person.id)})

    @endpoint
    def delete_device(self, request: Request) -> JSON:
        ws = track_workspace(self.engine, request)
        person = store.get_person(self.engine, ws.id, request.path_params["identifier"])
        token = request.path_params["device_id"]
        if person is None or not store.delete_device(self.engine, ws.id, person.id, token):
            raise NotFoundError("the person has no such device in this workspace")
        return JSON({"deleted": True})

    @with_body
    def event(self, request: Request, data: Any) -> JSON:
        """Customer.io's Track API event: triggers the campaigns listening for it."""
        ws = track_workspace(self.engine, request)
        body = require_object(data, "request body")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise InputError("name must be a non-empty string (the event name)")
        if len(name) > EVENT_NAME_LENGTH:
            raise InputError(f"name must be at most {EVENT_NAME_LENGTH} characters")
        event_data = require_object(body.get("data", {}), "data")
        ident = parse_identifier(request.path_params["identifier"])
        if store.is_suppressed(self.engine, ws.id, ident):
            return JSON({"campaigns": [], **_IGNORED})
        triggered = []
        for campaign in self.campaigns.for_event(ws, name):
            done = self.campaigns.trigger(ws, campaign, ident, Event(name, event_data))
            triggered.append({"campaign_id": campaign.id, "deliveries": done.deliveries})
        return JSON({"campaigns": triggered})

    @with_body
    def metric(self, request: Request, data: Any) -> JSON:
        """An SDK's report: opened, clicked, converted or delivered."""
        return self._report(request, data, parse_metric)

    @with_body
    def push_event(self, request: Request, data: Any) -> JSON:
        """The legacy push event report: as `metric`, with `event` for `metric`."""
        return self._report(request, data, parse_push_event)

    def _report(self, request: Request, data: Any, parse: Callable[[Any], SdkEvent]) -> JSON:
        ws = track_workspace(self.engine, request)
        event = parse(data)
        try:
            self.sdk_events.record(
                ws.id,
                event,
                ua=request.headers.get("user-agent", ""),
                ip=request.client.host if request.client else None,
            )
        except EventLogError:
            raise ApiError(503, "the event log is unavailable: retry the report") from None
        return JSON({"delivery_id": event.delivery_id, "metric": event.metric})
