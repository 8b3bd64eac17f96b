"""Who a broadcast or newsletter reaches: listed people, or an attribute filter.

The audience fields are Customer.io's (`ids`, `emails`, `per_user_data`,
`recipients`); a filter is `{"attribute": {"field", "operator": "eq"|"exists",
"value"}}` or `{"and": [...]}` of those, or `{"segment": {"id"}}` (core.segments).
Parsed before anything is written: every problem is an InputError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from linktrack.core.errors import (
    InputError,
    InvalidValueError,
    Unprocessable,
    reject_unknown,
    require_object,
)
from linktrack.core.model import (
    IDENTIFIER_KINDS,
    Identifier,
    IdentifierKind,
    Person,
    parse_identifier,
    whole_number,
)


@dataclass(frozen=True, slots=True)
class Condition:
    """`{"attribute": {"field", "operator": "eq"|"exists", "value"}}`, or `{"and": [...]}`."""

    field: str = ""
    operator: str = ""
    value: Any = None
    all_of: tuple[Condition, ...] = ()

    def matches(self, person: Person) -> bool:
        if self.all_of:
            return all(c.matches(person) for c in self.all_of)
        actual = _field(person, self.field)
        if self.operator == "exists":
            return actual is not None and actual != ""
        return _same(actual, self.value, self.field == "email")

    def to_dict(self) -> dict[str, Any]:
        if self.all_of:
            return {"and": [c.to_dict() for c in self.all_of]}
        attribute: dict[str, Any] = {"field": self.field, "operator": self.operator}
        if self.operator == "eq":
            attribute["value"] = self.value
        return {"attribute": attribute}


def _field(person: Person, name: str) -> Any:
    if name == "id":
        return person.external_id
    if name in ("email", "phone", "cio_id", "unsubscribed"):
        return getattr(person, name)
    return person.attributes.get(name)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(actual: Any, wanted: Any, fold: bool) -> bool:
    """Equal as JSON values or as text (`5` = `"5"`, `true` = `"true"`)."""
    if actual is None or isinstance(actual, dict | list):
        return actual == wanted and actual is not None
    a, b = _scalar_text(actual), _scalar_text(wanted)
    return a.lower() == b.lower() if fold else a == b


def parse_condition(data: Any, depth: int = 0) -> Condition:
    if depth > 8:
        raise Unprocessable("recipients filter is nested too deeply (at most 8 levels)")
    data = require_object(data, "a recipients condition")
    if len(data) != 1:
        raise InputError('a recipients condition is one of {"and": [...]} or {"attribute": {...}}')
    ((kind, body),) = data.items()
    if kind == "and":
        if not isinstance(body, list) or not body:
            raise InputError('"and" must be a non-empty list of conditions')
        return Condition(all_of=tuple(parse_condition(c, depth + 1) for c in body))
    if kind != "attribute":
        raise InputError(
            f'unknown recipients condition {kind!r}: use "and" or "attribute" '
            "(operators eq and exists)"
        )
    return parse_attribute(body)


def parse_attribute(body: Any) -> Condition:
    """The body of `{"attribute": {"field", "operator": "eq"|"exists", "value"}}`."""
    body = require_object(body, "attribute")
    reject_unknown(body, ("field", "operator", "value"), "attribute")
    name, operator = body.get("field"), body.get("operator", "eq")
    if not isinstance(name, str) or not name:
        raise InputError("attribute.field must be a non-empty string")
    if operator not in ("eq", "exists"):
        raise InputError("attribute.operator must be eq or exists")
    if operator == "eq":
        value = body.get("value")
        if value is None or isinstance(value, dict | list):
            raise InputError("attribute.value must be a string, number or boolean for eq")
        return Condition(name, "eq", value)
    return Condition(name, "exists")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a job sends to: listed people (each with optional per-person data) or a filter."""

    listed: tuple[tuple[Identifier, dict[str, Any]], ...] = ()
    where: Condition | None = None
    segment_id: int | None = None  # the members of a segment (resolved when the job runs)
    summary: dict[str, Any] = field(default_factory=dict)


def _identifier(kind: IdentifierKind, value: Any, what: str) -> Identifier:
    number = whole_number(value) if kind == "id" else None
    if not (number is not None or isinstance(value, str)) or value == "":
        raise InputError(f"{what} must hold non-empty strings")
    text = str(value if number is None else number)
    if kind == "id" and text.startswith("cio_"):
        kind, text = "cio_id", text[4:]  # `cio_<cio_id>` names a person anywhere
    try:
        return parse_identifier((kind, text))
    except InvalidValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _listed(
    kind: IdentifierKind, values: Any, what: str
) -> tuple[tuple[Identifier, dict[str, Any]], ...]:
    if not isinstance(values, list) or not values:
        raise InputError(f"{what} must be a non-empty list")
    return tuple((_identifier(kind, v, what), {}) for v in values)


def _per_user(items: Any) -> tuple[tuple[Identifier, dict[str, Any]], ...]:
    if not isinstance(items, list) or not items:
        raise InputError("per_user_data must be a non-empty list")
    out = []
    for item in items:
        item = require_object(item, "each per_user_data entry")
        reject_unknown(item, (*IDENTIFIER_KINDS, "data"), "per_user_data entry")
        named = [k for k in IDENTIFIER_KINDS if k in item]
        if len(named) != 1:
            raise InputError("each per_user_data entry names one of id, email, cio_id")
        kind: IdentifierKind = named[0]
        ident = _identifier(kind, item[kind], "per_user_data")
        out.append((ident, require_object(item.get("data", {}), "per_user_data data")))
    return tuple(out)


def _segment_id(data: Any) -> int:
    data = require_object(data, "recipients.segment")
    reject_unknown(data, ("id",), "recipients.segment")
    number = whole_number(data.get("id"))
    if number is None or number < 1:
        raise InputError("recipients.segment.id must be a positive integer")
    return number


_AUDIENCE_KEYS: Final = ("ids", "emails", "per_user_data", "recipients")


def parse_audience(data: Mapping[str, Any]) -> Audience:
    """Exactly one of `ids`, `emails`, `per_user_data` (Customer.io's broadcast fields)
    or `recipients`: `{"ids": [...]}`, `{"emails": [...]}`, `{"segment": {"id": n}}`, or a
    filter condition.
    """
    given = [k for k in _AUDIENCE_KEYS if k in data]
    if len(given) != 1:
        raise InputError(
            "give exactly one of ids, emails, per_user_data or recipients "
            '(a list or a filter such as {"and": [{"attribute": '
            '{"field": "plan", "operator": "eq", "value": "pro"}}]})'
        )
    (key,) = given
    value = data[key]
    if key == "recipients":
        value = require_object(value, "recipients")
        if len(value) == 1 and next(iter(value)) in ("ids", "emails"):
            key = next(iter(value))
            value = value[key]
        elif len(value) == 1 and "segment" in value:
            segment_id = _segment_id(value["segment"])
            summary = {"recipients": {"segment": {"id": segment_id}}}
            return Audience(segment_id=segment_id, summary=summary)
        else:
            where = parse_condition(value)
            return Audience(where=where, summary={"recipients": where.to_dict()})
    if key == "ids":
        listed = _listed("id", value, "ids")
    elif key == "emails":
        listed = _listed("email", value, "emails")
    else:
        listed = _per_user(value)
    return Audience(listed=listed, summary={key: len(listed)})
