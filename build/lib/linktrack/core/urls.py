"""URL rules: which hrefs are tracked, and how URL parameters are added."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import parse_qsl, quote

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_NEVER_SCHEMES = frozenset({"mailto", "tel", "sms", "callto", "javascript", "data", "cid"})
# A query parameter whose name says it carries a secret: such links should not be tracked.
_SECRET_NAME = re.compile(
    r"(token|reset|passw|pwd|secret|signature|^sig$|key|auth|otp|nonce|session)",
    re.IGNORECASE,
)
# A token-looking path segment right after a reset/verify/login-style segment.
_SECRET_PATH = re.compile(
    r"/(reset|password|passwd|verify|confirm|magic[-_]?link|login|invite|activate)[^/]*"
    r"/[A-Za-z0-9_\-]{8,}",
    re.IGNORECASE,
)
_PARAM_SAFE = "-._~!$'()*,;:@/?"  # not "+": a query decodes it as a space


_PLAIN_ATTR = re.compile(r"[A-Za-z0-9:/._~%?=+\-]*")


class UrlKind(enum.Enum):
    """How a link is treated at send time."""

    TRACKED = "tracked"  # http(s): rewritten to a tracked URL
    NO_PROTOCOL = "no_protocol"  # looks like a web address but lacks http(s): warned, left
    NEVER = "never"  # mailto:, tel:, sms:, #anchor, other schemes: left alone
    EMPTY = "empty"


def classify(href: str) -> UrlKind:
    """Decide from the decoded href whether it can be tracked."""
    url = href.strip()
    if not url:
        return UrlKind.EMPTY
    if url.startswith("#"):
        return UrlKind.NEVER
    match = _SCHEME.match(url)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("http", "https"):
            # "https:x" without "//" is a mistyped address: signed, it would never redirect.
            if not url.startswith("//", len(scheme) + 1):
                return UrlKind.NO_PROTOCOL
            return UrlKind.TRACKED if len(url) > len(scheme) + 3 else UrlKind.NEVER
        if scheme in _NEVER_SCHEMES:
            return UrlKind.NEVER
        # "example.com:8080/x" parses as scheme "example.com": that is a missing protocol.
        return UrlKind.NO_PROTOCOL if "." in scheme else UrlKind.NEVER
    if url.startswith("{{") or url.startswith("{%"):
        return UrlKind.NEVER
    return UrlKind.NO_PROTOCOL


def add_params(url: str, params: Iterable[tuple[str, str]]) -> str:
    """Append query parameters, keeping the author's ones and their encoding; fragment last."""
    base, hash_, fragment = url.partition("#")
    path, qmark, query = base.partition("?")
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    added = []
    for name, value in params:
        if name in present:
            continue
        present.add(name)
        added.append(f"{quote(name, safe=_PARAM_SAFE)}={quote(value, safe=_PARAM_SAFE)}")
    if not added:
        return url
    joined = "&".join(added)
    if not qmark:
        query = joined
    elif not query or query.endswith("&"):
        query = query + joined
    else:
        query = f"{query}&{joined}"
    return f"{path}?{query}{hash_}{fragment}"


@lru_cache(maxsize=65536)
def looks_secret(url: str) -> bool:
    """True when a link's query or path suggests it carries a secret (reset, token, …)."""
    _, _, rest = url.partition("?")
    query = rest.partition("#")[0]
    if any(_SECRET_NAME.search(name) for name, _ in parse_qsl(query, keep_blank_values=True)):
        return True
    return bool(_SECRET_PATH.search(url.partition("?")[0]))


def html_attr_escape(value: str, quote_char: str) -> str:
    """Escape a URL for writing back into an attribute quoted with `quote_char`."""
    if _PLAIN_ATTR.fullmatch(value):
        return value
    value = value.replace("&", "&amp;")
    if quote_char == '"':
        return value.replace('"', "&quot;")
    if quote_char == "'":
        return value.replace("'", "&#39;")
    return (
        value.replace('"', "&quot;").replace("'", "&#39;").replace(">", "&gt;").replace(" ", "%20")
    )
