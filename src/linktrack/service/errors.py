"""Errors the API turns into `{"meta":{"error":"…"}}` with a 4xx status."""

from __future__ import annotations


class InputError(ValueError):
    """The request is malformed or names something impossible: 400."""

    status = 400


class Unprocessable(InputError):
    """Well-formed, but cannot be done as asked (a template that does not render): 422."""

    status = 422
