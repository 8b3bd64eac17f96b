"""A message part (HTML or text): prepared once, rendered and tracked per recipient."""

from __future__ import annotations

import re
from typing import Literal

from liquid import BoundTemplate

from linktrack.core import htmlscan, textlinks
from linktrack.core.compose.anchors import Anchor, anchor_of, mark_html, mark_text, tagged_html
from linktrack.core.compose.markers import Markers, split_done, strip_markers
from linktrack.core.compose.pixel import with_pixel
from linktrack.core.compose.render_tracking import LinkPlan, RenderTracking
from linktrack.core.compose.tracking import Tracking
from linktrack.core.liquid import (
    OutputWatch,
    compile_liquid,
    current_href_hooks,
    current_link_hook,
    current_watch,
    render_liquid,
)

Kind = Literal["html", "text"]

_RAW_BLOCK = re.compile(r"\{%-?\s*raw\b")


class Template:
    """A message part (HTML or text) prepared once, rendered per recipient."""

    def __init__(
        self,
        source: str,
        kind: Kind = "html",
        *,
        liquid: bool = True,
        what: str = "body",
        avoid: str = "",
    ):
        # `avoid`: the text of a render's values, when they held this source's markers.
        self._markers = Markers.for_source(source + avoid)
        self._source = source
        self.kind = kind
        self.liquid = liquid
        self.what = what
        self._plan_cache: dict[
            tuple[object, tuple[tuple[str, str], ...], bool], list[dict[str, LinkPlan]]
        ] = {}
        spans: list[tuple[int, int]] = []
        if kind == "html":
            marked, self._anchors, spans = mark_html(source, self._markers, liquid)
        else:
            marked, self._anchors = mark_text(source, self._markers, liquid)
        self._marked = marked
        self._compiled: BoundTemplate | None = compile_liquid(marked, what) if liquid else None
        # HTML with Liquid renders in one pass through href tags, unless a {% raw %}
        # block could hold an anchor (tags inside it would print as text).
        self._fast: BoundTemplate | None = None
        if kind == "html" and liquid and not _RAW_BLOCK.search(source):
            self._fast = compile_liquid(tagged_html(source, spans), what)
        # Without Liquid the output is the marked source itself: find the edits once.
        self._literal = None if liquid or kind != "html" else self._split(marked)
        self._watch = OutputWatch()

    def render(self, tracking: Tracking) -> str:
        """The part as sent to one recipient; links and warnings land on `tracking`."""
        if self._fast is not None:
            rendered = self._render_fast(tracking)
            if rendered is not None:
                return rendered
        if self._compiled is None:
            rendered = self._marked
        else:
            hook = (
                tracking.cio_link
                if self.kind == "html"
                else tracking.fenced_cio_link(self._markers)
            )
            found, warned = len(tracking.found), len(tracking.warnings)
            token = current_link_hook.set(hook)
            self._watch = OutputWatch(self._markers.chars)
            watch_token = current_watch.set(self._watch)
            try:
                rendered = render_liquid(self._compiled, tracking.scope, self.what)
            finally:
                current_link_hook.reset(token)
                current_watch.reset(watch_token)
            # Output wrote a marker character: the template's own marks (a link inside a
            # Liquid string), or a value's. A value's would be misread: mark again.
            if self._watch.marked and self._markers.chars.search(held := _strings(tracking.scope)):
                del tracking.found[found:]
                del tracking.warnings[warned:]
                return self._marked_again(held).render(tracking)
        if self.kind == "html":
            return self._rewrite_html(rendered, tracking)
        return self._rewrite_text(rendered, tracking)

    def _marked_again(self, held: str) -> Template:
        """This template with markers that the values (`held`) do not hold."""
        return Template(self._source, self.kind, liquid=self.liquid, what=self.what, avoid=held)

    def _render_fast(self, tracking: Tracking) -> str | None:
        """One Liquid pass that tracks hrefs as they render; None if it cannot be used."""
        assert self._fast is not None
        track_links = tracking.tracked and tracking.channel == "email"
        found, warned = len(tracking.found), len(tracking.warnings)
        watch = OutputWatch()
        tokens = (
            current_link_hook.set(tracking.cio_link),
            current_watch.set(watch),
            current_href_hooks.set(self._render_tracking(tracking, track_links)),
        )
        try:
            rendered = render_liquid(self._fast, tracking.scope, self.what)
        finally:
            current_link_hook.reset(tokens[0])
            current_watch.reset(tokens[1])
            current_href_hooks.reset(tokens[2])
        if track_links and watch.anchors:
            # Liquid output wrote anchors the template did not have: take the
            # marker path, which scans the rendered HTML, and forget this pass.
            del tracking.found[found:]
            del tracking.warnings[warned:]
            return None
        return rendered

    def _rewrite_html(self, rendered: str, tracking: Tracking) -> str:
        track_links = tracking.tracked and tracking.channel == "email"
        if self._literal is not None:
            segments, edits = self._literal
        elif track_links and self._watch.anchors:
            # Liquid output wrote anchors the template did not have: scan it all.
            segments, edits = self._with_unmarked(rendered)
        else:
            segments, edits = self._split(rendered)
        if tracking.tracked and tracking.settings.open_tracking and tracking.channel == "email":
            segments = with_pixel(segments, tracking.open_url())
        return self._render_tracking(tracking, track_links).splice(segments, edits)

    def _split(self, rendered: str) -> tuple[list[str], list[tuple[Anchor, str]]]:
        """Rendered marked HTML → the text between hrefs, and each href with its anchor."""
        segments: list[str] = []
        edits: list[tuple[Anchor, str]] = []
        anchors = self._anchors
        last = 0
        for match in self._markers.marked.finditer(rendered):
            segments.append(rendered[last : match.start()])
            edits.append((anchors[int(match.group(1))], match.group(2)))
            last = match.end()
        segments.append(rendered[last:])
        return segments, edits

    def _with_unmarked(self, rendered: str) -> tuple[list[str], list[tuple[Anchor, str]]]:
        """All hrefs by position, including anchors Liquid output produced (keyed by URL)."""
        spans: list[tuple[int, int, Anchor, str]] = [
            (m.start(), m.end(), self._anchors[int(m.group(1))], m.group(2))
            for m in self._markers.marked.finditer(rendered)
        ]
        for item in htmlscan.scan(rendered, frozenset({"a"})):
            if not isinstance(item, htmlscan.StartTag):
                continue
            href = item.get("href")
            if href is None or href.value_start < 0:
                continue
            raw = rendered[href.value_start : href.value_end]
            if self._markers.open in raw or self._markers.close in raw:
                continue
            spans.append((href.value_start, href.value_end, anchor_of(item, href.quote), raw))
        spans.sort(key=lambda span: span[0])
        segments, edits, last = [], [], 0
        for start, end, anchor, raw in spans:
            segments.append(rendered[last:start])
            edits.append((anchor, raw))
            last = end
        segments.append(rendered[last:])
        return segments, edits

    def _render_tracking(self, tracking: Tracking, track_links: bool) -> RenderTracking:
        return RenderTracking(self._anchors, self._plans_for(tracking), tracking, track_links)

    def _plans_for(self, tracking: Tracking) -> list[dict[str, LinkPlan]]:
        """Per-anchor memo of link plans, for one link table and one parameter set."""
        config = (tracking.links, tracking.params, tracking.with_cio_id)
        plans = self._plan_cache.get(config)
        if plans is None:
            if len(self._plan_cache) >= 16:
                self._plan_cache.clear()
            plans = self._plan_cache[config] = [{} for _ in self._anchors]
        return plans

    def _rewrite_text(self, rendered: str, tracking: Tracking) -> str:
        channel = tracking.channel
        if channel in ("push", "in_app"):
            return strip_markers(rendered, self._markers)
        track = tracking.tracked and channel in ("email", "sms")
        params = channel == "email"
        out: list[str] = []
        position = 0
        for text, anchor in self._text_pieces(rendered):
            for chunk, done in split_done(text, self._markers):
                if done:
                    out.append(chunk)
                    continue
                cursor = 0
                for start, end, url, schemed in textlinks.find(chunk):
                    out.append(chunk[cursor:start])
                    cursor = end
                    position += 1
                    original = chunk[start:end]
                    if not schemed:
                        if channel == "whatsapp" or track:
                            tracking.warn_no_protocol(url)
                        out.append(original)
                    elif channel == "whatsapp":
                        tracking.warn(
                            "whatsapp_literal_link",
                            "WhatsApp links are tracked only through cio_link in a variable field",
                            url,
                        )
                        out.append(original)
                    elif track:
                        # The template's identity applies to a URL that is the marked span.
                        own = anchor is not None and anchor.key and start == 0
                        key = anchor.key if own and anchor and anchor.key else f"url:{url}"
                        out.append(tracking.track(key, None, url, position, params))
                    else:
                        out.append(original)
                out.append(chunk[cursor:])
        return "".join(out)

    def _text_pieces(self, rendered: str) -> list[tuple[str, Anchor | None]]:
        pieces: list[tuple[str, Anchor | None]] = []
        last = 0
        for match in self._markers.marked.finditer(rendered):
            pieces.append((rendered[last : match.start()], None))
            pieces.append((match.group(2), self._anchors[int(match.group(1))]))
            last = match.end()
        pieces.append((rendered[last:], None))
        return pieces


def _strings(value: object) -> str:
    """Every string in a Liquid scope (keys too), joined: what its values may write."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "".join(_strings(k) + _strings(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return "".join(_strings(item) for item in value)
    return ""
