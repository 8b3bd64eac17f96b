"""`{% linktrack_href N %}…{% endlinktrack_href %}`: an href value, tracked as it renders.

The compose pipeline wraps each href value of an HTML template in this block
(and puts `{% linktrack_pixel %}` where the open pixel goes), so a render
writes the finished message in one pass: no markers to find and splice
afterwards. Template authors never write these tags.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, TextIO

from liquid.ast import BlockNode, Node
from liquid.exceptions import LiquidSyntaxError
from liquid.parser import get_parser
from liquid.tag import Tag
from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG, Token

if TYPE_CHECKING:
    from liquid import Environment
    from liquid.context import RenderContext
    from liquid.stream import TokenStream

TAG_HREF = sys.intern("linktrack_href")
TAG_ENDHREF = sys.intern("endlinktrack_href")
TAG_PIXEL = sys.intern("linktrack_pixel")
_END = frozenset((TAG_ENDHREF,))


class HrefHooks:
    """What a render needs from the pipeline: the tracked value of href n, the pixel."""

    href: Callable[[int, str], str]
    pixel: Callable[[], str]


current_href_hooks: ContextVar[HrefHooks | None] = ContextVar("linktrack_href_hooks", default=None)


class HrefNode(Node):
    """Renders its body (the author's href value), then hands it to the pipeline."""

    __slots__ = ("block", "index")

    def __init__(self, token: Token, index: int, block: BlockNode) -> None:
        super().__init__(token)
        self.blank = False  # it writes output: a block holding it is not blank
        self.index = index
        self.block = block

    def __str__(self) -> str:
        return f"{{% linktrack_href {self.index} %}}{self.block}{{% endlinktrack_href %}}"

    def _finish(self, buffer: TextIO, value: str) -> int:
        hooks = current_href_hooks.get()
        return buffer.write(hooks.href(self.index, value) if hooks is not None else value)

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        buf = context.get_buffer(buffer)
        self.block.render(context, buf)
        return self._finish(buffer, buf.getvalue())

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        buf = context.get_buffer(buffer)
        await self.block.render_async(context, buf)
        return self._finish(buffer, buf.getvalue())

    def children(
        self, static_context: RenderContext, *, include_partials: bool = True
    ) -> Iterable[Node]:
        yield self.block


class HrefTag(Tag):
    """Parses `{% linktrack_href N %}` … `{% endlinktrack_href %}`."""

    name = TAG_HREF
    end = TAG_ENDHREF
    node_class = HrefNode

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.parser = get_parser(self.env)

    def parse(self, stream: TokenStream) -> Node:
        token = stream.eat(TOKEN_TAG)
        expr = stream.current
        if expr.kind != TOKEN_EXPRESSION or not (
            expr.value.strip().isascii() and expr.value.strip().isdigit()
        ):
            raise LiquidSyntaxError("linktrack_href needs an index", token=token)
        stream.next_token()
        block = self.parser.parse_block(stream, _END)
        stream.expect(TOKEN_TAG, value=TAG_ENDHREF)
        return self.node_class(token, int(expr.value), block)


class PixelNode(Node):
    """Where the open pixel goes (empty when opens are not tracked)."""

    __slots__ = ()

    def __init__(self, token: Token) -> None:
        super().__init__(token)
        self.blank = False

    def __str__(self) -> str:
        return "{% linktrack_pixel %}"

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        hooks = current_href_hooks.get()
        return buffer.write(hooks.pixel()) if hooks is not None else 0


class PixelTag(Tag):
    name = TAG_PIXEL
    block = False
    node_class = PixelNode

    def parse(self, stream: TokenStream) -> Node:
        # Leave the tag as the current token: the parser steps past it.
        return self.node_class(stream.current)
