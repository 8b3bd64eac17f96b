"""The click rules, once: verify a tracked link, then the event a click or an open records.

Both HTTP paths call these: the fast path (`entrypoints.http.click_protocol`)
and the ASGI app (`entrypoints.http.front`). Each parses its own requests and
hands over raw header bytes; nothing here knows HTTP. Keys are held in memory
(`KeyStore`), so a click reads no database. This runs for every click: the
events are written out flat, with no builder in between.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from linktrack.core.events import encode
from linktrack.core.tokens import ClickToken, KeyRing, OpenToken, TokenError, UnknownKeyError
from linktrack.service.keys import KeyStore

T = TypeVar("T")

_encode = encode
_now = time.time


class Reload:
    """The token names a key this process does not hold yet: reload, then verify."""


RELOAD = Reload()


def peer_of(address: Sequence[Any] | None) -> str | None:
    """A socket peer as "host:port" ("[v6 host]:port"), the form the writer parses."""
    if not address:
        return None
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ClickRules:
    """Which links are ours, and what a click or an open of one records."""

    def __init__(self, keys: KeyStore, *, trust_proxy: bool) -> None:
        self.keys = keys
        self.trust_proxy = trust_proxy
        # Event ids: unique per process start without a syscall per click.
        self._prefix = f"{os.getpid():x}{time.time_ns():x}-"
        self._counter = itertools.count()

    # -- verify

    def verify_click(self, path: str) -> ClickToken | Reload | None:
        return self.verify_now(KeyRing.verify_click, path)

    def verify_now(self, verify: Callable[[KeyRing, str, str], T], path: str) -> T | Reload | None:
        """The token of `/e/x/{payload}/{signature}`; None if not ours, RELOAD if the key is new."""
        parts = path.split("/")
        if len(parts) != 5:
            return None
        try:
            return verify(self.keys.ring, parts[3], parts[4])
        except UnknownKeyError:
            return RELOAD
        except TokenError:
            return None

    async def verify_after_reload(
        self, verify: Callable[[KeyRing, str, str], T], path: str
    ) -> T | None:
        """Verify again once the keys are reloaded (a workspace created or a key rotated);
        at most a few reloads a second, so unknown keys cannot flood the store."""
        if not await asyncio.to_thread(self.keys.reload_if_due):
            return None
        token = self.verify_now(verify, path)
        return None if isinstance(token, Reload) else token

    async def verify(self, verify: Callable[[KeyRing, str, str], T], path: str) -> T | None:
        """`verify_now`, reloading the keys first when the token names a new one."""
        token = self.verify_now(verify, path)
        if isinstance(token, Reload):
            return await self.verify_after_reload(verify, path)
        return token

    # -- the events

    def origin(self, forwarded: bytes | None, peer: str | None) -> tuple[str | None, str | None]:
        """(ip, peer): the proxy's X-Forwarded-For if trusted, else the socket peer
        ("host:port"); the writer takes the host apart, off the click path."""
        if self.trust_proxy and forwarded:
            return forwarded.decode("latin-1").split(",")[0].strip(), None
        return None, peer

    def click_event(
        self, token: ClickToken, method: str, ua: bytes, forwarded: bytes | None, peer: str | None
    ) -> bytes:
        """The click as the writer reads it."""
        ip, peer = self.origin(forwarded, peer)
        return _encode(
            f"{self._prefix}{next(self._counter)}", "click", token.kid, token.delivery_id,
            token.link_id, token.position, token.href, _now(), ua.decode("latin-1"), method,
            ip, peer,
        )  # fmt: skip

    def open_event(
        self, token: OpenToken, method: str, ua: bytes, forwarded: bytes | None, peer: str | None
    ) -> bytes:
        """The open pixel's event: a click's fields without a link."""
        ip, peer = self.origin(forwarded, peer)
        event_id = f"{self._prefix}{next(self._counter)}"
        agent = ua.decode("latin-1")
        return _encode(event_id, "open", token.kid, token.delivery_id, None, None, "", _now(),
                       agent, method, ip, peer)  # fmt: skip
