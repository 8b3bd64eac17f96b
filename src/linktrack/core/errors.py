"""The errors a request can meet, each with the HTTP status the API answers it with.

Raised where bad input enters (parsing, the store's checks) with a message a
user can act on; `entrypoints.api` turns them into `{"meta":{"error":"…"}}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# What a name, identifier or domain may be padded with: ASCII white space only, so that
# the OpenAPI document's patterns mean the same in every regex engine.
SPACES = " \t\n\r\f\v"


class InputError(ValueError):
    """The request is malformed or names something impossible: 400."""

    status = 400


class Unprocessable(InputError):
    """Well-formed, but cannot be done as asked (a template that does not render): 422."""

    status = 422


class SuppressedError(Unprocessable):
    """The identifier was suppressed (Track API): no person is created for it: 422."""


class StoreError(Exception):
    """A request the store cannot honour, with a message a user can act on: 400."""

    status = 400


class NotFoundError(StoreError, LookupError):
    """The named record does not exist (in this workspace): 404."""

    status = 404


class ConflictError(StoreError, ValueError):
    """The change would clash with existing data (a taken email, the last key, ...): 409."""

    status = 409


class InvalidValueError(StoreError, ValueError):
    """A value outside what the store accepts (unknown kind, channel, status): 400."""

    status = 400


def require_object(data: Any, what: str) -> dict[str, Any]:
    """`data` if it is a JSON object, else an InputError naming `what`."""
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object")
    return data


def reject_unknown(data: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    """An InputError naming every field of `data` outside `allowed`."""
    unknown = set(data) - set(allowed)
    if unknown:
        raise InputError(f"unknown field(s) in {what}: {', '.join(sorted(unknown))}")
