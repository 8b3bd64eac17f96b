"""App API routes for campaigns, API-triggered broadcasts and newsletters (issue 4).

Each kind has the same management and report routes; the metrics of a kind are
the transactional report functions (`Api.metrics_of`, …) over its actions'
message ids, so "clicked" means the same everywhere. The Track API's event
route triggers the campaigns that listen for the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core.audience import parse_audience
from linktrack.core.errors import InvalidValueError
from linktrack.core.model import Container, Workspace, parse_identifier
from linktrack.service.campaigns import Event, parse_trigger
from linktrack.service.containers import (
    Containers,
    content_view,
    job_view,
    parse_container,
    parse_content,
)

if TYPE_CHECKING:
    from linktrack.entrypoints.api import JSON, Api

# URL word → (container kind, word for its parts, word for its jobs)
KINDS: Final = {
    "campaigns": ("campaign", "actions", None),
    "broadcasts": ("broadcast", "actions", "triggers"),
    "newsletters": ("newsletter", "contents", "sends"),
}


def routes(api: Api) -> list[Route]:
    """The routes this module adds to the app."""
    from linktrack.entrypoints.api import JSON, ApiError, get, with_body

    kinds: Containers = api.s.containers
    campaigns = api.s.campaigns

    def number(request: Request, name: str) -> int:
        value = request.path_params[name]
        if not value.isdigit() or len(value) > 18:
            raise ApiError(404, f"{name.replace('_', ' ')} must be a positive integer")
        return int(value)

    def container(request: Request, kind: str) -> tuple[Workspace, Container]:
        ws = api.app_workspace(request)
        return ws, kinds.get(ws, kind, number(request, "id"))

    def part_ids(request: Request, kind: str) -> list[int]:
        """The message ids a report covers: the container's actions, or one of them."""
        _, found = container(request, kind)
        if "part_id" in request.path_params:
            return [kinds.action(found, number(request, "part_id")).id]
        return kinds.message_ids(found)

    def json_body(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object")
        return data

    out: list[Route] = []
    for plural, (kind, parts, jobs) in KINDS.items():
        base = f"/v1/{plural}"
        part = f"{base}/{{id}}/{parts}/{{part_id}}"
        singular = parts[:-1]

        def create(request: Request, data: Any, kind: str = kind) -> JSON:
            ws = api.app_workspace(request)
            return JSON({kind: kinds.create(ws, parse_container(kind, data))}, status_code=201)

        def listing(request: Request, kind: str = kind, plural: str = plural) -> JSON:
            ws = api.app_workspace(request)
            found = kinds.of_kind(ws, kind)
            return JSON({plural: [kinds.view(c) for c in found]})

        def show(request: Request, kind: str = kind) -> JSON:
            _, found = container(request, kind)
            return JSON({kind: kinds.view(found)})

        def show_parts(request: Request, kind: str = kind, parts: str = parts) -> JSON:
            _, found = container(request, kind)
            return JSON({parts: [content_view(m) for m in kinds.actions(found)]})

        def show_part(request: Request, kind: str = kind, singular: str = singular) -> JSON:
            _, found = container(request, kind)
            return JSON({singular: content_view(kinds.action(found, number(request, "part_id")))})

        def update_part(
            request: Request, data: Any, kind: str = kind, singular: str = singular
        ) -> JSON:
            ws, found = container(request, kind)
            message = kinds.action(found, number(request, "part_id"))
            fields = parse_content(data, creating=False)
            if "channel" in fields and fields["channel"] != message.channel:
                raise ApiError(400, f"the channel of a {singular} cannot change")
            updated = store.update_message(api.engine, ws.id, message.id, **fields)
            return JSON({singular: content_view(updated)})

        def metric(request: Request, kind: str = kind) -> JSON:
            return api.metrics_of(part_ids(request, kind))

        def link_metric(request: Request, kind: str = kind) -> JSON:
            return api.link_metrics_of(request, part_ids(request, kind))

        def top(request: Request, kind: str = kind) -> JSON:
            return api.top_links_of(part_ids(request, kind))

        out += [
            with_body(base, create, "POST"),
            get(base, listing),
            get(f"{base}/{{id}}", show),
            get(f"{base}/{{id}}/{parts}", show_parts),
            get(part, show_part),
            with_body(part, update_part, "PUT"),
        ]
        for prefix in (f"{base}/{{id}}", part):
            out += [
                get(f"{prefix}/metrics", metric),
                get(f"{prefix}/metrics/links", link_metric),
                get(f"{prefix}/links", top),
            ]
        if jobs is not None:
            out += _job_routes(api, kind, base, jobs, number, container, json_body)

    def trigger(request: Request, data: Any) -> JSON:
        ws, campaign = container(request, "campaign")
        ident, event = parse_trigger(data)
        done = campaigns.trigger(ws, campaign, ident, event)
        return JSON({"deliveries": done.deliveries, "skipped": done.skipped})

    def track_event(request: Request, data: Any) -> JSON:
        # Customer.io's Track API event: triggers the campaigns listening for it.
        ws = api.track_workspace(request)
        body = json_body(data)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "name must be a non-empty string (the event name)")
        event_data = body.get("data", {})
        if not isinstance(event_data, dict):
            raise ApiError(400, "data must be a JSON object")
        try:
            ident = parse_identifier(request.path_params["identifier"])
        except InvalidValueError as exc:
            raise ApiError(400, str(exc)) from None
        triggered = []
        for campaign in campaigns.for_event(ws, name):
            done = campaigns.trigger(ws, campaign, ident, Event(name, event_data))
            triggered.append({"campaign_id": campaign.id, "deliveries": done.deliveries})
        return JSON({"campaigns": triggered})

    out += [
        with_body("/v1/campaigns/{id}/trigger", trigger, "POST"),
        with_body("/api/v1/customers/{identifier}/events", track_event, "POST"),
    ]
    return out


def _job_routes(
    api: Api,
    kind: str,
    base: str,
    jobs: str,
    number: Callable[[Request, str], int],
    container: Callable[[Request, str], tuple[Workspace, Container]],
    json_body: Callable[[Any], dict[str, Any]],
) -> list[Route]:
    """Start a broadcast trigger / newsletter send, list them, read one's progress."""
    from linktrack.entrypoints.api import JSON, ApiError, get, with_body

    def start(request: Request, data: Any) -> JSON:
        ws, found = container(request, kind)
        body = json_body(data)
        allowed = {"ids", "emails", "per_user_data", "recipients", "data"}
        unknown = set(body) - allowed
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        audience = parse_audience(body)
        trigger_data = body.get("data", {})
        if not isinstance(trigger_data, dict):
            raise ApiError(400, "data must be a JSON object (trigger.* in Liquid)")
        job = api.s.bulk_sends.start(ws, found, audience, trigger_data)
        return JSON(job_view(job, kind), status_code=202)

    def listing(request: Request) -> JSON:
        _, found = container(request, kind)
        return JSON({jobs: [job_view(j, kind) for j in store.list_jobs(api.engine, found.id)]})

    def show(request: Request) -> JSON:
        _, found = container(request, kind)
        job_id = number(request, "job_id")
        job = store.get_job(api.engine, found.id, job_id)
        if job is None:
            raise ApiError(404, f"no {jobs[:-1]} {job_id} of {kind} {found.id}")
        return JSON(job_view(job, kind))

    verb = "trigger" if kind == "broadcast" else "send"
    return [
        with_body(f"{base}/{{id}}/{verb}", start, "POST"),
        get(f"{base}/{{id}}/{jobs}", listing),
        get(f"{base}/{{id}}/{jobs}/{{job_id}}", show),
    ]
