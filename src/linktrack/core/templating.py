"""The Liquid environment: python-liquid plus the Customer.io tags."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError

from linktrack.core.cio_link_tag import CioLinkTag

SCOPES = ("customer", "trigger", "event", "campaign", "message")


class TemplateError(ValueError):
    """A template the author must fix; the message names the line."""


def _make_environment() -> Environment:
    env = Environment()
    env.add_tag(CioLinkTag)
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
