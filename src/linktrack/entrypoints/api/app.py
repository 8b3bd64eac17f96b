"""The App API (Bearer) and Track API (Basic), Customer.io-shaped, on Starlette.

`ROUTES` is every route, written out; `build_api` binds it to the services.
Handlers only translate: parse and validate the request, call the store or a
service, shape the answer. Every error leaves as `{"meta":{"error":"…"}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from linktrack.bootstrap import Services
from linktrack.entrypoints.api.campaigns import CampaignTriggerApi, ContainersApi, SendJobsApi
from linktrack.entrypoints.api.common import JSON, Handler, error, on_track_api
from linktrack.entrypoints.api.deliveries import DeliveriesApi
from linktrack.entrypoints.api.messages import MessagesApi
from linktrack.entrypoints.api.openapi import OPENAPI
from linktrack.entrypoints.api.reporting import ReportingWebhooksApi
from linktrack.entrypoints.api.reports import ReportsApi
from linktrack.entrypoints.api.segments import SegmentsApi
from linktrack.entrypoints.api.track import TrackApi
from linktrack.entrypoints.api.transactional import TransactionalApi
from linktrack.entrypoints.api.workspace import WorkspaceApi


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The objects whose methods the routes call, each holding the services it needs."""

    track: TrackApi
    transactional: TransactionalApi
    deliveries: DeliveriesApi
    messages: MessagesApi
    workspace: WorkspaceApi
    reports: ReportsApi
    reporting: ReportingWebhooksApi
    campaigns: ContainersApi
    broadcasts: ContainersApi
    newsletters: ContainersApi
    campaign_trigger: CampaignTriggerApi
    broadcast_triggers: SendJobsApi
    newsletter_sends: SendJobsApi
    segments: SegmentsApi

    @classmethod
    def of(cls, s: Services) -> Endpoints:
        return cls(
            track=TrackApi(s.engine, s.campaigns, s.sdk_events),
            transactional=TransactionalApi(s.engine),
            deliveries=DeliveriesApi(s.engine, s.sender),
            messages=MessagesApi(s.engine),
            workspace=WorkspaceApi(s.engine, s.sender, s.keys, s.writer_status),
            reports=ReportsApi(s.engine),
            reporting=ReportingWebhooksApi(s.engine),
            campaigns=ContainersApi("campaign", s.engine, s.containers),
            broadcasts=ContainersApi("broadcast", s.engine, s.containers),
            newsletters=ContainersApi("newsletter", s.engine, s.containers),
            campaign_trigger=CampaignTriggerApi(s.engine, s.containers, s.campaigns),
            broadcast_triggers=SendJobsApi("broadcast", s.engine, s.containers, s.bulk_sends),
            newsletter_sends=SendJobsApi("newsletter", s.engine, s.containers, s.bulk_sends),
            segments=SegmentsApi(s.engine),
        )


async def openapi_document(request: Request) -> Response:
    return JSON(OPENAPI)


