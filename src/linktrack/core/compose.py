"""The compose pipeline: identify links in the template, render Liquid, rewrite links.

A template is prepared once: its links are found in the *source* (so a
personalised `href="{{trigger.url}}"` is one link for every recipient) and each
href value is wrapped in invisible markers. Per recipient, Liquid renders the
marked source and the markers tell exactly which spans to replace; everything
else in the output is left byte for byte as rendered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal, NamedTuple, Protocol

import orjson
from liquid import BoundTemplate

from linktrack.core import htmlscan, textlinks
from linktrack.core.liquid import (
    HrefHooks,
    LinkHook,
    OutputWatch,
    compile_liquid,
    compiled_value,
    current_href_hooks,
    current_link_hook,
    current_watch,
    render_liquid,
)
from linktrack.core.settings import TrackingSettings
from linktrack.core.tokens import DeliverySigner, Signer
from linktrack.core.urls import UrlKind, add_params, classify, looks_secret

Channel = Literal["email", "sms", "whatsapp", "push", "in_app"]
Kind = Literal["html", "text"]


@dataclass(frozen=True, slots=True)
class _Markers:
    """Invisible characters that wrap href values in a template, absent from its source.

    `open n mid value close` marks link n; `done_open … done_close` fences what
    cio_link already rendered in a text part, so it is not tracked twice.
    """

    open: str
    mid: str
    close: str
    done_open: str
    done_close: str
    marked: re.Pattern[str]
    done: re.Pattern[str]

    @classmethod
    def for_source(cls, source: str) -> _Markers:
        # Private-use blocks of 5 characters; the first one the template does not use.
        for base in range(0xE000, 0xF8FF - 5, 5):
            chars = [chr(base + i) for i in range(5)]
            if not any(ch in source for ch in chars):
                o, m, c, do, dc = chars
                return cls(
                    o, m, c, do, dc,
                    re.compile(f"{o}(\\d+){m}([^{o}{m}{c}]*){c}"),
                    re.compile(f"{do}([^{dc}]*){dc}"),
                )  # fmt: skip
        raise ValueError("template uses every private-use character")


_BODY_END = re.compile(r"</body", re.IGNORECASE)
_RAW_BLOCK = re.compile(r"\{%-?\s*raw\b")
_LIQUID = ("{{", "{%")
_CIO_PLACEHOLDER = "__linktrack_cio_id__"
_TAG_NAMES = frozenset({"a", "v:roundrect", "v:rect", "v:oval", "v:shape"})
_PIXEL = (
    '<img src="{url}" width="1" height="1" alt="" border="0" style="height:1px !important;'
    'width:1px !important;border-width:0 !important;margin:0 !important;padding:0 !important">'
)


_TRACK, _NO_PROTOCOL, _LEAVE = 0, 1, 2
_POSITION_ENDS = [b"%d}" % position for position in range(512)]
# (code, url, destination head, tail, link key, link_id, looks secret, JSON head, JSON tail)
_Plan = tuple[int, str, str, str, str, int, bool, bytes, bytes]


class LinkTable(Protocol):
    """Gives each link key of a message its stable integer id."""

    def link_id(self, key: str, href: str, tag: str | None) -> int: ...


class MemoryLinkTable:
    """Link ids numbered 1, 2, … in order of first appearance (CLI, tests, benchmarks)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.hrefs: dict[int, str] = {}

    def link_id(self, key: str, href: str, tag: str | None) -> int:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.ids) + 1
            self.hrefs[found] = href
        return found


class TrackedLink(NamedTuple):
    """One link occurrence in one delivery."""

    link_id: int
    key: str
    tag: str | None
    url: str  # as the author's template rendered it
    href: str  # final destination: url + URL parameters + _cio_id
    position: int
    tracked_url: str


@dataclass(frozen=True, slots=True)
class ComposeWarning:
    """Something the sender should know about a link; never an error."""

    code: str
    message: str
    href: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "href": self.href}


