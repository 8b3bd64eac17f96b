"""The open pixel: its tag, and where it goes in an HTML message."""

from __future__ import annotations

import re

BODY_END = re.compile(r"</body", re.IGNORECASE)
PIXEL = (
    '<img src="{url}" width="1" height="1" alt="" border="0" style="height:1px !important;'
    'width:1px !important;border-width:0 !important;margin:0 !important;padding:0 !important">'
)


def with_pixel(segments: list[str], url: str) -> list[str]:
    """The segments with the open pixel before the last `</body` (or at the very end)."""
    pixel = PIXEL.format(url=url)
    for i in range(len(segments) - 1, -1, -1):
        at = _body_end(segments[i])
        if at >= 0:
            return [*segments[:i], segments[i][:at] + pixel + segments[i][at:], *segments[i + 1 :]]
    return [*segments[:-1], segments[-1] + pixel]


def _body_end(html: str) -> int:
    """Offset of the last `</body` (any case) in `html`, or -1."""
    at = html.rfind("</body")
    if at >= 0:
        return at
    ends = list(BODY_END.finditer(html))
    return ends[-1].start() if ends else -1
