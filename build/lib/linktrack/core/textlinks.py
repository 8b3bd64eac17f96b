"""Links in plain text (the email text part, SMS): found with linkify-it-py."""

from __future__ import annotations

import re
from functools import lru_cache

from linkify_it import LinkifyIt

_LINKIFY = LinkifyIt()
# In a template source: a literal http(s) URL, possibly continued by Liquid output
# (`https://x.com/u/{{ customer.id }}`), or a Liquid output standing alone as a word.
_SOURCE_URL = re.compile(r"https?://(?:[^\s<>\"'{]|\{\{.*?\}\})+", re.IGNORECASE)
_SOURCE_EXPR = re.compile(r"(?<!\S)\{\{-?.*?-?\}\}(?=[\s.,;:!?)]|$)")
_LIQUID_TAG = re.compile(r"\{%.*?%\}", re.DOTALL)


def candidates(source: str, *, liquid: bool) -> list[tuple[int, int, bool]]:
    """Spans of a text template that may render to a link: (start, end, is_liquid_output)."""
    blocked = [m.span() for m in _LIQUID_TAG.finditer(source)] if liquid else []

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in blocked)

    spans = [(m.start(), m.end(), False) for m in _SOURCE_URL.finditer(source) if free(*m.span())]
    if liquid:
        taken = [(s, e) for s, e, _ in spans]
        for match in _SOURCE_EXPR.finditer(source):
            start, end = match.span()
            if free(start, end) and not any(s < end and start < e for s, e in taken):
                spans.append((start, end, True))
    spans.sort()
    return spans


@lru_cache(maxsize=4096)
def _find_cached(text: str) -> tuple[tuple[int, int, str, bool], ...]:
    found = []
    for match in _LINKIFY.match(text) or ():
        schema = match.schema.lower()
        if schema == "mailto:" or (schema and schema not in ("http:", "https:", "//")):
            continue
        found.append((match.index, match.last_index, match.raw, schema in ("http:", "https:")))
    return tuple(found)


def find(text: str) -> tuple[tuple[int, int, str, bool], ...]:
    """Web links in `text`: (start, end, url, has_http_protocol)."""
    if not text or ("." not in text):
        return ()
    return _find_cached(text)