_new_link = TrackedLink._make


@dataclass(slots=True)
class Tracking:
    """Everything one delivery's rewriting needs; collects its links and warnings."""

    settings: TrackingSettings
    signer: Signer
    delivery_id: str
    links: LinkTable
    channel: Channel = "email"
    tracked: bool = True
    cio_id: str | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    found: list[TrackedLink] = field(default_factory=list)
    warnings: list[ComposeWarning] = field(default_factory=list)
    shorten: Callable[[str], str] | None = None
    _params: tuple[tuple[str, str], ...] | None = None
    _base: str = ""
    _delivery_signer: DeliverySigner = field(init=False)
    with_cio_id: bool = False
    _cio_json: bytes = b""

    def __post_init__(self) -> None:
        self._base = self.settings.base_url
        self._delivery_signer = self.signer.for_delivery(self.delivery_id, self._base)
        self.with_cio_id = bool(self.settings.add_cio_id and self.cio_id)
        self._cio_json = orjson.dumps(self.cio_id or "")[1:-1]

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """Workspace URL parameters, their Liquid values rendered once per delivery."""
        if self._params is None:
            self._params = tuple(
                (name, _param_value(value, self.scope))
                for name, value in self.settings.url_params.items()
            )
        return self._params

    def destination(self, url: str, with_params: bool) -> str:
        """`url` plus URL parameters (unless disabled) plus `_cio_id` when enabled."""
        head, tail, has_id = _destination_parts(
            url,
            self.params if with_params else (),
            bool(self.settings.add_cio_id and self.cio_id),
        )
        return f"{head}{self.cio_id}{tail}" if has_id else head

    def track(self, key: str, tag: str | None, url: str, position: int, params: bool) -> str:
        """Sign one link; returns the tracked URL that replaces it."""
        return self._sign(key, tag, url, self.destination(url, params), position, looks_secret(url))

    def _sign(
        self, key: str, tag: str | None, url: str, href: str, position: int, secret: bool
    ) -> str:
        link_id = self.links.link_id(key, url, tag)
        tracked = self._delivery_signer.click_path(href, link_id, position)
        if self.shorten is not None:
            tracked = self.shorten(tracked)
        self.found.append(_new_link((link_id, key, tag, url, href, position, tracked)))
        if secret:
            self.warn_secret(url)
        return tracked

    def warn_secret(self, url: str) -> None:
        self.warn(
            "secret_link",
            "a tracked link looks like it carries a secret (token, reset, password…): "
            "do not track such links",
            url,
        )

    def warn(self, code: str, message: str, href: str = "") -> None:
        warning = ComposeWarning(code, message, href)
        if warning not in self.warnings:
            self.warnings.append(warning)

    def warn_no_protocol(self, url: str) -> None:
        self.warn(
            "no_protocol",
            "link has no http:// or https:// protocol and is not tracked",
            url,
        )

    def open_url(self) -> str:
        return self._base + self.signer.open_path(self.delivery_id)

    def fenced_cio_link(self, markers: _Markers) -> LinkHook:
        """`cio_link` for a text part: fenced so the text rewriter does not track it again."""

        def hook(key: str, url: str, track: bool, url_params: bool) -> str:
            rendered = self.cio_link(key, url, track, url_params)
            return f"{markers.done_open}{rendered}{markers.done_close}"

        return hook

    def cio_link(self, key: str, url: str, track: bool, url_params: bool) -> str:
        """What `{% cio_link %}` renders: the tracked URL, or the destination."""
        kind = classify(url)
        if kind is UrlKind.NO_PROTOCOL:
            self.warn_no_protocol(url)
        is_web = kind is UrlKind.TRACKED
        if not track:
            return add_params(url, self.params) if url_params and is_web else url
        if is_web or url.lower().startswith(("mailto:", "tel:", "sms:")):
            return self.track(key, None, url, 0, url_params and is_web)
        return url


