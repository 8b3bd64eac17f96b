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
from linktrack.core.errors import InputError, require_object
from linktrack.core.model import EVENT_NAME_LENGTH, parse_identifier
from linktrack.entrypoints.api.common import JSON, ApiError, track_workspace, with_body
from linktrack.entrypoints.api.views import person_view
from linktrack.service.campaigns import Campaigns, Event
from linktrack.service.sdk_events import SdkEvent, SdkEvents, parse_metric, parse_push_event


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
        person = store.upsert_person(self.engine, ws.id, request.path_params["identifier"], data)
        return JSON(person_view(person))

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
