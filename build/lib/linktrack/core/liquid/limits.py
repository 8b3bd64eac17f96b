"""What one render of a tenant's template may cost: loops, memory, output and time.

python-liquid bounds nested loop iterations and the size of assigned values
(`LimitedEnvironment`). Output size and render time are bounded here, where
the work repeats: at each loop iteration, each `{{ output }}` and each
assign (filters run only in those two), so a template over a limit stops
within a few milliseconds of it with a `RenderLimitError` naming the line. Plain text
between tags is not checked per write (that is the hot path of every
message); it only repeats through loops, which are.
"""

from __future__ import annotations

import time
from typing import Any, Final, TextIO

from liquid import BoundTemplate, Environment, RenderContext
from liquid.ast import BlockNode
from liquid.builtin.tags.for_tag import ForNode, ForTag
from liquid.builtin.tags.tablerow_tag import TablerowNode, TablerowTag
from liquid.exceptions import ResourceLimitError
from liquid.token import Token

LOOP_ITERATIONS: Final = 100_000  # of nested loops together (their lengths multiplied)
NAMESPACE_BYTES: Final = 4 << 20  # what `assign` and `capture` may hold
OUTPUT_CHARACTERS: Final = 4 << 20  # of one rendered part (subject, body, text)
RENDER_SECONDS: Final = 0.25  # per part: a message's parts render within a second

_monotonic = time.monotonic


class RenderLimitError(ResourceLimitError):
    """A render that went over its output or time budget."""


class LimitedContext(RenderContext):
    """A render context with a deadline, checked wherever a template's work repeats."""

    __slots__ = ("deadline",)  # as RenderContext's own: no __dict__ to slow every lookup

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = _monotonic() + RENDER_SECONDS

    def assign(self, key: str, val: Any) -> None:
        # Filters run in outputs and assigns only: checking after each bounds them too.
        super().assign(key, val)
        check_time(self, None)


def check_time(context: RenderContext, token: Token | None) -> None:
    """Raise `RenderLimitError` once the render's deadline has passed."""
    deadline: float | None = getattr(context, "deadline", None)
    if deadline is not None and _monotonic() > deadline:
        raise RenderLimitError(
            f"the template took longer than {RENDER_SECONDS:g} s to render", token=token
        )


def check_output(buffer: TextIO, adding: int, token: Token | None) -> None:
    """Raise `RenderLimitError` when `buffer` would grow past the output limit."""
    if buffer.tell() + adding > OUTPUT_CHARACTERS:
        raise RenderLimitError(
            f"the rendered template is larger than {OUTPUT_CHARACTERS >> 20} MiB", token=token
        )


class _BudgetedBlock(BlockNode):
    """A loop's body: each iteration first checks the render's time and output."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        check_time(context, self.token)
        check_output(buffer, 0, self.token)
        return super().render_to_output(context, buffer)

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        check_time(context, self.token)
        check_output(buffer, 0, self.token)
        return await super().render_to_output_async(context, buffer)


def _budgeted(block: BlockNode) -> BlockNode:
    return _BudgetedBlock(block.token, block.nodes)


class LimitedForNode(ForNode):
    """`{% for %}` whose every iteration is checked."""

    __slots__ = ()

    def __init__(self, token: Token, expression: Any, block: BlockNode, default: Any = None):
        super().__init__(token, expression, _budgeted(block), default)


class LimitedFor(ForTag):
    node_class = LimitedForNode


class LimitedTablerowNode(TablerowNode):
    """`{% tablerow %}` whose every iteration is checked."""

    __slots__ = ()

    def __init__(self, token: Token, expression: Any, block: BlockNode):
        super().__init__(token, expression, _budgeted(block))


class LimitedTablerow(TablerowTag):
    node_class = LimitedTablerowNode


class LimitedTemplate(BoundTemplate):
    context_class = LimitedContext


class LimitedEnvironment(Environment):
    """python-liquid's own limits, set; the rest is `LimitedContext` and the tags above."""

    loop_iteration_limit = LOOP_ITERATIONS
    local_namespace_limit = NAMESPACE_BYTES
    template_class = LimitedTemplate
