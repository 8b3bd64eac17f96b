"""The invisible markers that wrap href values in a template, and how to take them out."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Markers:
    """Invisible characters that wrap href values in a template, absent from its source.

    `open n mid value close` marks link n; `done_open … done_close` fences what
    cio_link already rendered in a text part, so it is not tracked twice. `chars`
    finds any of the five: a rendered value holding one would be misread as a mark.
    """

    open: str
    mid: str
    close: str
    done_open: str
    done_close: str
    marked: re.Pattern[str]
    done: re.Pattern[str]
    chars: re.Pattern[str]

    @classmethod
    def for_source(cls, source: str) -> Markers:
        # Private-use blocks of 5 characters; the first one the template does not use.
        for base in range(0xE000, 0xF8FF - 5, 5):
            chars = [chr(base + i) for i in range(5)]
            if not any(ch in source for ch in chars):
                o, m, c, do, dc = chars
                return cls(
                    o, m, c, do, dc,
                    re.compile(f"{o}(\\d+){m}([^{o}{m}{c}]*){c}"),
                    re.compile(f"{do}([^{dc}]*){dc}"),
                    re.compile(f"[{o}-{dc}]"),
                )  # fmt: skip
        raise ValueError("template uses every private-use character")


def split_done(text: str, markers: Markers) -> list[tuple[str, bool]]:
    """Split out what cio_link already rendered, so it is not tracked twice."""
    if markers.done_open not in text:
        return [(text, False)]
    chunks: list[tuple[str, bool]] = []
    last = 0
    for match in markers.done.finditer(text):
        chunks.append((text[last : match.start()], False))
        chunks.append((match.group(1), True))
        last = match.end()
    chunks.append((text[last:], False))
    return chunks


def strip_markers(text: str, markers: Markers) -> str:
    """The text as the author's template rendered it: every marker removed."""
    text = markers.marked.sub(lambda m: m.group(2), text)
    if markers.done_open in text:
        text = text.replace(markers.done_open, "").replace(markers.done_close, "")
    return text
