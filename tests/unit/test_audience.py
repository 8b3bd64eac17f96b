"""Who a broadcast or newsletter reaches: the audience forms and the filter language."""

from __future__ import annotations

from typing import Any

import pytest

from linktrack.core.audience import parse_audience, parse_condition
from linktrack.core.errors import InputError
from linktrack.core.model import Person


def person(**attributes: Any) -> Person:
    email = attributes.pop("email", "ada@example.com")
    return Person(1, 1, "c1", "ada", email, None, attributes, False, 0.0, 0.0)


def test_equality_and_existence_on_attributes() -> None:
    pro = parse_condition({"attribute": {"field": "plan", "operator": "eq", "value": "pro"}})
    assert pro.matches(person(plan="pro")) and not pro.matches(person(plan="free"))
    assert not pro.matches(person())
    # Text and JSON scalars compare as text: 5 = "5", true = "true", 2.0 = 2.
    assert parse_condition({"attribute": {"field": "n", "value": 5}}).matches(person(n="5"))
    assert parse_condition({"attribute": {"field": "vip", "value": "true"}}).matches(person(vip=True))
    assert parse_condition({"attribute": {"field": "n", "value": 2}}).matches(person(n=2.0))
    # Identifiers are fields too; emails compare without case.
    assert parse_condition({"attribute": {"field": "id", "value": "ada"}}).matches(person())
    assert parse_condition({"attribute": {"field": "email", "value": "ADA@example.com"}}).matches(person())
    has_email = parse_condition({"attribute": {"field": "email", "operator": "exists"}})
    assert has_email.matches(person()) and not has_email.matches(person(email=None))
    both = parse_condition({"and": [pro.to_dict(), has_email.to_dict()]})
    assert both.matches(person(plan="pro")) and not both.matches(person(plan="pro", email=None))
    assert both.to_dict() == {"and": [pro.to_dict(), has_email.to_dict()]}


def test_audience_forms() -> None:
    assert parse_audience({"ids": ["a", 7, "cio_ab12"]}).listed == (
        (("id", "a"), {}), (("id", "7"), {}), (("cio_id", "ab12"), {}))  # fmt: skip
    assert parse_audience({"recipients": {"emails": ["A@Example.com"]}}).listed == (
        (("email", "a@example.com"), {}),)  # fmt: skip
    assert parse_audience({"per_user_data": [{"email": "b@example.com", "data": {"x": 1}}]}).summary == {
        "per_user_data": 1}  # fmt: skip
    with pytest.raises(InputError, match="nested too deeply"):
        deep: dict[str, Any] = {"attribute": {"field": "a", "operator": "exists"}}
        for _ in range(10):
            deep = {"and": [deep]}
        parse_condition(deep)