@dataclass(frozen=True, slots=True)
class _Anchor:
    """A link found in the template source."""

    key: str | None  # None: a literal href, keyed by its URL once decoded
    tag: str | None
    untracked: bool
    no_params: bool
    quote: str
    passthrough: bool  # the href is produced by cio_link: already handled
    index: int = -1  # position in the template's anchor list; -1: found after rendering
    is_a: bool = True  # an <a> (not an Outlook VML shape)


class _Run(HrefHooks):
    """One render's link tracking: the hot path, one call per href.

    One dict lookup finds everything that is the same for every recipient of a
    link (the plan); per recipient only the `_cio_id` and position are spliced
    into prebuilt payload JSON and signed.
    """

    __slots__ = (
        "_cio_id", "_cio_json", "_found", "_plans", "_shorten", "_sign", "_template",
        "_track_links", "_tracking", "_with_cio_id", "position",
    )  # fmt: skip

    def __init__(self, template: Template, tracking: Tracking, track_links: bool) -> None:
        self._template = template
        self._tracking = tracking
        self._track_links = track_links
        self._plans = template._plans_for(tracking)
        self._sign = tracking._delivery_signer.sign_rest
        self._cio_id = tracking.cio_id or ""
        self._cio_json = tracking._cio_json
        self._with_cio_id = tracking.with_cio_id
        self._shorten = tracking.shorten
        self._found = tracking.found
        self.position = 0

    def href(self, index: int, raw: str) -> str:
        """The `linktrack_href` tag's callback: anchor `index` rendered to `raw`."""
        return self.track(self._template._anchors[index], raw)

    def pixel(self) -> str:
        tracking = self._tracking
        if tracking.tracked and tracking.settings.open_tracking and tracking.channel == "email":
            return _PIXEL.format(url=tracking.open_url())
        return ""

    def splice(self, segments: list[str], edits: list[tuple[_Anchor, str]]) -> str:
        """The text between hrefs joined with each href's replacement.

        `track`'s body inlined over local names: this loop is the per-recipient
        cost of a literal message (measured: ~8 us less per 40-link message).
        """
        plans = self._plans
        plan_of = Template._plan
        tracking = self._tracking
        sign = self._sign
        cio_id, cio_json, with_cio_id = self._cio_id, self._cio_json, self._with_cio_id
        shorten, found, track_links = self._shorten, self._found, self._track_links
        new_link = tuple.__new__
        out = [segments[0]]
        append = out.append
        start = position = self.position
        for anchor, raw in edits:
            position += 1
            if anchor.passthrough or anchor.untracked or not track_links:
                append(raw)
                append(segments[position - start])
                continue
            if anchor.index >= 0:
                cache = plans[anchor.index]
                plan = cache.get(raw)
                if plan is None:
                    plan = cache[raw] = plan_of(raw, anchor, tracking)
            else:
                plan = plan_of(raw, anchor, tracking)
            code, url, head, tail, key, link_id, secret, json_head, json_tail = plan
            if code:
                if code == _NO_PROTOCOL:
                    tracking.warn_no_protocol(url)
                append(raw)
                append(segments[position - start])
                continue
            ends = _POSITION_ENDS[position] if position < 512 else b"%d}" % position
            if with_cio_id:
                href = f"{head}{cio_id}{tail}"
                tracked = sign(json_head + cio_json + json_tail + ends)
            else:
                href = head
                tracked = sign(json_head + ends)
            if shorten is not None:
                tracked = shorten(tracked)
            found.append(
                new_link(TrackedLink, (link_id, key, anchor.tag, url, href, position, tracked))
            )
            if secret:
                tracking.warn_secret(url)
            append(tracked)
            append(segments[position - start])
        self.position = position
        return "".join(out)

    def track(self, anchor: _Anchor, raw: str) -> str:
        """The next href in document order → what replaces it (the hot path)."""
        self.position += 1
        position = self.position
        if anchor.passthrough or anchor.untracked or not self._track_links:
            return raw
        tracking = self._tracking
        if anchor.index >= 0:
            cache = self._plans[anchor.index]
            plan = cache.get(raw)
            if plan is None:
                plan = cache[raw] = Template._plan(raw, anchor, tracking)
        else:
            plan = Template._plan(raw, anchor, tracking)
        code, url, head, tail, key, link_id, secret, json_head, json_tail = plan
        if code:
            if code == _NO_PROTOCOL:
                tracking.warn_no_protocol(url)
            return raw
        ends = _POSITION_ENDS[position] if position < 512 else b"%d}" % position
        if self._with_cio_id:
            href = f"{head}{self._cio_id}{tail}"
            tracked = self._sign(json_head + self._cio_json + json_tail + ends)
        else:
            href = head
            tracked = self._sign(json_head + ends)
        if self._shorten is not None:
            tracked = self._shorten(tracked)
        self._found.append(
            tuple.__new__(TrackedLink, (link_id, key, anchor.tag, url, href, position, tracked))
        )
        if secret:
            tracking.warn_secret(url)
        # A tracked URL is base64url, hex and a validated domain: no escaping needed.
        return tracked


