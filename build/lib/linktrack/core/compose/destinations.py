"""A link's destination: its URL plus the workspace URL parameters and `_cio_id`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from linktrack.core.liquid import compiled_value, render_liquid
from linktrack.core.urls import add_params

_CIO_PLACEHOLDER = "__linktrack_cio_id__"
_PARAM_MEMO: dict[tuple[str, bytes], str] = {}


def param_value(source: str, scope: dict[str, Any]) -> str:
    """A URL parameter's value for one send, memoised on the variables it reads.

    `utm_campaign={{campaign.name}}` is the same for every recipient of a
    campaign: render it once, not once per message.
    """
    if "{" not in source:
        return source.strip()
    template = compiled_value(source)
    try:
        names = _param_variables(source)
        key = (source, orjson.dumps([scope.get(name) for name in names]))
    except (TypeError, orjson.JSONEncodeError):
        return render_liquid(template, scope, "URL parameter").strip()
    value = _PARAM_MEMO.get(key)
    if value is None:
        if len(_PARAM_MEMO) > 4096:
            _PARAM_MEMO.clear()
        value = _PARAM_MEMO[key] = render_liquid(template, scope, "URL parameter").strip()
    return value


@lru_cache(maxsize=1024)
def _param_variables(source: str) -> tuple[str, ...]:
    return tuple(sorted(compiled_value(source).global_variables()))


@lru_cache(maxsize=65536)
def destination_parts(
    url: str, params: tuple[tuple[str, str], ...], with_cio_id: bool
) -> tuple[str, str, bool]:
    """The destination split around the recipient's `_cio_id` value.

    Everything but the id is the same for every recipient of a link, so it is
    computed once and the id is spliced in per send.
    """
    full = add_params(url, [*params, ("_cio_id", _CIO_PLACEHOLDER)] if with_cio_id else params)
    head, found, tail = full.partition(_CIO_PLACEHOLDER)
    return head, tail, bool(found)
