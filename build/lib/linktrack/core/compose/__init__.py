"""The compose pipeline: identify links in the template, render Liquid, rewrite links.

A template is prepared once: its links are found in the *source* (so a
personalised `href="{{trigger.url}}"` is one link for every recipient) and each
href value is wrapped in invisible markers. Per recipient, Liquid renders the
marked source and the markers tell exactly which spans to replace; everything
else in the output is left byte for byte as rendered.

`message` is the public entry (`Message.compose(Tracking(...))`), `template`
one part, `anchors` the links found in its source, `markers` the invisible
marks, `tracking` one delivery's state and results, `render_tracking` the
per-href hot path, `destinations` URL parameters and `_cio_id`, `pixel` the
open pixel.
"""

from __future__ import annotations

from linktrack.core.compose.message import Composed, Message
from linktrack.core.compose.template import Template
from linktrack.core.compose.tracking import (
    ComposeWarning,
    LinkTable,
    MemoryLinkTable,
    TrackedLink,
    Tracking,
)

__all__ = [
    "ComposeWarning",
    "Composed",
    "LinkTable",
    "MemoryLinkTable",
    "Message",
    "Template",
    "TrackedLink",
    "Tracking",
]
