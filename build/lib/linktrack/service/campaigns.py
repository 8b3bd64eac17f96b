"""Campaigns: triggered for one person with an event, every action at once.

A trigger is synchronous and all or nothing (one transaction), and, as a
Track API event does, an unknown id or email creates the person. A campaign
with a `trigger_event` also runs on the Track API's events of that name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from linktrack.adapters import store
from linktrack.core.errors import (
    ConflictError,
    InputError,
    InvalidValueError,
    reject_unknown,
    require_object,
)
from linktrack.core.model import (
    Container,
    Identifier,
    Person,
    Workspace,
    new_cio_id,
    parse_identifier,
)
from linktrack.service.containers import Containers, scope_of
from linktrack.service.drafts import Draft, Prepared
from linktrack.service.send_requests import parse_identifiers
from linktrack.service.sending import ATTEMPTS, STALE, Sender


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict[str, Any]


def parse_trigger(data: Any) -> tuple[Identifier, Event]:
    """A campaign trigger: `{"identifiers": {"id"|"email"|"cio_id": …}, "event": {…}}`."""
    data = require_object(data, "request body")
    reject_unknown(data, ("identifiers", "event"), "request body")
    try:
        ident = parse_identifier(parse_identifiers(data.get("identifiers")))
    except InvalidValueError as exc:
        raise InputError(str(exc)) from None
    event = require_object(data.get("event", {}), "event")
    reject_unknown(event, ("name", "data"), "event")
    name = event.get("name", "")
    if not isinstance(name, str):
        raise InputError("event.name must be a string")
    return ident, Event(name, require_object(event.get("data", {}), "event.data"))


@dataclass(frozen=True, slots=True)
class Triggered:
    deliveries: list[dict[str, Any]]
    skipped: list[dict[str, Any]]


class Campaigns:
    """Triggers campaigns over one store and one Sender."""

    def __init__(self, containers: Containers, sender: Sender) -> None:
        self.containers = containers
        self.engine = containers.engine
        self.sender = sender

    def trigger(
        self, workspace: Workspace, campaign: Container, ident: Identifier, event: Event
    ) -> Triggered:
        """Send every action to the person, with `event.*`: composed first, then recorded
        all or nothing in one transaction. As a Track API event does, an unknown id or
        email creates the person."""
        for _ in range(ATTEMPTS):
            drafted = store.get_person(self.engine, workspace.id, ident) or Person.created(
                workspace.id, parse_identifier(ident), {}, new_cio_id(), time.time()
            )
            drafts, skipped = self._compose(workspace, campaign, drafted, event)
            with self.engine.begin() as conn:
                person = self.sender.stored_person(conn, workspace.id, ident, {}, drafted)
                if person is None:
                    continue  # changed while the actions were composed: compose again
                done = [(action_id, self.sender.record(conn, d, person)) for action_id, d in drafts]
                store.create_deliveries(conn, [p.delivery for _, p in done])
                return Triggered([_delivered(action_id, p) for action_id, p in done], skipped)
        raise ConflictError(STALE)

    def _compose(
        self, workspace: Workspace, campaign: Container, person: Person, event: Event
    ) -> tuple[list[tuple[int, Draft]], list[dict[str, Any]]]:
        """Every action composed for the person, and the actions skipped (with why)."""
        settings = self.sender.settings_of(workspace)
        scope = scope_of(campaign, event.name, event.data)
        drafts: list[tuple[int, Draft]] = []
        skipped: list[dict[str, Any]] = []
        for action in self.containers.actions(campaign):
            recipient = person.address_for(action.channel)
            if person.unsubscribed:
                skipped.append({"action_id": action.id, "reason": "the person is unsubscribed"})
            elif not recipient:
                skipped.append(
                    {"action_id": action.id, "reason": f"no address for {action.channel}"}
                )
            else:
                drafts.append((action.id, self.sender.compose_action(
                    workspace, action, person, recipient,
                    trigger={}, scope=scope, links=None, settings=settings,
                )))  # fmt: skip
        return drafts, skipped

    def for_event(self, workspace: Workspace, name: str) -> list[Container]:
        """The workspace's campaigns whose `trigger_event` is `name`."""
        return [
            c
            for c in self.containers.of_kind(workspace, "campaign")
            if c.extra.get("trigger_event") == name
        ]


def _delivered(action_id: int, prepared: Prepared) -> dict[str, Any]:
    result = prepared.result
    return {
        "action_id": action_id,
        "delivery_id": result.delivery_id,
        "queued_at": int(result.queued_at),
        "warnings": result.warnings,
    }
