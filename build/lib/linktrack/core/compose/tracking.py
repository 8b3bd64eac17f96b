"""One delivery's link tracking: its settings and signer, the links and warnings it collects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, Protocol

import orjson

from linktrack.core.compose.destinations import destination_parts, param_value
from linktrack.core.compose.markers import Markers
from linktrack.core.errors import Unprocessable
from linktrack.core.liquid import LinkHook
from linktrack.core.model import Channel
from linktrack.core.settings import TrackingSettings
from linktrack.core.tokens import DeliverySigner, Signer
from linktrack.core.urls import UrlKind, add_params, classify, looks_secret


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

# What one composed message may carry: each tracked link is a row of the delivery and,
# when new, a lookup and a row of its message; a tag is stored in a 255-character column.
MAX_LINKS: Final = 1_000
TAG_LENGTH: Final = 255


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
    delivery_signer: DeliverySigner = field(init=False)
    with_cio_id: bool = False
    cio_json: bytes = b""
    _link_lookups: int = 0

    def __post_init__(self) -> None:
        self._base = self.settings.base_url
        self.delivery_signer = self.signer.for_delivery(self.delivery_id, self._base)
        self.with_cio_id = bool(self.settings.add_cio_id and self.cio_id)
        self.cio_json = orjson.dumps(self.cio_id or "")[1:-1]

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """Workspace URL parameters, their Liquid values rendered once per delivery."""
        if self._params is None:
            self._params = tuple(
                (name, param_value(value, self.scope))
                for name, value in self.settings.url_params.items()
            )
        return self._params

    def destination(self, url: str, with_params: bool) -> str:
        """`url` plus URL parameters (unless disabled) plus `_cio_id` when enabled."""
        head, tail, has_id = destination_parts(
            url,
            self.params if with_params else (),
            bool(self.settings.add_cio_id and self.cio_id),
        )
        return f"{head}{self.cio_id}{tail}" if has_id else head

    def link_id(self, key: str, url: str, tag: str | None) -> int:
        """The link's id in the message's link table, within the limits on links and tags."""
        self._link_lookups += 1
        if self._link_lookups > MAX_LINKS:
            raise Unprocessable(f"a message may carry at most {MAX_LINKS:,} tracked links")
        if tag is not None and len(tag) > TAG_LENGTH:
            raise Unprocessable(f"a data-cio-tag is at most {TAG_LENGTH} characters: {tag[:40]}…")
        return self.links.link_id(key, url, tag)

    def track(self, key: str, tag: str | None, url: str, position: int, params: bool) -> str:
        """Sign one link; returns the tracked URL that replaces it."""
        return self._sign(key, tag, url, self.destination(url, params), position, looks_secret(url))

    def _sign(
        self, key: str, tag: str | None, url: str, href: str, position: int, secret: bool
    ) -> str:
        link_id = self.link_id(key, url, tag)
        tracked = self.delivery_signer.click_path(href, link_id, position)
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

    def fenced_cio_link(self, markers: Markers) -> LinkHook:
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