# (method, path, the endpoint it calls). A GET route answers HEAD too.
ROUTES: Final[list[tuple[str, str, Callable[[Endpoints], Handler]]]] = [
    # Track API
    ("PUT", "/api/v1/customers/{identifier}", lambda e: e.track.identify),
    ("DELETE", "/api/v1/customers/{identifier}", lambda e: e.track.delete),
    ("POST", "/api/v1/customers/{identifier}/suppress", lambda e: e.track.suppress),
    ("POST", "/api/v1/customers/{identifier}/unsuppress", lambda e: e.track.unsuppress),
    ("PUT", "/api/v1/customers/{identifier}/devices", lambda e: e.track.add_device),
    (
        "DELETE",
        "/api/v1/customers/{identifier}/devices/{device_id}",
        lambda e: e.track.delete_device,
    ),
    ("POST", "/api/v1/customers/{identifier}/events", lambda e: e.track.event),
    ("POST", "/api/v1/merge_customers", lambda e: e.track.merge),
    ("POST", "/api/v1/metrics", lambda e: e.track.metric),
    ("POST", "/api/v1/push/events", lambda e: e.track.push_event),
    # transactional messages
    ("POST", "/v1/transactional", lambda e: e.transactional.create),
    ("GET", "/v1/transactional", lambda e: e.transactional.listing),
    ("GET", "/v1/transactional/{id}", lambda e: e.transactional.show),
    ("PUT", "/v1/transactional/{id}", lambda e: e.transactional.update),
    ("GET", "/v1/transactional/{id}/metrics", lambda e: e.transactional.metrics),
    ("GET", "/v1/transactional/{id}/metrics/links", lambda e: e.transactional.link_metrics),
    ("GET", "/v1/transactional/{id}/links", lambda e: e.transactional.top_links),
    # sending and deliveries
    ("POST", "/v1/send/{channel:str}", lambda e: e.deliveries.send),
    ("GET", "/v1/deliveries/{delivery_id}", lambda e: e.deliveries.show),
    ("GET", "/v1/outbox", lambda e: e.deliveries.outbox),
    ("GET", "/v1/messages", lambda e: e.messages.listing),  # Customer.io's delivery objects
    ("GET", "/v1/messages/{delivery_id}", lambda e: e.messages.show),
    # workspace
    ("GET", "/v1/workspace/settings", lambda e: e.workspace.settings),
    ("PUT", "/v1/workspace/settings", lambda e: e.workspace.change_settings),
    ("GET", "/v1/workspace/signing_keys", lambda e: e.workspace.signing_keys),
    ("POST", "/v1/workspace/signing_keys", lambda e: e.workspace.rotate_key),
    ("DELETE", "/v1/workspace/signing_keys/{kid}", lambda e: e.workspace.retire_key),
    ("GET", "/v1/writer", lambda e: e.workspace.writer),
    # reporting webhooks
    ("POST", "/v1/reporting_webhooks", lambda e: e.reporting.create),
    ("GET", "/v1/reporting_webhooks", lambda e: e.reporting.listing),
    ("GET", "/v1/reporting_webhooks/{webhook_id}", lambda e: e.reporting.show),
    ("PUT", "/v1/reporting_webhooks/{webhook_id}", lambda e: e.reporting.update),
    ("DELETE", "/v1/reporting_webhooks/{webhook_id}", lambda e: e.reporting.delete),
    ("GET", "/v1/reporting_webhooks/{webhook_id}/events", lambda e: e.reporting.events),
    # people and exports
    ("GET", "/v1/customers/{identifier}", lambda e: e.reports.customer),
    ("GET", "/v1/customers/{identifier}/activities", lambda e: e.reports.activities),
    ("GET", "/v1/exports/clicks.csv", lambda e: e.reports.export_clicks),
    # campaigns
    ("POST", "/v1/campaigns", lambda e: e.campaigns.create),
    ("GET", "/v1/campaigns", lambda e: e.campaigns.listing),
    ("GET", "/v1/campaigns/{id}", lambda e: e.campaigns.show),
    ("GET", "/v1/campaigns/{id}/actions", lambda e: e.campaigns.actions),
    ("GET", "/v1/campaigns/{id}/actions/{action_id}", lambda e: e.campaigns.action),
    ("PUT", "/v1/campaigns/{id}/actions/{action_id}", lambda e: e.campaigns.update_action),
    ("GET", "/v1/campaigns/{id}/metrics", lambda e: e.campaigns.metrics),
    ("GET", "/v1/campaigns/{id}/metrics/links", lambda e: e.campaigns.link_metrics),
    ("GET", "/v1/campaigns/{id}/links", lambda e: e.campaigns.top_links),
    ("GET", "/v1/campaigns/{id}/actions/{action_id}/metrics", lambda e: e.campaigns.metrics),
    ("GET", "/v1/campaigns/{id}/actions/{action_id}/metrics/links",
     lambda e: e.campaigns.link_metrics),
    ("GET", "/v1/campaigns/{id}/actions/{action_id}/links", lambda e: e.campaigns.top_links),
    ("POST", "/v1/campaigns/{id}/trigger", lambda e: e.campaign_trigger.trigger),
    # Customer.io's paths for a broadcast's triggers (its API calls broadcasts campaigns):
    # the ids are the broadcasts', which no campaign shares.
    ("POST", "/v1/campaigns/{id}/triggers", lambda e: e.broadcast_triggers.start),
    ("GET", "/v1/campaigns/{id}/triggers", lambda e: e.broadcast_triggers.listing),
    ("GET", "/v1/campaigns/{id}/triggers/{trigger_id}", lambda e: e.broadcast_triggers.show),
    # API-triggered broadcasts
    ("POST", "/v1/broadcasts", lambda e: e.broadcasts.create),
    ("GET", "/v1/broadcasts", lambda e: e.broadcasts.listing),
    ("GET", "/v1/broadcasts/{id}", lambda e: e.broadcasts.show),
    ("GET", "/v1/broadcasts/{id}/actions", lambda e: e.broadcasts.actions),
    ("GET", "/v1/broadcasts/{id}/actions/{action_id}", lambda e: e.broadcasts.action),
    ("PUT", "/v1/broadcasts/{id}/actions/{action_id}", lambda e: e.broadcasts.update_action),
    ("GET", "/v1/broadcasts/{id}/metrics", lambda e: e.broadcasts.metrics),
    ("GET", "/v1/broadcasts/{id}/metrics/links", lambda e: e.broadcasts.link_metrics),
    ("GET", "/v1/broadcasts/{id}/links", lambda e: e.broadcasts.top_links),
    ("GET", "/v1/broadcasts/{id}/actions/{action_id}/metrics", lambda e: e.broadcasts.metrics),
    ("GET", "/v1/broadcasts/{id}/actions/{action_id}/metrics/links",
     lambda e: e.broadcasts.link_metrics),
    ("GET", "/v1/broadcasts/{id}/actions/{action_id}/links", lambda e: e.broadcasts.top_links),
    ("POST", "/v1/broadcasts/{id}/trigger", lambda e: e.broadcast_triggers.start),
    ("GET", "/v1/broadcasts/{id}/triggers", lambda e: e.broadcast_triggers.listing),
    ("GET", "/v1/broadcasts/{id}/triggers/{trigger_id}", lambda e: e.broadcast_triggers.show),
    # newsletters
    ("POST", "/v1/newsletters", lambda e: e.newsletters.create),
    ("GET", "/v1/newsletters", lambda e: e.newsletters.listing),
    ("GET", "/v1/newsletters/{id}", lambda e: e.newsletters.show),
    ("GET", "/v1/newsletters/{id}/contents", lambda e: e.newsletters.actions),
    ("GET", "/v1/newsletters/{id}/contents/{content_id}", lambda e: e.newsletters.action),
    ("PUT", "/v1/newsletters/{id}/contents/{content_id}", lambda e: e.newsletters.update_action),
    ("GET", "/v1/newsletters/{id}/metrics", lambda e: e.newsletters.metrics),
    ("GET", "/v1/newsletters/{id}/metrics/links", lambda e: e.newsletters.link_metrics),
    ("GET", "/v1/newsletters/{id}/links", lambda e: e.newsletters.top_links),
    ("GET", "/v1/newsletters/{id}/contents/{content_id}/metrics", lambda e: e.newsletters.metrics),
    ("GET", "/v1/newsletters/{id}/contents/{content_id}/metrics/links",
     lambda e: e.newsletters.link_metrics),
    ("GET", "/v1/newsletters/{id}/contents/{content_id}/links", lambda e: e.newsletters.top_links),
    ("POST", "/v1/newsletters/{id}/send", lambda e: e.newsletter_sends.start),
    ("GET", "/v1/newsletters/{id}/sends", lambda e: e.newsletter_sends.listing),
    ("GET", "/v1/newsletters/{id}/sends/{send_id}", lambda e: e.newsletter_sends.show),
    # segments: who clicked which links, attribute tests, and/or
    ("POST", "/v1/segments", lambda e: e.segments.create),
    ("GET", "/v1/segments", lambda e: e.segments.listing),
    ("GET", "/v1/segments/{id}", lambda e: e.segments.show),
    ("DELETE", "/v1/segments/{id}", lambda e: e.segments.delete),
    ("GET", "/v1/segments/{id}/customer_count", lambda e: e.segments.customer_count),
    ("GET", "/v1/segments/{id}/membership", lambda e: e.segments.membership),
    # this API's own description
    ("GET", "/openapi.json", lambda e: openapi_document),
    ("GET", "/v1/openapi.json", lambda e: openapi_document),
]  # fmt: skip


