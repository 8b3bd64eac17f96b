"""Segments: who clicked which links, and attribute tests, joined by `and` and `or`.

A segment's `conditions` (Customer.io's shape) is one of
`{"clicked_link": {"message"?, "href"?, "human_only"?, "since"?, "until"?}}`,
`{"attribute": {...}}` (core.audience), `{"and": [...]}` or `{"or": [...]}`.
Parsed before anything is written: every problem is an InputError naming the
field. The store answers the clicked_link parts from the first-click index and
`holds` decides the rest per person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from linktrack.core.audience import Condition, parse_attribute
from linktrack.core.errors import (
    SPACES,
    InputError,
    NotFoundError,
    Unprocessable,
    reject_unknown,
    require_object,
)
from linktrack.core.model import MAX_ID, NAME_LENGTH, Person, whole_number

MESSAGE_KINDS: Final = ("campaign", "broadcast", "newsletter", "transactional")
MAX_DEPTH: Final = 8  # how deep `and`/`or` nest (as a broadcast filter)
MAX_CONDITIONS: Final = 32  # conditions in one segment, counted at every level
HREF_LENGTH: Final = 2048
DESCRIPTION_LENGTH: Final = 1000


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A campaign, broadcast or newsletter (all its actions or contents, or `action_id`),
    or a transactional message."""

    kind: str
    id: int
    action_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id}
        if self.action_id is not None:
            out["action_id"] = self.action_id
        return out


@dataclass(frozen=True, slots=True)
class ClickedLink:
    """People who clicked a link of `message` (any message when None) whose href matches
    `href` (`*` a wildcard; any link when None). `since`/`until` bound the first click
    (the first human click when `human_only`)."""

    message: MessageRef | None = None
    href: str | None = None
    human_only: bool = True
    since: float | None = None
    until: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"human_only": self.human_only}
        if self.message is not None:
            out["message"] = self.message.to_dict()
        for name in ("href", "since", "until"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return {"clicked_link": out}


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Rule, ...]


Rule: TypeAlias = "ClickedLink | Condition | AllOf | AnyOf"


@dataclass(frozen=True, slots=True)
class Segment:
    """A workspace's segment: its conditions as stored (`to_dict` of the parsed rule)."""

    id: int
    workspace_id: int
    name: str
    description: str
    conditions: dict[str, Any]
    created_at: float

    @property
    def rule(self) -> Rule:
        return parse_segment(self.conditions)


def to_dict(rule: Rule) -> dict[str, Any]:
    """The conditions as stored and shown (defaults filled in)."""
    if isinstance(rule, AllOf | AnyOf):
        return {"and" if isinstance(rule, AllOf) else "or": [to_dict(p) for p in rule.parts]}
    return rule.to_dict()


def clicked_leaves(rule: Rule) -> Iterator[ClickedLink]:
    """Every clicked_link condition in the rule, depth first."""
    if isinstance(rule, ClickedLink):
        yield rule
    elif isinstance(rule, AllOf | AnyOf):
        for part in rule.parts:
            yield from clicked_leaves(part)


def clicks_only(rule: Rule) -> bool:
    """Whether the rule is made of clicked_link conditions alone (the store answers it)."""
    if isinstance(rule, AllOf | AnyOf):
        return all(clicks_only(p) for p in rule.parts)
    return isinstance(rule, ClickedLink)


def holds(rule: Rule, person: Person, clicked: Callable[[ClickedLink], bool]) -> bool:
    """Whether `person` is in the segment; `clicked` says whether they meet a clicked_link."""
    if isinstance(rule, AllOf):
        return all(holds(p, person, clicked) for p in rule.parts)
    if isinstance(rule, AnyOf):
        return any(holds(p, person, clicked) for p in rule.parts)
    if isinstance(rule, ClickedLink):
        return clicked(rule)
    return rule.matches(person)


@dataclass(frozen=True, slots=True)
class NewSegment:
    name: str
    description: str
    rule: Rule


