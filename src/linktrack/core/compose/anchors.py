"""A template's links, found in its source: each href value marked, with its identity."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from linktrack.core import htmlscan, textlinks
from linktrack.core.compose.markers import Markers
from linktrack.core.compose.pixel import BODY_END

_LIQUID = ("{{", "{%")
_LIQUID_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_TAG_NAMES = frozenset({"a", "v:roundrect", "v:rect", "v:oval", "v:shape"})


@dataclass(frozen=True, slots=True)
class Anchor:
    """A link found in the template source."""

    key: str | None  # None: a literal href, keyed by its URL once decoded
    tag: str | None
    untracked: bool
    no_params: bool
    quote: str
    passthrough: bool  # the href is produced by cio_link: already handled
    index: int = -1  # position in the template's anchor list; -1: found after rendering
    is_a: bool = True  # an <a> (not an Outlook VML shape)


def anchor_of(tag: htmlscan.StartTag, quote: str) -> Anchor:
    """The tracking-relevant facts of one anchor start tag."""
    klass = tag.get("class")
    classes = klass.value.split() if klass else []
    cio_tag_attr = tag.get("data-cio-tag")
    cio_tag = cio_tag_attr.value.strip() if cio_tag_attr and cio_tag_attr.value.strip() else None
    return Anchor(
        key=f"tag:{cio_tag}" if cio_tag else None,
        tag=cio_tag,
        untracked="untracked" in classes,
        no_params="disable-url-params" in classes,
        quote=quote,
        passthrough=False,
        is_a=tag.name == "a",
    )


@dataclass(frozen=True, slots=True)
class SourceAnchor:
    """An anchor of the template source: its start tag (offsets relative to `offset`), where
    its href value is in the source, and its facts (`anchor.index` is not yet set)."""

    tag: htmlscan.StartTag
    offset: int
    href_start: int
    href_end: int
    anchor: Anchor


def source_anchors(source: str, liquid: bool) -> list[SourceAnchor]:
    """The template's anchors with an href, in the order compose numbers them."""
    found: list[SourceAnchor] = []
    markup = [m.span() for m in _LIQUID_MARKUP.finditer(source)] if liquid else []
    starts = [start for start, _ in markup]
    for tag, offset in _start_tags(source):
        inside = bisect.bisect_left(starts, tag.start + offset) - 1
        if inside >= 0 and tag.start + offset < markup[inside][1]:
            # Text inside Liquid (a string in an output or a tag): marking it would change
            # the Liquid. What such an output writes is scanned after rendering instead.
            continue
        span = _anchor_span(tag, source, offset, liquid)
        if span is not None:
            found.append(SourceAnchor(tag, offset, *span))
    return found


def mark_html(
    source: str, markers: Markers, liquid: bool
) -> tuple[str, list[Anchor], list[tuple[int, int]]]:
    """The source with each href value marked, its anchors, and the href values' spans."""
    spans = [(a.href_start, a.href_end, a.anchor) for a in source_anchors(source, liquid)]
    anchors: list[Anchor] = []
    out, last = [], 0
    for start, end, anchor in spans:
        out.append(source[last:start])
        index = len(anchors)
        out.append(f"{markers.open}{index}{markers.mid}{source[start:end]}{markers.close}")
        anchors.append(replace(anchor, index=index))
        last = end
    out.append(source[last:])
    return "".join(out), anchors, [(start, end) for start, end, _ in spans]


def _start_tags(source: str) -> Iterator[tuple[htmlscan.StartTag, int]]:
    """Each link-bearing start tag with the offset of the text it was read from.

    The content of a conditional comment (`<!--[if mso]>`) is read as HTML too:
    Outlook's VML buttons live there.
    """
    for item in htmlscan.scan(source, _TAG_NAMES):
        if isinstance(item, htmlscan.StartTag):
            yield item, 0
            continue
        data = source[item.data_start : item.data_end]
        if data.lstrip().lower().startswith("[if"):
            for inner in htmlscan.scan(data, _TAG_NAMES):
                if isinstance(inner, htmlscan.StartTag):
                    yield inner, item.data_start


def _anchor_span(
    tag: htmlscan.StartTag, source: str, offset: int, liquid: bool
) -> tuple[int, int, Anchor] | None:
    """Where the tag's href value is in the source, and the link's identity key."""
    href = tag.get("href")
    if href is None or href.value_start < 0:
        return None
    start, end = href.value_start + offset, href.value_end + offset
    raw = source[start:end]
    has_liquid = liquid and any(opener in raw for opener in _LIQUID)
    anchor = anchor_of(tag, href.quote)
    if has_liquid and anchor.key is None:
        anchor = replace(anchor, key=f"tpl:{raw.strip()}")
    return start, end, replace(anchor, passthrough=has_liquid and "cio_link" in raw)


def tagged_html(source: str, spans: list[tuple[int, int]]) -> str:
    """The source with each href value in a `linktrack_href` block and the pixel tag.

    Rendering it writes the finished message in one pass (see core/liquid/href.py).
    """
    ends = [m.start() for m in BODY_END.finditer(source)]
    body_end = ends[-1] if ends else len(source)
    if any(start <= body_end < end for start, end in spans):
        body_end = len(source)
    out, last, pixel = [], 0, False
    for index, (start, end) in enumerate(spans):
        if not pixel and body_end <= start:
            out.append(source[last:body_end])
            out.append("{% linktrack_pixel %}")
            last, pixel = body_end, True
        out.append(source[last:start])
        out.append(f"{{% linktrack_href {index} %}}{source[start:end]}{{% endlinktrack_href %}}")
        last = end
    if not pixel:
        out.append(source[last:body_end])
        out.append("{% linktrack_pixel %}")
        last = body_end
    out.append(source[last:])
    return "".join(out)


def mark_text(source: str, markers: Markers, liquid: bool) -> tuple[str, list[Anchor]]:
    """A text part with each literal URL and stand-alone `{{ … }}` output marked, its anchors."""
    anchors: list[Anchor] = []
    out, last = [], 0
    for start, end, is_expr in textlinks.candidates(source, liquid=liquid):
        out.append(source[last:start])
        raw = source[start:end]
        key = f"tpl:{raw.strip()}" if is_expr or any(m in raw for m in _LIQUID) else None
        index = len(anchors)
        out.append(f"{markers.open}{index}{markers.mid}{raw}{markers.close}")
        anchors.append(Anchor(key, None, False, False, "", False, index))
        last = end
    out.append(source[last:])
    return "".join(out), anchors
