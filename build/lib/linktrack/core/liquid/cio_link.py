"""The `cio_link` tag: `{% cio_link url:https://x.com track:true url_params:true %}`."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, TextIO

from liquid.ast import Node
from liquid.builtin.expressions import FilteredExpression
from liquid.exceptions import LiquidSyntaxError
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG, Token

if TYPE_CHECKING:
    from liquid.context import RenderContext
    from liquid.expression import Expression

TAG_CIO_LINK = sys.intern("cio_link")

# The render-time hook: (link key, url, track, url_params) -> the text to output.
LinkHook = Callable[[str, str, bool, bool], str]
current_link_hook: ContextVar[LinkHook | None] = ContextVar("cio_link_hook", default=None)

_ARG = re.compile(r"(url|track|url_params)\s*:\s*", re.IGNORECASE)
_BOOL = {"true": True, "false": False}


class CioLinkNode(Node):
    """Renders a destination URL, tracked (signed) or not, with or without URL parameters."""

    __slots__ = ("key", "literal", "track", "url", "url_params")

    def __init__(
        self,
        token: Token,
        *,
        key: str,
        literal: str | None,
        url: Expression | None,
        track: bool,
        url_params: bool,
    ) -> None:
        super().__init__(token)
        self.blank = False  # it writes output: a block holding it is not blank
        self.key = key
        self.literal = literal
        self.url = url
        self.track = track
        self.url_params = url_params

    def __str__(self) -> str:
        return f"{{% cio_link {self.key} %}}"

    def _emit(self, url: object, buffer: TextIO) -> int:
        text = "" if url is None else str(url).strip()
        hook = current_link_hook.get()
        out = hook(self.key, text, self.track, self.url_params) if hook else text
        return buffer.write(out)

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Render the link through the compose pipeline's hook."""
        url = self.literal if self.url is None else self.url.evaluate(context)
        return self._emit(url, buffer)

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        """Render the link through the compose pipeline's hook."""
        url = self.literal if self.url is None else await self.url.evaluate_async(context)
        return self._emit(url, buffer)

    def expressions(self) -> Iterable[Expression]:
        """The URL expression, when the URL is a variable."""
        if self.url is not None:
            yield self.url


class CioLinkTag(Tag):
    """Parse `url:` (unquoted, quoted or a variable), `track:` and `url_params:`."""

    name = TAG_CIO_LINK
    block = False
    node_class = CioLinkNode

    def parse(self, stream: TokenStream) -> Node:
        """Split the raw arguments ourselves: an unquoted URL is not a Liquid expression."""
        token = stream.eat(TOKEN_TAG)
        expr = stream.current
        if expr.kind != TOKEN_EXPRESSION:
            raise LiquidSyntaxError("cio_link needs url:<address>", token=token)
        args = self._split(expr.value, token)
        if "url" not in args:
            raise LiquidSyntaxError("cio_link needs url:<address>", token=token)
        raw_url = args["url"]
        flags = {}
        for name in ("track", "url_params"):
            value = args.get(name, "true").lower()
            if value not in _BOOL:
                raise LiquidSyntaxError(f"cio_link {name}: must be true or false", token=token)
            flags[name] = _BOOL[value]
        literal: str | None = None
        url: Expression | None = None
        if raw_url[:1] in ("'", '"') and raw_url[-1:] == raw_url[:1] and len(raw_url) >= 2:
            literal = raw_url[1:-1]
        elif ":" in raw_url or "/" in raw_url or raw_url.startswith("#"):
            literal = raw_url
        else:
            sub = Token(TOKEN_EXPRESSION, raw_url, expr.start_index, expr.source)
            url = FilteredExpression.parse(self.env, _inner(sub))
        return self.node_class(
            token,
            key=f"cio:{raw_url}",
            literal=literal,
            url=url,
            track=flags["track"],
            url_params=flags["url_params"],
        )

    @staticmethod
    def _split(text: str, token: Token) -> dict[str, str]:
        """`url:X track:false` → {"url": "X", "track": "false"}; values end at the next arg."""
        matches = list(_ARG.finditer(text))
        if not matches or text[: matches[0].start()].strip():
            raise LiquidSyntaxError("cio_link needs url:<address>", token=token)
        args: dict[str, str] = {}
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            args[match.group(1).lower()] = text[match.end() : end].strip()
        return args


def _inner(token: Token) -> TokenStream:
    stream = TokenStream(iter([token]))
    return stream.into_inner(tag=token)
