"""Composing before the write transaction: a draft's links and short codes, made real in it.

A send renders a tenant's template, which may take up to the render limits
(`core.liquid.limits`). That happens before any write transaction opens, so
a slow template never holds SQLite's write lock or a PostgreSQL row lock
while other tenants' sends and the click writer wait. What compose needs from
the store while rendering is only link ids: `DraftLinks` reads the stored
ones and gives a new link a provisional (negative) id; `DraftShortener` picks
short codes without storing them. In the write transaction `settle` creates
the new links and codes, signs the links that had provisional ids again with
their real ones (a click URL is deterministic, so the draft's can be found
and replaced) and returns the message as it is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core import shortlinks as codes
from linktrack.core.compose import Composed, Tracking
from linktrack.core.settings import TrackingSettings
from linktrack.service.send_requests import SendRequest
from linktrack.service.shortlinks import ShortLinks


@dataclass(frozen=True, slots=True)
class SendResult:
    delivery_id: str
    queued_at: float
    warnings: list[dict[str, str]]
    composed: Composed


@dataclass(frozen=True, slots=True)
class Prepared:
    """A recorded draft's delivery, to insert (`store.create_deliveries`), and its result."""

    delivery: model.NewDelivery
    result: SendResult


@dataclass(frozen=True, slots=True)
class Draft:
    """A message composed for one person, not yet recorded (`Sender.record`)."""

    workspace: model.Workspace
    template: model.Message
    person: model.Person
    request: SendRequest
    recipient: str
    settings: TrackingSettings
    tracking: Tracking
    composed: Composed
    link: str | None


class DraftLinks:
    """The compose pipeline's link table outside a transaction (one message's links).

    Stored links keep their ids (a read); a new one gets a provisional id,
    -1, -2, …, that `resolve` turns into a real one. A bulk send shares one
    table per action across a batch, so the compose plan cache still serves
    every recipient after the first.
    """

    def __init__(self, message_id: int | None, db: store.Db) -> None:
        self.message_id = message_id
        self.db = db
        self._ids: dict[str, int] = {}
        self.new: dict[int, tuple[str, str, str | None]] = {}  # provisional id → key, href, tag
        self._resolved: tuple[store.Connection, dict[int, int]] | None = None

    def link_id(self, key: str, href: str, tag: str | None) -> int:
        found = self._ids.get(key)
        if found is None:
            if self.message_id is not None:
                found = store.find_link_id(self.db, self.message_id, key)
            if found is None:
                found = -(len(self.new) + 1)
                self.new[found] = (key, href, tag)
            self._ids[key] = found
        return found

    def resolve(self, conn: store.Connection, message_id: int) -> dict[int, int]:
        """Create the new links in `conn`: provisional id → real id (once per transaction:
        a batch's drafts share the table)."""
        if not self.new:
            return {}
        if self._resolved is not None and self._resolved[0] is conn:
            return self._resolved[1]
        provisional = list(self.new)
        real = store.resolve_links(conn, message_id, [self.new[p] for p in provisional])
        mapping = dict(zip(provisional, real, strict=True))
        self._resolved = (conn, mapping)
        return mapping


class DraftShortener:
    """The `Tracking.shorten` hook of a draft: a short URL now, its code stored later."""

    def __init__(self, shortlinks: ShortLinks, settings: TrackingSettings) -> None:
        self.shortlinks = shortlinks
        self.settings = settings
        self.pending: list[tuple[str, str, str]] = []  # code, short URL, tracked URL

    def __call__(self, tracked_url: str) -> str:
        code = self.shortlinks.generate(codes.CODE_LENGTH)
        short = codes.short_url(self.settings, code)
        self.pending.append((code, short, tracked_url))
        return short


@dataclass(frozen=True, slots=True)
class Settled:
    """A draft as recorded: its parts with real link ids, and what shortening saved."""

    composed: Composed
    link: str | None
    saved: list[int]


def settle(conn: store.Connection, draft: Draft) -> Settled:
    """Make a draft's provisional links and short codes real, in `conn`."""
    tracking, composed, link = draft.tracking, draft.composed, draft.link
    links, shorten = tracking.links, tracking.shorten
    mapping = links.resolve(conn, draft.template.id) if isinstance(links, DraftLinks) else {}
    if not mapping and not isinstance(shorten, DraftShortener):
        return Settled(composed, link, [])  # every link was stored already: as drafted
    signed: dict[str, str] = {}  # the draft's click URL → the recorded one
    sign = tracking.delivery_signer.click_path
    found = []
    for tracked in composed.links:
        real = mapping.get(tracked.link_id)
        if real is not None:
            old, new = (
                sign(tracked.href, tracked.link_id, tracked.position),
                sign(tracked.href, real, tracked.position),
            )
            signed[old] = new
            url = tracked.tracked_url if tracked.tracked_url != old else new
            tracked = tracked._replace(link_id=real, tracked_url=url)
        found.append(tracked)
    changed = dict(signed)
    saved: list[int] = []
    if isinstance(shorten, DraftShortener):
        base = shorten.settings.base_url
        for code, short, url in shorten.pending:
            url = signed.get(url, url)
            stored = shorten.shortlinks.create(
                draft.workspace.id, url.removeprefix(base), shorten.settings, conn, code
            )
            if stored != short:  # the code was taken meanwhile: a longer one
                changed[short] = stored
            saved.append(len(url) - len(stored))
    found = [t._replace(tracked_url=changed.get(t.tracked_url, t.tracked_url)) for t in found]
    return Settled(
        replace(
            composed,
            subject=_swap(composed.subject, changed),
            html=_swap(composed.html, changed),
            text=_swap(composed.text, changed),
            links=found,
        ),
        _swap(link, changed),
        saved,
    )


def _swap(text: str | None, changed: dict[str, str]) -> str | None:
    """`text` with each draft URL replaced by the recorded one."""
    if text is None or not changed:
        return text
    for old, new in changed.items():
        text = text.replace(old, new)
    return text
