"""Which messages a report page covers: a campaign's, broadcast's or newsletter's
actions (or the one `?action=` names), or one transactional or ad hoc message.

The same messages the API's reports take (`ContainersApi._message_ids`,
`TransactionalApi._message`), always looked up in the viewer's workspace, so
another workspace's id is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.bootstrap import Services
from linktrack.core.errors import InputError, NotFoundError
from linktrack.core.model import Container, Message, Workspace

CONTAINER_KINDS: Final = ("campaign", "broadcast", "newsletter")
KINDS: Final = (*CONTAINER_KINDS, "transactional", "adhoc")
_MOST_ID: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str
    id: int
    name: str
    container: Container | None
    messages: list[Message]  # the container's actions, or the one message
    action: Message | None  # the one action the report is narrowed to

    @property
    def ids(self) -> list[int]:
        """The message ids the numbers are of."""
        return [self.action.id] if self.action else [m.id for m in self.messages]

    @property
    def path(self) -> str:
        return f"/ui/messages/{self.kind}/{self.id}"

    @property
    def shown(self) -> list[Message]:
        """The messages in scope: the action, or all of them."""
        return [self.action] if self.action else self.messages


def _id(raw: str | None) -> int | None:
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= _MOST_ID else None


def scope_of(services: Services, workspace: Workspace, request: Request) -> Scope:
    """The report's messages, from the path's kind and id and the `action` query."""
    kind = request.path_params["kind"]
    found = _id(request.path_params["id"])
    if kind not in KINDS or found is None:
        raise NotFoundError("no such message in this workspace")
    if kind not in CONTAINER_KINDS:
        message = store.get_message(services.engine, workspace.id, found)
        if message is None or message.kind != kind:
            raise NotFoundError(f"no {kind} message {found} in this workspace")
        return Scope(kind, found, message.name, None, [message], None)
    containers = services.containers
    container = containers.get(workspace, kind, found)
    messages = containers.actions(container)
    action = None
    raw = request.query_params.get("action")
    if raw:
        action_id = _id(raw)
        if action_id is None:
            raise InputError(f"action must be the id of one of this {kind}'s messages")
        action = containers.action(container, action_id)
    return Scope(kind, found, container.name, container, messages, action)
