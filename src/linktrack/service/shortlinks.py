"""Short links in the store: hand out codes for tracked paths, resolve them on a click."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from linktrack.adapters.store.engine import dialect_insert
from linktrack.adapters.store.schema import short_links
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
        engine: Engine,
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
        conn: Connection | None = None,
    ) -> str:
        """Store a new code for `tracked_path`; return the short URL that replaces it.

        Pass the send's `conn` to create the code in its transaction (a failed
        send then leaves no code behind, and SQLite sees one writer).
        """
        if not tracked_path.startswith("/e/c/"):
            raise ValueError(f"not a tracked click path: {tracked_path!r}")
        if conn is None:
            with self.engine.begin() as own:
                return self.create(workspace_id, tracked_path, settings, own)
        now = self.clock()
        length = shortlinks.CODE_LENGTH
        while length <= shortlinks.MAX_CODE_LENGTH:
            code = self.generate(length)
            inserted = conn.execute(
                dialect_insert(conn, short_links)
                .values(
                    code=code,
                    workspace_id=workspace_id,
                    path=tracked_path,
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
                .on_conflict_do_nothing(index_elements=["code"])
                .returning(short_links.c.code)  # rowcount is not reliable on psycopg
            ).first()
            if inserted is not None:
                return shortlinks.short_url(settings, code)
            length += 1  # taken: a longer code is free with near certainty
        raise ShortLinkError("no free short link code; try again")

    def resolve(self, code: str) -> ShortLink | None:
        """The tracked path of `code` and whether it has expired; None for an unknown code."""
        if not shortlinks.is_code(code):
            return None
        with self._lock:
            found = self._cache.get(code)
        if found is None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(short_links.c.path, short_links.c.expires_at).where(
                        short_links.c.code == code
                    )
                ).first()
            if row is None:
                return None
            found = (row.path, row.expires_at)
            with self._lock:
                self._cache[code] = found
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        path, expires_at = found
        expired = self.clock() >= expires_at
        if expired:
            # An expired link is still a hit: counted, never redirected.
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(short_links)
                    .where(short_links.c.code == code)
                    .values(expired_hits=short_links.c.expired_hits + 1)
                )
        return ShortLink(path, expired)

    def shortener(
        self, workspace_id: int, settings: TrackingSettings, conn: Connection | None = None
    ) -> Callable[[str], str]:
        """The `Tracking.shorten` hook of one send: tracked URL → short URL."""
        base = settings.base_url

        def shorten(tracked_url: str) -> str:
            path = tracked_url[len(base) :] if tracked_url.startswith(base) else tracked_url
            return self.create(workspace_id, path, settings, conn)

        return shorten
