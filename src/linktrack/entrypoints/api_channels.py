"""Track API routes for issue 4 (channels): SDK-reported push and in-app events.

Sending SMS, WhatsApp, push and in-app goes through `/v1/send/{channel}` in
`api.py`; short links are served by the tracking front (`front.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from linktrack.adapters.eventlog import EventLogError
from linktrack.service.sdk_events import SdkEvent, parse_metric, parse_push_event

if TYPE_CHECKING:
    from linktrack.entrypoints.api import JSON, Api


def routes(api: Api) -> list[Route]:
    """The routes this module adds to the app."""
    from linktrack.entrypoints.api import JSON, ApiError, with_body

    events = api.s.sdk_events

    def report(parse: Callable[[Any], SdkEvent]) -> Callable[[Request, Any], JSON]:
        def handler(request: Request, data: Any) -> JSON:
            ws = api.track_workspace(request)
            event = parse(data)
            try:
                events.record(
                    ws.id,
                    event,
                    ua=request.headers.get("user-agent", ""),
                    ip=request.client.host if request.client else None,
                )
            except EventLogError:
                raise ApiError(503, "the event log is unavailable: retry the report") from None
            return JSON({"delivery_id": event.delivery_id, "metric": event.metric})

        return handler

    return [
        with_body("/api/v1/metrics", report(parse_metric), "POST"),
        with_body("/api/v1/push/events", report(parse_push_event), "POST"),
    ]
