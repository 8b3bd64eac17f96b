"""linktrack: self-hosted link tracking for messages.

The Python API composes and tracks a message without the server: render its
Liquid, rewrite every link into a signed tracked link (byte-exact elsewhere),
and verify such a link later. README, "Python API", has a whole example::

    from linktrack import KeyRing, MemoryLinkTable, Message, SigningKey, Tracking
    from linktrack import TrackingSettings

    keys = KeyRing([SigningKey("k1", b"a long random secret")])
    composed = Message(html='<a href="https://shop.example/">shop</a>').compose(
        Tracking(settings=TrackingSettings(tracking_domain="links.example.com"),
                 signer=keys.signer("k1"), delivery_id="d-1", links=MemoryLinkTable())
    )

Names are imported on first use, so `import linktrack` stays cheap for the
command line and the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linktrack.core.compose import (
        Composed,
        ComposeWarning,
        MemoryLinkTable,
        Message,
        TrackedLink,
        Tracking,
    )
    from linktrack.core.errors import Unprocessable
    from linktrack.core.liquid import TemplateError
    from linktrack.core.settings import TrackingSettings
    from linktrack.core.tokens import ClickToken, KeyRing, OpenToken, SigningKey, TokenError

_HOMES = {
    "Composed": "linktrack.core.compose",
    "ComposeWarning": "linktrack.core.compose",
    "MemoryLinkTable": "linktrack.core.compose",
    "Message": "linktrack.core.compose",
    "TrackedLink": "linktrack.core.compose",
    "Tracking": "linktrack.core.compose",
    "Unprocessable": "linktrack.core.errors",
    "TemplateError": "linktrack.core.liquid",
    "TrackingSettings": "linktrack.core.settings",
    "ClickToken": "linktrack.core.tokens",
    "KeyRing": "linktrack.core.tokens",
    "OpenToken": "linktrack.core.tokens",
    "SigningKey": "linktrack.core.tokens",
    "TokenError": "linktrack.core.tokens",
}
__all__ = [
    "ClickToken",
    "ComposeWarning",
    "Composed",
    "KeyRing",
    "MemoryLinkTable",
    "Message",
    "OpenToken",
    "SigningKey",
    "TemplateError",
    "TokenError",
    "TrackedLink",
    "Tracking",
    "TrackingSettings",
    "Unprocessable",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'linktrack' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
