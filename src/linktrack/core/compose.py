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

from linktrack.core import cio_link_tag, htmlscan, textlinks
from linktrack.core.settings import TrackingSettings
from linktrack.core.templating import compile_liquid, compiled_value, render_liquid
from linktrack.core.tokens import DeliverySigner, Signer
from linktrack.core.urls import UrlKind, add_params, classify, looks_secret

Channel = Literal["email", "sms", "whatsapp", "push", "in_app"]
Kind = Literal["html", "text"]

_OPEN, _MID, _CLOSE = "\ue000", "\ue001", "\ue002"
# cio_link output in text parts is fenced so the text rewriter leaves it alone.
_DONE_OPEN, _DONE_CLOSE = "\ue004", "\ue005"
_DONE = re.compile("\ue004([^\ue005]*)\ue005")
_MARKERS = frozenset(_OPEN + _MID + _CLOSE + _DONE_OPEN + _DONE_CLOSE)
_MARKED = re.compile("\ue000(\\d+)\ue001([^\ue000\ue001\ue002]*)\ue002")
_A_START = re.compile(r"<a[\s/>]", re.IGNORECASE)
_BODY_END = re.compile(r"</body", re.IGNORECASE)
_LIQUID = ("{{", "{%")
_CIO_PLACEHOLDER = "__linktrack_cio_id__"
_TAG_NAMES = frozenset({"a", "v:roundrect", "v:rect", "v:oval", "v:shape"})
_PIXEL = (
    '<img src="{url}" width="1" height="1" alt="" border="0" style="height:1px !important;'
    'width:1px !important;border-width:0 !important;margin:0 !important;padding:0 !important">'
)


_TRACK, _NO_PROTOCOL, _LEAVE = 0, 1, 2
# (code, url, destination head, tail, link key, link_id, looks secret)
_Plan = tuple[int, str, str, str, str, int, bool]


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

    def __post_init__(self) -> None:
        self._base = self.settings.base_url
        self._delivery_signer = self.signer.for_delivery(self.delivery_id)
        self.with_cio_id = bool(self.settings.add_cio_id and self.cio_id)

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
        tracked = self._base + self._delivery_signer.click_path(href, link_id, position)
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

    def cio_link_fenced(self, key: str, url: str, track: bool, url_params: bool) -> str:
        """`cio_link` in a text part: fenced so the text rewriter does not track it again."""
        return f"{_DONE_OPEN}{self.cio_link(key, url, track, url_params)}{_DONE_CLOSE}"

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


