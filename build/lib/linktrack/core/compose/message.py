"""A message (subject, HTML, text) prepared once, composed per recipient."""

from __future__ import annotations

from dataclasses import dataclass

from linktrack.core.compose.template import Template
from linktrack.core.compose.tracking import MAX_LINKS, ComposeWarning, TrackedLink, Tracking
from linktrack.core.errors import Unprocessable
from linktrack.core.liquid import compile_liquid, render_liquid
from linktrack.core.model import Channel


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
        if len(tracking.found) > MAX_LINKS:
            raise Unprocessable(f"a message may carry at most {MAX_LINKS:,} tracked links")
        return Composed(subject, html, text, tracking.found, tracking.warnings)