def routes(services: Services) -> list[Route]:
    """`ROUTES` bound to the endpoints built over `services`: one route a path, so a 405
    names every method the path allows."""
    endpoints = Endpoints.of(services)
    by_path: dict[str, dict[str, Handler]] = {}
    for verb, path, pick in ROUTES:
        by_path.setdefault(path, {})[verb] = pick(endpoints)
    return [Route(path, _by_method(found), methods=list(found)) for path, found in by_path.items()]


def _by_method(handlers: dict[str, Handler]) -> Handler:
    if len(handlers) == 1:
        return next(iter(handlers.values()))

    async def endpoint(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such endpoint", 405: "method not allowed on this endpoint"}
    message = messages.get(exc.status_code, str(exc.detail))
    answer = error(exc.status_code, message, track=on_track_api(request))
    answer.headers.update(exc.headers or {})  # a 405 names the methods allowed (Allow)
    return answer


async def _on_crash(request: Request, exc: Exception) -> Response:
    return error(500, "internal error", track=on_track_api(request))


async def _to_dashboard(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=303)


def build_api(services: Services, *, dashboard: ASGIApp | None = None) -> Starlette:
    """The App API and Track API over `services`, as one app; with `dashboard`, that app
    at `/ui` too (and `/` leads there)."""
    everything: list[BaseRoute] = [*routes(services)]
    if dashboard is not None:
        everything += [Route("/", _to_dashboard), Mount("/ui", app=dashboard)]
    return Starlette(
        routes=everything,
        exception_handlers={HTTPException: _on_http_error, Exception: _on_crash},
    )
