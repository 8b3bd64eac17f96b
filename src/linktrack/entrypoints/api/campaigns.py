"""Campaigns, API-triggered broadcasts and newsletters: their endpoints.

The three share one shape: each holds messages (a campaign's or broadcast's
actions, a newsletter's contents) and has the reports of a transactional
message, over all its actions or one of them. They differ in how they send:
a campaign is triggered for one person; a broadcast trigger or newsletter
send reaches an audience as a background job whose progress is polled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.core.audience import parse_audience
from linktrack.core.errors import InputError, NotFoundError, require_object
from linktrack.core.model import Container, Message, Workspace
from linktrack.entrypoints.api import reports
from linktrack.entrypoints.api.common import (
    JSON,
    app_workspace,
    endpoint,
    id_start,
    page,
    page_request,
    positive_int,
    with_body,
)
from linktrack.entrypoints.api.views import container_view, content_view, job_view
from linktrack.service.bulk_sends import BulkSends
from linktrack.service.campaigns import Campaigns, parse_trigger
from linktrack.service.containers import Containers, parse_container, update_content

# How error messages name a bad action (or content) id and job id: unchanged API wording.
_ACTION_ID: Final = "part id"
_JOB_ID: Final = "job id"
# What a broadcast's and a newsletter's send jobs are called.
_JOBS: Final = {"broadcast": "triggers", "newsletter": "sends"}
_AUDIENCE_FIELDS: Final = {"ids", "emails", "per_user_data", "recipients", "data"}


def _container(
    engine: store.Engine, containers: Containers, kind: str, request: Request
) -> tuple[Workspace, Container]:
    """The request's workspace and its campaign, broadcast or newsletter `{id}`."""
    ws = app_workspace(engine, request)
    return ws, containers.get(ws, kind, positive_int(request.path_params["id"], "id"))


@dataclass(frozen=True, slots=True)
class ContainersApi:
    """What every campaign, broadcast and newsletter has; one instance for each of the three.

    `kind` is "campaign", "broadcast" or "newsletter"; its messages are in the
    path as `/actions/{action_id}` (a newsletter's as `/contents/{content_id}`).
    """

    kind: str
    engine: store.Engine
    containers: Containers

    @with_body
    def create(self, request: Request, data: Any) -> JSON:
        ws = app_workspace(self.engine, request)
        created = self.containers.create(ws, parse_container(self.kind, data))
        return JSON({self.kind: container_view(*created)}, status_code=201)

    @endpoint
    def listing(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)
        found = store.list_containers(self.engine, ws.id, self.kind, before_id=id_start(start),
                                      limit=limit + 1)  # fmt: skip
        shown, more = page(found, limit, lambda c: str(c.id))
        return JSON({f"{self.kind}s": [self._view(c) for c in shown], "next": more})

    @endpoint
    def show(self, request: Request) -> JSON:
        _, found = self._container(request)
        return JSON({self.kind: self._view(found)})

    @endpoint
    def actions(self, request: Request) -> JSON:
        _, found = self._container(request)
        actions = self.containers.actions(found)
        return JSON({f"{found.action_word}s": [content_view(m) for m in actions]})

    @endpoint
    def action(self, request: Request) -> JSON:
        _, found = self._container(request)
        return JSON({found.action_word: content_view(self._action(found, request))})

    @with_body
    def update_action(self, request: Request, data: Any) -> JSON:
        """Change an action's fields; its channel stays."""
        ws, found = self._container(request)
        updated = update_content(self.engine, ws, self._action(found, request), data)
        return JSON({found.action_word: content_view(updated)})

    @endpoint
    def metrics(self, request: Request) -> JSON:
        return reports.metrics(self.engine, self._message_ids(request))

    @endpoint
    def link_metrics(self, request: Request) -> JSON:
        return reports.link_metrics(self.engine, request, self._message_ids(request))

    @endpoint
    def top_links(self, request: Request) -> JSON:
        return reports.top_links(self.engine, self._message_ids(request))

    def _container(self, request: Request) -> tuple[Workspace, Container]:
        return _container(self.engine, self.containers, self.kind, request)

    def _view(self, container: Container) -> dict[str, Any]:
        return container_view(container, self.containers.actions(container))

    def _action(self, container: Container, request: Request) -> Message:
        action_id = request.path_params[f"{container.action_word}_id"]
        return self.containers.action(container, positive_int(action_id, _ACTION_ID))

    def _message_ids(self, request: Request) -> list[int]:
        """The messages a report covers: all the actions, or the one in the path."""
        _, found = self._container(request)
        if f"{found.action_word}_id" in request.path_params:
            return [self._action(found, request).id]
        return self.containers.message_ids(found)


@dataclass(frozen=True, slots=True)
class CampaignTriggerApi:
    """Trigger a campaign for one person: every action is sent now."""

    engine: store.Engine
    containers: Containers
    campaigns: Campaigns

    @with_body
    def trigger(self, request: Request, data: Any) -> JSON:
        ws, campaign = _container(self.engine, self.containers, "campaign", request)
        ident, event = parse_trigger(data)
        done = self.campaigns.trigger(ws, campaign, ident, event)
        return JSON({"deliveries": done.deliveries, "skipped": done.skipped})


@dataclass(frozen=True, slots=True)
class SendJobsApi:
    """Broadcast triggers or newsletter sends: start one, list them, read one's progress.

    `kind` is "broadcast" or "newsletter"; a job is in the path as
    `/triggers/{trigger_id}` or `/sends/{send_id}`.
    """

    kind: str
    engine: store.Engine
    containers: Containers
    bulk_sends: BulkSends

    @property
    def jobs(self) -> str:
        """What this type's send jobs are called: "triggers" or "sends"."""
        return _JOBS[self.kind]

    @with_body
    def start(self, request: Request, data: Any) -> JSON:
        """Send to an audience in the background; answers at once with the job."""
        ws, found = _container(self.engine, self.containers, self.kind, request)
        body = require_object(data, "request body")
        unknown = set(body) - _AUDIENCE_FIELDS
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}")
        audience = parse_audience(body)
        trigger_data = body.get("data", {})
        if not isinstance(trigger_data, dict):
            raise InputError("data must be a JSON object (trigger.* in Liquid)")
        job = self.bulk_sends.start(ws, found, audience, trigger_data)
        return JSON(job_view(job, self.kind), status_code=202)

    @endpoint
    def listing(self, request: Request) -> JSON:
        _, found = _container(self.engine, self.containers, self.kind, request)
        limit, start = page_request(request)
        jobs = store.list_jobs(self.engine, found.id, before_id=id_start(start), limit=limit + 1)
        shown, more = page(jobs, limit, lambda j: str(j.id))
        return JSON({self.jobs: [job_view(j, self.kind) for j in shown], "next": more})

    @endpoint
    def show(self, request: Request) -> JSON:
        _, found = _container(self.engine, self.containers, self.kind, request)
        one = self.jobs[:-1]
        job_id = positive_int(request.path_params[f"{one}_id"], _JOB_ID)
        job = store.get_job(self.engine, found.id, job_id)
        if job is None:
            raise NotFoundError(f"no {one} {job_id} of {self.kind} {found.id}")
        return JSON(job_view(job, self.kind))
