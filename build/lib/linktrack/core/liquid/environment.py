"""The Liquid environment: python-liquid plus the Customer.io tags."""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TextIO

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags.echo_tag import EchoNode, EchoTag
from liquid.exceptions import LiquidError
from liquid.stringify import to_liquid_string

from linktrack.core.liquid.cio_link import CioLinkTag
from linktrack.core.liquid.href import HrefTag, PixelTag
from linktrack.core.liquid.limits import (
    LimitedEnvironment,
    LimitedFor,
    LimitedTablerow,
    check_output,
    check_time,
)


class TemplateError(ValueError):
    """A template the author must fix; the message names the line."""


class OutputWatch:
    """Set while rendering: did any `{{ output }}` write something that opens an <a> tag,
    or one of the compose pipeline's marker characters (`marks`)?"""

    __slots__ = ("anchors", "marked", "marks")

    def __init__(self, marks: re.Pattern[str] | None = None) -> None:
        self.anchors = False
        self.marks = marks
        self.marked = False


current_watch: ContextVar[OutputWatch | None] = ContextVar("output_watch", default=None)


def _write(node: OutputNode, context: RenderContext, buffer: TextIO, value: object) -> int:
    text = to_liquid_string(value, context.autoescape)
    check_time(context, node.token)
    check_output(buffer, len(text), node.token)
    watch = current_watch.get()
    if watch is not None:
        if "<a" in text or "<A" in text:
            watch.anchors = True
        if watch.marks is not None and watch.marks.search(text):
            watch.marked = True
    return buffer.write(text)


class WatchedOutputNode(OutputNode):
    """`{{ … }}` that tells the compose pipeline when it produced an anchor."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return _write(self, context, buffer, self.expression.evaluate(context))

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        return _write(self, context, buffer, await self.expression.evaluate_async(context))


class WatchedEchoNode(WatchedOutputNode, EchoNode):
    """`{% echo %}`, watched the same way: WatchedOutputNode renders, EchoNode prints the source."""

    __slots__ = ()


class WatchedOutput(Output):
    node_class = WatchedOutputNode


class WatchedEcho(EchoTag):
    node_class = WatchedEchoNode


def _make_environment() -> Environment:
    env = LimitedEnvironment()
    env.add_tag(LimitedFor)
    env.add_tag(LimitedTablerow)
    env.add_tag(CioLinkTag)
    env.add_tag(HrefTag)
    env.add_tag(PixelTag)
    env.add_tag(WatchedOutput)
    env.add_tag(WatchedEcho)
    return env


ENV = _make_environment()


def _describe(exc: LiquidError, what: str) -> TemplateError:
    context = exc.context()
    where = f" on line {context[0]}" if context else ""
    return TemplateError(f"{what}{where}: {exc.message}")


def compile_liquid(source: str, what: str = "template") -> BoundTemplate:
    """Parse Liquid; a syntax error becomes a TemplateError naming the line."""
    try:
        return ENV.from_string(source)
    except LiquidError as exc:
        raise _describe(exc, f"Liquid error in {what}") from None


def render_liquid(template: BoundTemplate, scope: dict[str, Any], what: str = "template") -> str:
    """Render with the message scopes; a render error becomes a TemplateError."""
    try:
        return template.render(**scope)
    except LiquidError as exc:
        raise _describe(exc, f"Liquid error in {what}") from None


@lru_cache(maxsize=1024)
def compiled_value(source: str) -> BoundTemplate:
    """A small Liquid snippet (a URL parameter value), compiled once."""
    return compile_liquid(source, "URL parameter")
