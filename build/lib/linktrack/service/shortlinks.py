"""Short links in the store: hand out codes for tracked paths, resolve them on a click."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from linktrack.adapters import store
from linktrack.core import shortlinks
from linktrack.core.settings import TrackingSettings

_CACHE_SIZE = 10_000


class ShortLinkError(RuntimeError):
    """No free code was found (practically impossible: 56**10 codes and more)."""


@dataclass(frozen=True, slots=True)
class ShortLink:
    """What `/lnk.<code>` stands for."""

    path: str  # the signed `/e/c/{payload}/{signature}` path
    expired: bool


class ShortLinks:
    """Codes → tracked paths, unique across workspaces, expiring after 90 days."""

    def __init__(
        self,
        engine: store.Engine,
        *,
        clock: Callable[[], float] = time.time,
        generate: Callable[[int], str] = shortlinks.new_code,
        lifetime: float = shortlinks.LIFETIME_SECONDS,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.generate = generate
        self.lifetime = lifetime
        # A code never changes what it points to: resolved rows can be cached.
        self._cache: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def create(
        self,
        workspace_id: int,
        tracked_path: str,
        settings: TrackingSettings,
        conn: store.Connection | None = None,
        code: str | None = None,
    ) -> str:
        """Store a new code for `tracked_path`; return the short URL that replaces it.

        Pass the send's `conn` to create the code in its transaction (a failed
        send then leaves no code behind, and SQLite sees one writer), and `code`
        to try the one a draft already wrote first.
        """
        if not tracked_path.startswith("/e/c/"):
            raise ValueError(f"not a tracked click path: {tracked_path!r}")
        if conn is None:
            with self.engine.begin() as own:
                return self.create(workspace_id, tracked_path, settings, own, code)
        now = self.clock()
        length = shortlinks.CODE_LENGTH
        while length <= shortlinks.MAX_CODE_LENGTH:
            code = code or self.generate(length)
            if store.insert_short_link(
                conn, code, workspace_id, tracked_path, now, now + self.lifetime
            ):
                return shortlinks.short_url(settings, code)
            code = None
            length += 1  # taken: a longer code is free with near certainty
        raise ShortLinkError("no free short link code; try again")

    def resolve(self, code: str) -> ShortLink | None:
        """The tracked path of `code` and whether it has expired; None for an unknown code."""
        if not shortlinks.is_code(code):
            return None
        with self._lock:
            found = self._cache.get(code)
        if found is None:
            found = store.find_short_link(self.engine, code)
            if found is None:
                return None
            with self._lock:
                self._cache[code] = found
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        path, expires_at = found
        expired = self.clock() >= expires_at
        if expired:
            # An expired link is still a hit: counted, never redirected.
            store.count_expired_hit(self.engine, code)
        return ShortLink(path, expired)
