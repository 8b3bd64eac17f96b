"""The click map: a message as sent, its links made inert and badged with their clicks.

Pure. The caller says which link an anchor is (`LinkOf`: a signed click URL's
token in a delivery, the identity key in a template) and what each link's
badge reads; the HTML is edited at the scanner's source spans, everything
else left as it was sent.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from linktrack.core import htmlscan, textlinks
from linktrack.core.tokens import KeyRing, TokenError, split_path

# (raw href as written in the source, data-cio-tag or None) → the link's id, or None.
LinkOf = Callable[[str, str | None], int | None]

_LIQUID: Final = ("{{", "{%")
_TAGS: Final = frozenset({"a", "img", "head", "body", "html", "title"})
_END_A: Final = re.compile(r"</a[\t\n\f\r />]", re.IGNORECASE)
_OPEN_PATH: Final = "/e/o/"
# The badges' look, injected into the document: the message's own CSS cannot
# reach a class this specific by accident.
STYLE: Final = (
    "<style>.lt-badge{display:inline-block!important;margin:0 .3em!important;"
    "padding:0 .45em!important;border-radius:999px!important;background:#b42318!important;"
    "color:#fff!important;font:700 12px/1.7 system-ui,sans-serif!important;"
    "white-space:nowrap!important;text-decoration:none!important;vertical-align:middle!important;"
    "letter-spacing:0!important;text-transform:none!important}"
    ".lt-badge.lt-zero{background:#57606a!important}</style>"
)


@dataclass(frozen=True, slots=True)
class Badge:
    """What one link's badge says: its clicks and their share of the message's clicks."""

    clicks: int
    share: float

    @property
    def text(self) -> str:
        return f"{self.clicks:,} · {self.share * 100:.1f} %"

    def html(self) -> str:
        zero = " lt-zero" if self.clicks == 0 else ""
        label = f"{self.clicks:,} clicks, {self.share * 100:.1f} % of the message's clicks"
        return (
            f'<span class="lt-badge{zero}" title="{label}" aria-label="{label}">{self.text}</span>'
        )


def badges_of(clicks: Mapping[int, int]) -> dict[int, Badge]:
    """Each link's badge from its clicks; shares are of the sum over all `clicks`."""
    whole = sum(clicks.values())
    return {link: Badge(n, n / whole if whole else 0.0) for link, n in clicks.items()}


def badge_html(source: str, link_of: LinkOf, badges: Mapping[int, Badge]) -> str:
    """The HTML with every link inert (href="#"), a badge after each tracked link's
    anchor, open pixels emptied (viewing must not count an open), and the badge style."""
    edits: list[tuple[int, int, str]] = []
    items = [t for t in htmlscan.scan(source, _TAGS) if isinstance(t, htmlscan.StartTag)]
    anchors = [t for t in items if t.name == "a"]
    for i, tag in enumerate(anchors):
        href = tag.get("href")
        if href is None or href.value_start < 0:
            continue
        edits.append((href.value_start, href.value_end, "#"))
        cio_tag = tag.get("data-cio-tag")
        link = link_of(
            source[href.value_start : href.value_end], cio_tag.value if cio_tag else None
        )
        badge = badges.get(link) if link is not None else None
        if badge is not None:
            limit = anchors[i + 1].start if i + 1 < len(anchors) else len(source)
            at = _after_anchor(source, tag.end, limit)
            edits.append((at, at, badge.html()))
    for tag in items:
        src = tag.get("src") if tag.name == "img" else None
        if src is not None and src.value_start >= 0 and _is_open_pixel(src.value):
            edits.append((src.value_start, src.value_end, ""))
    edits.append(_head_insert(source, items))
    return _apply(source, edits)


def badge_text(source: str, link_of: LinkOf, badges: Mapping[int, Badge]) -> str:
    """A plain-text body (SMS, push, a text email) as a small HTML document: each
    link's URL shown as text (nothing to follow) with its badge after it."""
    out, last = [], 0
    for _start, end, url, _web in textlinks.find(source):
        out.append(htmllib.escape(source[last:end]))  # the URL stays, as text
        link = link_of(url, None)
        badge = badges.get(link) if link is not None else None
        if badge is not None:
            out.append(badge.html())
        last = end
    out.append(htmllib.escape(source[last:]))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Click map</title>'
        f"{STYLE}</head><body><pre>{''.join(out)}</pre></body></html>"
    )


def _after_anchor(source: str, start: int, limit: int) -> int:
    """Just past the anchor's `</a>` (before the next anchor), else past its start tag."""
    end = _END_A.search(source, start, limit)
    close = source.find(">", end.start()) if end else -1
    return close + 1 if close >= 0 else start


def _is_open_pixel(src: str) -> bool:
    return urlsplit(src.strip()).path.startswith(_OPEN_PATH)


def _head_insert(source: str, items: list[htmlscan.StartTag]) -> tuple[int, int, str]:
    """Where the badge style goes (and a title, if the message has none): the head,
    else the body, else the start."""
    extra = STYLE if any(t.name == "title" for t in items) else f"<title>Click map</title>{STYLE}"
    for name in ("head", "body", "html"):
        found = next((t for t in items if t.name == name), None)
        if found is not None:
            return found.end, found.end, extra
    return 0, 0, extra


def _apply(source: str, edits: list[tuple[int, int, str]]) -> str:
    out, last = [], 0
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < last:
            continue  # never overlaps in scanned HTML; a guard, not a path
        out.append(source[last:start])
        out.append(text)
        last = end
    out.append(source[last:])
    return "".join(out)


def tracked_link_of(ring: KeyRing, delivery_id: str, link_ids: Collection[int]) -> LinkOf:
    """Anchors of a delivery's body: the link id in its signed click URL, when the
    token is intact, of this delivery, and names one of its links."""

    def link_of(raw: str, tag: str | None) -> int | None:
        path = urlsplit(htmlscan.decode_value(raw).strip()).path
        try:
            _, payload, signature = split_path(path)
            token = ring.verify_click(payload, signature)
        except TokenError:
            return None
        if token.delivery_id != delivery_id or token.link_id not in link_ids:
            return None
        return token.link_id

    return link_of


def template_link_of(keys: Mapping[str, int]) -> LinkOf:
    """Anchors of a template: found by the identity key compose gives them
    (`tag:` from data-cio-tag, `tpl:` for a Liquid href, else `url:`)."""

    def link_of(raw: str, tag: str | None) -> int | None:
        if tag and tag.strip():
            return keys.get(f"tag:{tag.strip()}")
        if any(opener in raw for opener in _LIQUID):
            return keys.get(f"tpl:{raw.strip()}")
        return keys.get(f"url:{htmlscan.decode_value(raw).strip()}")

    return link_of