class Template:
    """A message part (HTML or text) prepared once, rendered per recipient."""

    def __init__(
        self, source: str, kind: Kind = "html", *, liquid: bool = True, what: str = "body"
    ):
        self._m = _Markers.for_source(source)
        self.kind = kind
        self.liquid = liquid
        self.what = what
        self._anchors: list[_Anchor] = []
        self._plan_cache: dict[
            tuple[object, tuple[tuple[str, str], ...], bool], list[dict[str, _Plan]]
        ] = {}
        marked = self._mark_html(source) if kind == "html" else self._mark_text(source)
        self._marked = marked
        self._compiled: BoundTemplate | None = compile_liquid(marked, what) if liquid else None
        # HTML with Liquid renders in one pass through href tags, unless a {% raw %}
        # block could hold an anchor (tags inside it would print as text).
        self._fast: BoundTemplate | None = None
        if kind == "html" and liquid and not _RAW_BLOCK.search(source):
            self._fast = compile_liquid(self._tagged_html(source), what)
        # Without Liquid the output is the marked source itself: find the edits once.
        self._literal = None if liquid or kind != "html" else self._split(marked)
        self._watch = OutputWatch()

    # -- preparing ---------------------------------------------------------------------

    def _mark_html(self, source: str) -> str:
        spans: list[tuple[int, int, _Anchor]] = []
        for item in htmlscan.scan(source, _TAG_NAMES):
            if isinstance(item, htmlscan.Comment):
                data = source[item.data_start : item.data_end]
                if data.lstrip().lower().startswith("[if"):
                    for inner in htmlscan.scan(data, _TAG_NAMES):
                        if isinstance(inner, htmlscan.StartTag):
                            self._anchor_span(inner, source, item.data_start, spans)
                continue
            self._anchor_span(item, source, 0, spans)
        m = self._m
        out, last = [], 0
        for start, end, anchor in spans:
            out.append(source[last:start])
            index = len(self._anchors)
            out.append(f"{m.open}{index}{m.mid}{source[start:end]}{m.close}")
            self._anchors.append(replace(anchor, index=index))
            last = end
        out.append(source[last:])
        self._spans = [(start, end) for start, end, _ in spans]
        return "".join(out)

    def _tagged_html(self, source: str) -> str:
        """The source with each href value in a `linktrack_href` block and the pixel tag.

        Rendering it writes the finished message in one pass (see core/liquid/href.py).
        """
        ends = [m.start() for m in _BODY_END.finditer(source)]
        body_end = ends[-1] if ends else len(source)
        if any(start <= body_end < end for start, end in self._spans):
            body_end = len(source)
        out, last, pixel = [], 0, False
        for index, (start, end) in enumerate(self._spans):
            if not pixel and body_end <= start:
                out.append(source[last:body_end])
                out.append("{% linktrack_pixel %}")
                last, pixel = body_end, True
            out.append(source[last:start])
            out.append(
                f"{{% linktrack_href {index} %}}{source[start:end]}{{% endlinktrack_href %}}"
            )
            last = end
        if not pixel:
            out.append(source[last:body_end])
            out.append("{% linktrack_pixel %}")
            last = body_end
        out.append(source[last:])
        return "".join(out)

    def _anchor_span(
        self,
        tag: htmlscan.StartTag,
        source: str,
        offset: int,
        spans: list[tuple[int, int, _Anchor]],
    ) -> None:
        href = tag.get("href")
        if href is None or href.value_start < 0:
            return
        start, end = href.value_start + offset, href.value_end + offset
        raw = source[start:end]
        has_liquid = self.liquid and any(m in raw for m in _LIQUID)
        anchor = _anchor_of(tag, href.quote)
        if has_liquid and anchor.key is None:
            anchor = replace(anchor, key=f"tpl:{raw.strip()}")
        spans.append((start, end, replace(anchor, passthrough=has_liquid and "cio_link" in raw)))

    def _mark_text(self, source: str) -> str:
        m = self._m
        out, last = [], 0
        for start, end, is_expr in textlinks.candidates(source, liquid=self.liquid):
            out.append(source[last:start])
            raw = source[start:end]
            key = f"tpl:{raw.strip()}" if is_expr or any(m in raw for m in _LIQUID) else None
            index = len(self._anchors)
            out.append(f"{m.open}{index}{m.mid}{raw}{m.close}")
            self._anchors.append(_Anchor(key, None, False, False, "", False, index))
            last = end
        out.append(source[last:])
        return "".join(out)

    # -- rendering ---------------------------------------------------------------------

    def render(self, tracking: Tracking) -> str:
        """The part as sent to one recipient; links and warnings land on `tracking`."""
        if self._fast is not None:
            rendered = self._render_fast(tracking)
            if rendered is not None:
                return rendered
        if self._compiled is None:
            rendered = self._marked
        else:
            hook = tracking.cio_link if self.kind == "html" else tracking.fenced_cio_link(self._m)
            token = current_link_hook.set(hook)
            self._watch = OutputWatch()
            watch_token = current_watch.set(self._watch)
            try:
                rendered = render_liquid(self._compiled, tracking.scope, self.what)
            finally:
                current_link_hook.reset(token)
                current_watch.reset(watch_token)
        if self.kind == "html":
            return self._rewrite_html(rendered, tracking)
        return self._rewrite_text(rendered, tracking)

    def _render_fast(self, tracking: Tracking) -> str | None:
        """One Liquid pass that tracks hrefs as they render; None if it cannot be used."""
        assert self._fast is not None
        track_links = tracking.tracked and tracking.channel == "email"
        found, warned = len(tracking.found), len(tracking.warnings)
        watch = OutputWatch()
        tokens = (
            current_link_hook.set(tracking.cio_link),
            current_watch.set(watch),
            current_href_hooks.set(_Run(self, tracking, track_links)),
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
            segments = _with_pixel(segments, tracking.open_url())
        return _Run(self, tracking, track_links).splice(segments, edits)

    def _split(self, rendered: str) -> tuple[list[str], list[tuple[_Anchor, str]]]:
        """Rendered marked HTML → the text between hrefs, and each href with its anchor."""
        segments: list[str] = []
        edits: list[tuple[_Anchor, str]] = []
        anchors = self._anchors
        last = 0
        for match in self._m.marked.finditer(rendered):
            segments.append(rendered[last : match.start()])
            edits.append((anchors[int(match.group(1))], match.group(2)))
            last = match.end()
        segments.append(rendered[last:])
        return segments, edits

    def _with_unmarked(self, rendered: str) -> tuple[list[str], list[tuple[_Anchor, str]]]:
        """All hrefs by position, including anchors Liquid output produced (keyed by URL)."""
        spans: list[tuple[int, int, _Anchor, str]] = [
            (m.start(), m.end(), self._anchors[int(m.group(1))], m.group(2))
            for m in self._m.marked.finditer(rendered)
        ]
        for item in htmlscan.scan(rendered, frozenset({"a"})):
            if not isinstance(item, htmlscan.StartTag):
                continue
            href = item.get("href")
            if href is None or href.value_start < 0:
                continue
            raw = rendered[href.value_start : href.value_end]
            if self._m.open in raw or self._m.close in raw:
                continue
            spans.append((href.value_start, href.value_end, _anchor_of(item, href.quote), raw))
        spans.sort(key=lambda span: span[0])
        segments, edits, last = [], [], 0
        for start, end, anchor, raw in spans:
            segments.append(rendered[last:start])
            edits.append((anchor, raw))
            last = end
        segments.append(rendered[last:])
        return segments, edits

    def _plans_for(self, tracking: Tracking) -> list[dict[str, _Plan]]:
        """Per-anchor memo of link plans, for one link table and one parameter set."""
        config = (tracking.links, tracking.params, tracking.with_cio_id)
        plans = self._plan_cache.get(config)
        if plans is None:
            if len(self._plan_cache) >= 16:
                self._plan_cache.clear()
            plans = self._plan_cache[config] = [{} for _ in self._anchors]
        return plans

    @staticmethod
    def _plan(raw: str, anchor: _Anchor, tracking: Tracking) -> _Plan:
        """What an href becomes, apart from the recipient's id, delivery and position."""
        url, kind, head, tail, secret = _href_plan(
            raw, () if anchor.no_params else tracking.params, tracking.with_cio_id
        )
        if kind is not UrlKind.TRACKED:
            code = _NO_PROTOCOL if kind is UrlKind.NO_PROTOCOL else _LEAVE
            return code, url, "", "", "", 0, False, b"", b""
        key = anchor.key or f"url:{url}"
        link_id = tracking.links.link_id(key, url, anchor.tag)
        # The payload's JSON around the recipient's id and the position, prebuilt.
        if tracking.with_cio_id:
            json_head = b'"h":' + orjson.dumps(head)[:-1]
            json_tail = orjson.dumps(tail)[1:] + b',"l":%d,"p":' % link_id
        else:
            json_head = b'"h":' + orjson.dumps(head) + b',"l":%d,"p":' % link_id
            json_tail = b""
        return _TRACK, url, head, tail, key, link_id, secret, json_head, json_tail

    def _rewrite_text(self, rendered: str, tracking: Tracking) -> str:
        channel = tracking.channel
        if channel in ("push", "in_app"):
            return _strip_markers(rendered, self._m)
        track = tracking.tracked and channel in ("email", "sms")
        params = channel == "email"
        out: list[str] = []
        position = 0
        for text, anchor in self._text_pieces(rendered):
            for chunk, done in _split_done(text, self._m):
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

    def _text_pieces(self, rendered: str) -> list[tuple[str, _Anchor | None]]:
        pieces: list[tuple[str, _Anchor | None]] = []
        last = 0
        for match in self._m.marked.finditer(rendered):
            pieces.append((rendered[last : match.start()], None))
            pieces.append((match.group(2), self._anchors[int(match.group(1))]))
            last = match.end()
        pieces.append((rendered[last:], None))
        return pieces


def _split_done(text: str, markers: _Markers) -> list[tuple[str, bool]]:
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


_PARAM_MEMO: dict[tuple[str, bytes], str] = {}


def _param_value(source: str, scope: dict[str, Any]) -> str:
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
def _destination_parts(
    url: str, params: tuple[tuple[str, str], ...], with_cio_id: bool
) -> tuple[str, str, bool]:
    """The destination split around the recipient's `_cio_id` value.

    Everything but the id is the same for every recipient of a link, so it is
    computed once and the id is spliced in per send.
    """
    full = add_params(url, [*params, ("_cio_id", _CIO_PLACEHOLDER)] if with_cio_id else params)
    head, found, tail = full.partition(_CIO_PLACEHOLDER)
    return head, tail, bool(found)


@lru_cache(maxsize=65536)
def _href_plan(
    raw: str, params: tuple[tuple[str, str], ...], with_cio_id: bool
) -> tuple[str, UrlKind, str, str, bool]:
    """Everything about an href that is the same for every recipient, computed once.

    → (URL it means, how it is treated, destination head and tail around the
    `_cio_id` value, whether it looks secret-bearing).
    """
    url = htmlscan.decode_value(raw).strip()
    kind = classify(url)
    if kind is not UrlKind.TRACKED:
        return url, kind, "", "", False
    head, tail, _ = _destination_parts(url, params, with_cio_id)
    return url, kind, head, tail, looks_secret(url)


def _anchor_of(tag: htmlscan.StartTag, quote: str) -> _Anchor:
    """The tracking-relevant facts of one anchor start tag."""
    klass = tag.get("class")
    classes = klass.value.split() if klass else []
    cio_tag_attr = tag.get("data-cio-tag")
    cio_tag = cio_tag_attr.value.strip() if cio_tag_attr and cio_tag_attr.value.strip() else None
    return _Anchor(
        key=f"tag:{cio_tag}" if cio_tag else None,
        tag=cio_tag,
        untracked="untracked" in classes,
        no_params="disable-url-params" in classes,
        quote=quote,
        passthrough=False,
        is_a=tag.name == "a",
    )


def _with_pixel(segments: list[str], url: str) -> list[str]:
    """The segments with the open pixel before the last `</body` (or at the very end)."""
    pixel = _PIXEL.format(url=url)
    for i in range(len(segments) - 1, -1, -1):
        at = _body_end(segments[i])
        if at >= 0:
            return [*segments[:i], segments[i][:at] + pixel + segments[i][at:], *segments[i + 1 :]]
    return [*segments[:-1], segments[-1] + pixel]


def _strip_markers(text: str, markers: _Markers) -> str:
    text = markers.marked.sub(lambda m: m.group(2), text)
    if markers.done_open in text:
        text = text.replace(markers.done_open, "").replace(markers.done_close, "")
    return text


def _body_end(html: str) -> int:
    """Offset of the last `</body` (any case) in `html`, or -1."""
    at = html.rfind("</body")
    if at >= 0:
        return at
    ends = list(_BODY_END.finditer(html))
    return ends[-1].start() if ends else -1


@dataclass(frozen=True, slots=True)
class Composed:
    """A message as sent to one recipient."""

    subject: str | None
    html: str | None
    text: str | None
    links: list[TrackedLink]
    warnings: list[ComposeWarning]


class Message:
    """The parts of one message (subject, HTML, text), prepared once for many sends."""

    def __init__(
        self,
        *,
        channel: Channel = "email",
        subject: str | None = None,
        html: str | None = None,
        text: str | None = None,
        liquid: bool = True,
    ) -> None:
        self.channel = channel
        self.subject = compile_liquid(subject, "subject") if liquid and subject else None
        self._subject_literal = subject
        self.html = Template(html, "html", liquid=liquid, what="body") if html is not None else None
        self.text = (
            Template(text, "text", liquid=liquid, what="plain-text body")
            if text is not None
            else None
        )

    def compose(self, tracking: Tracking) -> Composed:
        """Render and track every part for one recipient."""
        if self.subject is not None:
            subject: str | None = render_liquid(self.subject, tracking.scope, "subject")
        else:
            subject = self._subject_literal
        html = self.html.render(tracking) if self.html is not None else None
        text = self.text.render(tracking) if self.text is not None else None
        return Composed(subject, html, text, tracking.found, tracking.warnings)