def parse_new_segment(data: Any) -> NewSegment:
    """A create request: `{"name", "description"?, "conditions"}`."""
    data = require_object(data, "request body")
    reject_unknown(data, ("name", "description", "conditions"), "request body")
    name, description = data.get("name"), data.get("description", "")
    if not isinstance(name, str) or not name.strip(SPACES) or len(name) > NAME_LENGTH:
        raise InputError(f"name must be a non-empty string of at most {NAME_LENGTH} characters")
    if not isinstance(description, str) or len(description) > DESCRIPTION_LENGTH:
        raise InputError(f"description must be a string of at most {DESCRIPTION_LENGTH} characters")
    if "conditions" not in data:
        raise InputError("conditions is required: who is in the segment")
    return NewSegment(name.strip(SPACES), description, parse_segment(data["conditions"]))


def parse_segment(data: Any) -> Rule:
    """A segment's `conditions`: every problem is a 400 naming the field (422 past the
    nesting and size limits, which the schema cannot say)."""
    count = [0]
    return _parse(data, "conditions", 0, count)


def _parse(data: Any, where: str, depth: int, count: list[int]) -> Rule:
    if depth > MAX_DEPTH:
        raise Unprocessable(f"{where}: conditions nest too deeply (at most {MAX_DEPTH} levels)")
    count[0] += 1
    if count[0] > MAX_CONDITIONS:
        raise Unprocessable(f"a segment holds at most {MAX_CONDITIONS} conditions")
    data = require_object(data, where)
    if len(data) != 1 or next(iter(data)) not in ("and", "or", "attribute", "clicked_link"):
        raise InputError(f'{where} must be one of {{"clicked_link": {{…}}}}, '
                         '{"attribute": {…}}, {"and": […]} or {"or": […]}')  # fmt: skip
    ((kind, body),) = data.items()
    if kind in ("and", "or"):
        if not isinstance(body, list) or not body:
            raise InputError(f"{where}.{kind} must be a non-empty list of conditions")
        parts = tuple(
            _parse(c, f"{where}.{kind}[{i}]", depth + 1, count) for i, c in enumerate(body)
        )
        return AllOf(parts) if kind == "and" else AnyOf(parts)
    if kind == "attribute":
        try:
            return parse_attribute(body)
        except InputError as exc:
            raise type(exc)(f"{where}: {exc}") from None
    return _clicked(body, f"{where}.clicked_link")


def _clicked(body: Any, where: str) -> ClickedLink:
    body = require_object(body, where)
    reject_unknown(body, ("message", "href", "human_only", "since", "until"), where)
    href = body.get("href")
    if href is not None and (not isinstance(href, str) or not href or len(href) > HREF_LENGTH):
        raise InputError(f"{where}.href must be a non-empty string of at most {HREF_LENGTH} "
                         "characters (* is a wildcard)")  # fmt: skip
    human_only = body.get("human_only", True)
    if not isinstance(human_only, bool):
        raise InputError(f"{where}.human_only must be true or false")
    since, until = _time(body, "since", where), _time(body, "until", where)
    if since is not None and until is not None and since > until:
        raise Unprocessable(f"{where}: since is after until, so nobody could match")
    message = None if body.get("message") is None else _message(body["message"], where)
    return ClickedLink(message, href, human_only, since, until)


def _time(body: dict[str, Any], name: str, where: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InputError(f"{where}.{name} must be a time in Unix seconds")
    return float(value)


def _message(data: Any, where: str) -> MessageRef:
    where = f"{where}.message"
    data = require_object(data, where)
    reject_unknown(data, ("kind", "id", "action_id"), where)
    kind = data.get("kind")
    if kind not in MESSAGE_KINDS:
        raise InputError(f"{where}.kind must be one of {', '.join(MESSAGE_KINDS)}")
    ident, action = _id(data, "id", where), None
    if data.get("action_id") is not None:
        action = _id(data, "action_id", where)
        if kind == "transactional":
            raise Unprocessable(f"{where}: a transactional message has no actions (no action_id)")
    return MessageRef(kind, ident, action)


def _id(data: dict[str, Any], name: str, where: str) -> int:
    number = whole_number(data.get(name))
    if number is None or number < 1:
        raise InputError(f"{where}.{name} must be a positive integer")
    if number > MAX_ID:
        raise NotFoundError(f"{where}: no message {number} in this workspace")
    return number
