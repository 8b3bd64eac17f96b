"""Campaigns, API-triggered broadcasts and newsletters: what they hold.

Each is a container (adapters/store/campaigns.py) whose actions (a
newsletter's contents) are ordinary messages: they compose through the same
`Sender.prepare`, land in the same deliveries table, and their clicks reach
the same rollups, so metrics mean the same for every kind. Triggering a
campaign is `service.campaigns`; sending a broadcast or newsletter to an
audience is `service.bulk_sends`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from linktrack.adapters import store
from linktrack.core.errors import (
    SPACES,
    InputError,
    NotFoundError,
    Unprocessable,
    reject_unknown,
    require_object,
)
from linktrack.core.liquid import TemplateError, compile_liquid
from linktrack.core.model import (
    ADDRESS_LENGTH,
    CHANNELS,
    EVENT_NAME_LENGTH,
    NAME_LENGTH,
    Container,
    Message,
    Workspace,
)

MAX_ACTIONS: Final = 50  # actions of a campaign or broadcast, contents of a newsletter
_CONTENT_FIELDS: Final = ("name", "channel", "subject", "body", "body_plain", "from", "tracked")
# Customer.io: link tracking is on by default for email, SMS and WhatsApp; push
# and in-app clicks are reported by the SDKs.
_TRACKED_BY_DEFAULT: Final = frozenset({"email", "sms", "whatsapp"})


def parse_content(data: Any, *, creating: bool, what: str = "request body") -> dict[str, Any]:
    """Message fields (name, channel, subject, body, body_plain, from, tracked), validated.

    Returns `store.create_message`/`update_message` keywords; Liquid is compiled
    to reject a template that cannot render before anything is stored.
    """
    data = require_object(data, what)
    reject_unknown(data, _CONTENT_FIELDS, what)
    out: dict[str, Any] = {}
    for name in ("name", "subject", "body", "body_plain", "from", "channel"):
        if name in data:
            if not isinstance(data[name], str):
                raise InputError(f"{name} must be a string")
            out["from_addr" if name == "from" else name] = data[name]
    _check_length(out, "name", NAME_LENGTH)
    _check_length(out, "from_addr", ADDRESS_LENGTH, "from")
    if "channel" in out and out["channel"] not in CHANNELS:
        raise InputError(f"channel must be one of {', '.join(sorted(CHANNELS))}")
    if "tracked" in data:
        if not isinstance(data["tracked"], bool):
            raise InputError("tracked must be true or false")
        out["tracked"] = data["tracked"]
    if creating:
        out.setdefault("channel", "email")
        if not out.get("body"):
            raise InputError(f"body is required in {what}")
        out.setdefault("name", "Untitled")
    for part in ("subject", "body", "body_plain"):
        if out.get(part):
            try:
                compile_liquid(out[part], part)
            except TemplateError as exc:
                raise Unprocessable(str(exc)) from None
    return out


def update_content(db: store.Db, workspace: Workspace, message: Message, data: Any) -> Message:
    """Change a transactional message's, an action's or a content's fields, validated as
    `parse_content` does (the API's PUTs and the dashboard's settings page alike); the
    channel of an action or content stays."""
    fields = parse_content(data, creating=False)
    if message.parent_id is not None and fields.get("channel", message.channel) != message.channel:
        what = "content" if message.kind == "newsletter" else "action"
        raise Unprocessable(f"the channel of {what} {message.id} cannot change")
    return store.update_message(db, workspace.id, message.id, **fields)


def _check_length(fields: Mapping[str, str], key: str, most: int, name: str = "") -> None:
    if len(fields.get(key, "")) > most:
        raise InputError(f"{name or key} must be at most {most} characters")


def _actions(data: Mapping[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise InputError(f"{key} must be a non-empty list of {what}s")
    if len(items) > MAX_ACTIONS:
        raise InputError(f"at most {MAX_ACTIONS} {what}s")
    actions = []
    for i, item in enumerate(items):
        fields = parse_content(item, creating=True, what=f"{what} {i + 1}")
        fields.setdefault("tracked", fields["channel"] in _TRACKED_BY_DEFAULT)
        actions.append(fields)
    return actions


@dataclass(frozen=True, slots=True)
class NewContainer:
    kind: str
    name: str
    actions: list[dict[str, Any]]
    extra: dict[str, Any]


def parse_container(kind: str, data: Any) -> NewContainer:
    """A create request: `{"name", "actions": [...]}`; a newsletter takes `contents`
    or its one content's fields at the top level; a campaign may name its `trigger_event`.
    """
    data = require_object(data, "request body")
    name = data.get("name", "Untitled")
    if not isinstance(name, str) or not name.strip(SPACES):
        raise InputError("name must be a non-empty string")
    _check_length(data, "name", NAME_LENGTH)
    extra: dict[str, Any] = {}
    if kind == "newsletter":
        if "contents" in data:
            reject_unknown(data, ("name", "contents"), "request body")
            actions = _actions(data, "contents", "content")
        else:
            content = {k: v for k, v in data.items() if k != "name"}
            content["name"] = name
            actions = _actions({"contents": [content]}, "contents", "content")
    else:
        allowed = ["name", "actions"] + (["trigger_event"] if kind == "campaign" else [])
        reject_unknown(data, allowed, "request body")
        actions = _actions(data, "actions", "action")
        event = data.get("trigger_event")
        if event is not None:
            if not isinstance(event, str) or not event:
                raise InputError("trigger_event must be a non-empty string (an event name)")
            _check_length(data, "trigger_event", EVENT_NAME_LENGTH)
            extra["trigger_event"] = event
    for i, action in enumerate(actions):
        if action["name"] == "Untitled":
            action["name"] = f"{name} {i + 1}" if len(actions) > 1 else name
    return NewContainer(kind, name, actions, extra)


class Containers:
    """Campaigns, broadcasts and newsletters of the store, with their actions."""

    def __init__(self, engine: store.Engine) -> None:
        self.engine = engine

    def create(self, workspace: Workspace, new: NewContainer) -> tuple[Container, list[Message]]:
        """Store the container and its actions in one transaction; return both."""
        with self.engine.begin() as conn:
            container = store.create_container(conn, workspace.id, new.kind, new.name, new.extra)
            actions = [
                store.create_message(
                    conn, workspace.id, kind=new.kind, parent_id=container.id, **fields
                )
                for fields in new.actions
            ]
        return container, actions

    def get(self, workspace: Workspace, kind: str, container_id: int) -> Container:
        found = store.get_container(self.engine, workspace.id, kind, container_id)
        if found is None:
            raise NotFoundError(f"no {kind} {container_id}")
        return found

    def of_kind(self, workspace: Workspace, kind: str) -> list[Container]:
        """A workspace's containers of `kind`, newest first."""
        return store.list_containers(self.engine, workspace.id, kind)

    def actions(self, container: Container, db: store.Db | None = None) -> list[Message]:
        """The container's actions (a newsletter's contents), oldest first."""
        found = store.list_messages(
            db if db is not None else self.engine,
            container.workspace_id,
            kind=container.kind,
            parent_id=container.id,
        )
        return sorted(found, key=lambda m: m.id)

    def action(self, container: Container, action_id: int) -> Message:
        message = store.get_message(self.engine, container.workspace_id, action_id)
        if message is None or message.parent_id != container.id or message.kind != container.kind:
            raise NotFoundError(
                f"no {container.action_word} {action_id} in {container.kind} {container.id}"
            )
        return message

    def message_ids(self, container: Container) -> list[int]:
        """The messages a container's reports cover: all its actions."""
        return [m.id for m in self.actions(container)]


def scope_of(
    container: Container, event_name: str | None = None, event_data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The Liquid variables a container adds: `campaign.*`, and a campaign's `event.*`."""
    scope: dict[str, Any] = {
        "campaign": {"id": container.id, "name": container.name, "type": container.kind}
    }
    if event_name is not None:
        scope["event"] = dict(event_data or {})
        scope["event_name"] = event_name
    return scope