class Template:
    """A message part (HTML or text) prepared once, rendered per recipient."""

    def __init__(
        self, source: str, kind: Kind = "html", *, liquid: bool = True, what: str = "body"
    ):
        if _MARKERS.intersection(source):
            source = "".join(ch for ch in source if ch not in _MARKERS)
        self.kind = kind
        self.liquid = liquid
        self.what = what
        self._anchors: list[_Anchor] = []
        self._plan_cache: dict[
            tuple[object, tuple[tuple[str, str], ...], bool], list[dict[str, _Plan]]
        ] = {}
        marked = self._mark_html(source) if kind == "html" else self._mark_text(source)
        self._marked = marked
        self._static_unmarked = (
            len(_A_START.findall(marked)) - marked.count(_OPEN) if kind == "html" else 0
        )
        self._compiled: BoundTemplate | None = compile_liquid(marked, what) if liquid else None
        # Without Liquid the output is the marked source itself: find the edits once.
        self._literal_edits = None if liquid else self._edits(marked)

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
        out, last = [], 0
        for start, end, anchor in spans:
            out.append(source[last:start])
            index = len(self._anchors)
            out.append(f"{_OPEN}{index}{_MID}{source[start:end]}{_CLOSE}")
            self._anchors.append(replace(anchor, index=index))
            last = end
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
        klass = tag.get("class")
        classes = klass.value.split() if klass else []
        cio_tag_attr = tag.get("data-cio-tag")
        cio_tag = (
            cio_tag_attr.value.strip() if cio_tag_attr and cio_tag_attr.value.strip() else None
        )
        has_liquid = self.liquid and any(m in raw for m in _LIQUID)
        key: str | None = None
        if cio_tag:
            key = f"tag:{cio_tag}"
        elif has_liquid:
            key = f"tpl:{raw.strip()}"
        spans.append(
            (
                start,
                end,
                _Anchor(
                    key=key,
                    tag=cio_tag,
                    untracked="untracked" in classes,
                    no_params="disable-url-params" in classes,
                    quote=href.quote,
                    passthrough=has_liquid and "cio_link" in raw,
                ),
            )
        )

    def _mark_text(self, source: str) -> str:
        out, last = [], 0
        for start, end, is_expr in textlinks.candidates(source, liquid=self.liquid):
            out.append(source[last:start])
            raw = source[start:end]
            key = f"tpl:{raw.strip()}" if is_expr or any(m in raw for m in _LIQUID) else None
            index = len(self._anchors)
            out.append(f"{_OPEN}{index}{_MID}{raw}{_CLOSE}")
            self._anchors.append(_Anchor(key, None, False, False, "", False, index))
            last = end
        out.append(source[last:])
        return "".join(out)

    # -- rendering ---------------------------------------------------------------------

    def render(self, tracking: Tracking) -> str:
        """The part as sent to one recipient; links and warnings land on `tracking`."""
        if self._compiled is None:
            rendered = self._marked
        else:
            hook = tracking.cio_link if self.kind == "html" else tracking.cio_link_fenced
            token = cio_link_tag.current_link_hook.set(hook)
            try:
                rendered = render_liquid(self._compiled, tracking.scope, self.what)
            finally:
                cio_link_tag.current_link_hook.reset(token)
        if self.kind == "html":
            return self._rewrite_html(rendered, tracking)
        return self._rewrite_text(rendered, tracking)

    def _rewrite_html(self, rendered: str, tracking: Tracking) -> str:
        track_links = tracking.tracked and tracking.channel == "email"
        if self._literal_edits is not None:
            edits = self._literal_edits
        else:
            edits = self._edits(rendered)
            # Liquid output may have produced anchors the template did not have.
            if track_links and len(_A_START.findall(rendered)) - len(edits) > self._static_unmarked:
                edits = self._with_unmarked(rendered, edits)
        # The pixel goes in while splicing: every extra copy of a 60 KB string costs.
        pixel_at = -1
        if tracking.tracked and tracking.settings.open_tracking and tracking.channel == "email":
            pixel_at = _body_end(rendered)
        # The hot loop: one dict lookup for everything that is the same for every
        # recipient of a link, then sign. Kept flat on purpose (see PERF notes).
        plans = self._plans_for(tracking)
        sign = tracking._delivery_signer.click_path
        base = tracking._base
        cio_id = tracking.cio_id or ""
        with_cio_id = tracking.with_cio_id
        shorten = tracking.shorten
        found = tracking.found
        out: list[str] = []
        append = out.append
        last = 0
        position = 0
        for start, end, anchor, raw in edits:
            if last <= pixel_at <= start:
                append(rendered[last:pixel_at])
                append(_PIXEL.format(url=tracking.open_url()))
                last, pixel_at = pixel_at, -1
            append(rendered[last:start])
            last = end
            position += 1
            if anchor.passthrough or anchor.untracked or not track_links:
                append(raw)
                continue
            if anchor.index >= 0:
                cache = plans[anchor.index]
                plan = cache.get(raw)
                if plan is None:
                    plan = cache[raw] = self._plan(raw, anchor, tracking)
            else:
                plan = self._plan(raw, anchor, tracking)
            code, url, head, tail, key, link_id, secret = plan
            if code:
                if code == _NO_PROTOCOL:
                    tracking.warn_no_protocol(url)
                append(raw)
                continue
            href = f"{head}{cio_id}{tail}" if with_cio_id else head
            tracked = base + sign(href, link_id, position)
            if shorten is not None:
                tracked = shorten(tracked)
            found.append(_new_link((link_id, key, anchor.tag, url, href, position, tracked)))
            if secret:
                tracking.warn_secret(url)
            # A tracked URL is base64url, hex and a validated domain: no escaping needed.
            append(tracked)
        if pixel_at >= last:
            append(rendered[last:pixel_at])
            append(_PIXEL.format(url=tracking.open_url()))
            last = pixel_at
        out.append(rendered[last:])
        return "".join(out)

    def _edits(self, rendered: str) -> list[tuple[int, int, _Anchor, str]]:
        anchors = self._anchors
        return [
            (m.start(), m.end(), anchors[int(m.group(1))], m.group(2))
            for m in _MARKED.finditer(rendered)
        ]

    def _with_unmarked(
        self, rendered: str, edits: list[tuple[int, int, _Anchor, str]]
    ) -> list[tuple[int, int, _Anchor, str]]:
        """Anchors that Liquid output produced (not in the template): keyed by their URL."""
        for item in htmlscan.scan(rendered, frozenset({"a"})):
            if not isinstance(item, htmlscan.StartTag):
                continue
            href = item.get("href")
            if href is None or href.value_start < 0:
                continue
            raw = rendered[href.value_start : href.value_end]
            if _OPEN in raw or _CLOSE in raw:
                continue
            klass = item.get("class")
            classes = klass.value.split() if klass else []
            cio_tag_attr = item.get("data-cio-tag")
            cio_tag = cio_tag_attr.value.strip() if cio_tag_attr else None
            anchor = _Anchor(
                f"tag:{cio_tag}" if cio_tag else None,
                cio_tag or None,
                "untracked" in classes,
                "disable-url-params" in classes,
                href.quote,
                False,
            )
            edits.append((href.value_start, href.value_end, anchor, raw))
        edits.sort(key=lambda edit: edit[0])
        return edits

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
            return code, url, "", "", "", 0, False
        key = anchor.key or f"url:{url}"
        return _TRACK, url, head, tail, key, tracking.links.link_id(key, url, anchor.tag), secret

    def _rewrite_text(self, rendered: str, tracking: Tracking) -> str:
        channel = tracking.channel
        if channel in ("push", "in_app"):
            return _strip_markers(rendered)
        track = tracking.tracked and channel in ("email", "sms")
        params = channel == "email"
        out: list[str] = []
        position = 0
        for text, anchor in self._text_pieces(rendered):
            for chunk, done in _split_done(text):
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
        for match in _MARKED.finditer(rendered):
            pieces.append((rendered[last : match.start()], None))
            pieces.append((match.group(2), self._anchors[int(match.group(1))]))
            last = match.end()
        pieces.append((rendered[last:], None))
        return pieces


def _split_done(text: str) -> list[tuple[str, bool]]:
    """Split out what cio_link already rendered, so it is not tracked twice."""
    if _DONE_OPEN not in text:
        return [(text, False)]
    chunks: list[tuple[str, bool]] = []
    last = 0
    for match in _DONE.finditer(text):
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


def _strip_markers(text: str) -> str:
    text = _MARKED.sub(lambda m: m.group(2), text)
    return text.replace(_DONE_OPEN, "").replace(_DONE_CLOSE, "") if _DONE_OPEN in text else text


def _body_end(html: str) -> int:
    """Where the open pixel goes: before the last `</body`, else at the end."""
    at = html.rfind("</body")
    if at >= 0:
        return at
    ends = list(_BODY_END.finditer(html))
    return ends[-1].start() if ends else len(html)


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
