"""Commands and lookups on the store: workspaces, keys, people, messages, links, deliveries.

Every function takes a `Connection` (the caller owns the transaction and must
commit) or an `Engine` (the function runs in its own transaction). Results are
frozen dataclasses. Timestamps are float epoch seconds (see schema.py).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from linktrack.adapters.store.engine import dialect_insert
from linktrack.adapters.store.schema import (
    api_keys,
    clicks,
    deliveries,
    delivery_links,
    links,
    message_stats,
    messages,
    opens,
    people,
    signing_keys,
    workspaces,
)

Db: TypeAlias = Connection | Engine
IdentifierKind = Literal["id", "email", "cio_id"]
Identifier: TypeAlias = tuple[IdentifierKind, str]

API_KEY_KINDS: Final = frozenset({"track", "app"})
MESSAGE_KINDS: Final = frozenset({"transactional", "adhoc", "campaign", "broadcast", "newsletter"})
CHANNELS: Final = frozenset({"email", "sms", "whatsapp", "push", "in_app"})
STATUSES: Final = frozenset({"queued", "sent", "failed", "outbox"})
# Statuses that count as "delivered" in reports: handed to a transport, or
# parked in the outbox when no transport is configured.
DELIVERED_STATUSES: Final = frozenset({"sent", "outbox"})
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


class StoreError(Exception):
    """A request the store cannot honour, with a message a user can act on."""


class NotFoundError(StoreError, LookupError):
    """The named record does not exist (in this workspace)."""


class ConflictError(StoreError, ValueError):
    """The change would clash with existing data (a taken email, the last key, ...)."""


class InvalidValueError(StoreError, ValueError):
    """A value outside what the store accepts (unknown kind, channel, status)."""


@contextmanager
def _tx(db: Db) -> Iterator[Connection]:
    if isinstance(db, Engine):
        with db.begin() as conn:
            yield conn
    else:
        yield db


def _now() -> float:
    return time.time()


def _check(value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        choices = ", ".join(sorted(allowed))
        raise InvalidValueError(f"{what} must be one of {choices}, not {value!r}")


def hash_key(key: str) -> str:
    """The stored form of an API key: keys are never kept in clear."""
    return hashlib.sha256(key.encode()).hexdigest()


# --------------------------------------------------------------------- workspaces


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    name: str
    site_id: str
    settings: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class NewWorkspace:
    """A created workspace and its keys: the only time the keys are seen in clear."""

    id: int
    site_id: str
    track_api_key: str
    app_api_key: str
    kid: str


def _workspace(row: sa.Row[Any]) -> Workspace:
    return Workspace(row.id, row.name, row.site_id, dict(row.settings or {}), row.created_at)


def create_workspace(db: Db, name: str, settings: Mapping[str, Any] | None = None) -> NewWorkspace:
    """Create a workspace with one track key, one app key and a first signing key."""
    now = _now()
    with _tx(db) as conn:
        site_id = secrets.token_hex(10)
        ws_id = conn.execute(
            sa.insert(workspaces)
            .values(name=name, site_id=site_id, settings=dict(settings or {}), created_at=now)
            .returning(workspaces.c.id)
        ).scalar_one()
        track = create_api_key(conn, ws_id, "track")
        app = create_api_key(conn, ws_id, "app")
        kid = rotate_signing_key(conn, ws_id)
    return NewWorkspace(ws_id, site_id, track, app, kid)


def create_api_key(db: Db, workspace_id: int, kind: str) -> str:
    """A new random API key of `kind` ('track' or 'app'); only its hash is stored."""
    _check(kind, API_KEY_KINDS, "API key kind")
    key = secrets.token_hex(20)
    with _tx(db) as conn:
        conn.execute(
            sa.insert(api_keys).values(
                workspace_id=workspace_id, kind=kind, key_hash=hash_key(key), created_at=_now()
            )
        )
    return key


def workspace_by_api_key(db: Db, kind: str, key: str) -> Workspace | None:
    """The workspace owning API key `key` of `kind`, or None."""
    query = (
        sa.select(workspaces)
        .join(api_keys, api_keys.c.workspace_id == workspaces.c.id)
        .where(api_keys.c.key_hash == hash_key(key), api_keys.c.kind == kind)
    )
    with _tx(db) as conn:
        row = conn.execute(query).first()
    return _workspace(row) if row else None


def workspace_by_site_id(db: Db, site_id: str) -> Workspace | None:
    with _tx(db) as conn:
        row = conn.execute(sa.select(workspaces).where(workspaces.c.site_id == site_id)).first()
    return _workspace(row) if row else None


def get_workspace(db: Db, workspace_id: int) -> Workspace | None:
    with _tx(db) as conn:
        row = conn.execute(sa.select(workspaces).where(workspaces.c.id == workspace_id)).first()
    return _workspace(row) if row else None


def get_settings(db: Db, workspace_id: int) -> dict[str, Any]:
    """The workspace settings document (raise NotFoundError for an unknown workspace)."""
    ws = get_workspace(db, workspace_id)
    if ws is None:
        raise NotFoundError(f"workspace {workspace_id} does not exist")
    return ws.settings


def put_settings(db: Db, workspace_id: int, settings: Mapping[str, Any]) -> None:
    """Replace the workspace settings document (validated by the caller)."""
    with _tx(db) as conn:
        done = conn.execute(
            sa.update(workspaces)
            .where(workspaces.c.id == workspace_id)
            .values(settings=dict(settings))
        ).rowcount
    if not done:
        raise NotFoundError(f"workspace {workspace_id} does not exist")


# ------------------------------------------------------------------ signing keys


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    workspace_id: int
    secret: str  # hex
    created_at: float
    retired_at: float | None

    @property
    def secret_bytes(self) -> bytes:
        return bytes.fromhex(self.secret)


def _stored_key(row: sa.Row[Any]) -> StoredSigningKey:
    return StoredSigningKey(row.kid, row.workspace_id, row.secret, row.created_at, row.retired_at)


def list_active_signing_keys(db: Db) -> list[StoredSigningKey]:
    """Every live key of every workspace, oldest first (the newest of a workspace signs)."""
    query = (
        sa.select(signing_keys)
        .where(signing_keys.c.retired_at.is_(None))
        .order_by(signing_keys.c.created_at, signing_keys.c.kid)
    )
    with _tx(db) as conn:
        return [_stored_key(r) for r in conn.execute(query)]


def workspace_signing_keys(db: Db, workspace_id: int) -> list[StoredSigningKey]:
    """A workspace's keys, retired ones included, oldest first."""
    query = (
        sa.select(signing_keys)
        .where(signing_keys.c.workspace_id == workspace_id)
        .order_by(signing_keys.c.created_at, signing_keys.c.kid)
    )
    with _tx(db) as conn:
        return [_stored_key(r) for r in conn.execute(query)]


def signing_key_workspaces(db: Db) -> dict[str, int]:
    """kid -> workspace id for all keys, retired included (the writer's tenant check)."""
    with _tx(db) as conn:
        rows = conn.execute(sa.select(signing_keys.c.kid, signing_keys.c.workspace_id))
        return {r.kid: r.workspace_id for r in rows}


def rotate_signing_key(db: Db, workspace_id: int) -> str:
    """Add a new signing key (it signs new links; older keys keep verifying); return its kid."""
    secret = secrets.token_hex(32)
    with _tx(db) as conn:
        while True:
            kid = "".join(secrets.choice(_BASE32) for _ in range(8))
            # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING.
            inserted = conn.execute(
                dialect_insert(conn, signing_keys)
                .values(kid=kid, workspace_id=workspace_id, secret=secret, created_at=_now())
                .on_conflict_do_nothing(index_elements=["kid"])
                .returning(signing_keys.c.kid)
            ).first()
            if inserted is not None:
                return kid


def retire_signing_key(db: Db, workspace_id: int, kid: str) -> None:
    """Stop verifying links signed with `kid`; the workspace keeps at least one live key."""
    with _tx(db) as conn:
        live = (
            conn.execute(
                sa.select(signing_keys.c.kid).where(
                    signing_keys.c.workspace_id == workspace_id, signing_keys.c.retired_at.is_(None)
                )
            )
            .scalars()
            .all()
        )
        if kid not in live:
            raise NotFoundError(f"no live signing key {kid!r} in this workspace")
        if len(live) == 1:
            raise ConflictError("cannot retire the only live signing key: rotate first")
        conn.execute(
            sa.update(signing_keys).where(signing_keys.c.kid == kid).values(retired_at=_now())
        )


# ------------------------------------------------------------------------ people


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    workspace_id: int
    cio_id: str
    external_id: str | None
    email: str | None
    phone: str | None
    attributes: dict[str, Any]
    unsubscribed: bool
    created_at: float
    updated_at: float

    def to_customer(self) -> dict[str, Any]:
        """The `customer.*` view for templates: attributes plus identifiers."""
        data = dict(self.attributes)
        data.update(cio_id=self.cio_id, id=self.external_id, email=self.email)
        if self.phone is not None:
            data["phone"] = self.phone
        data["unsubscribed"] = self.unsubscribed
        return data


def _person(row: sa.Row[Any]) -> Person:
    return Person(
        row.id,
        row.workspace_id,
        row.cio_id,
        row.external_id,
        row.email,
        row.phone,
        dict(row.attributes or {}),
        bool(row.unsubscribed),
        row.created_at,
        row.updated_at,
    )


def parse_identifier(identifier: str | Identifier) -> Identifier:
    """`cio_<cio_id>`, an email (contains @) or the customer's own id."""
    if isinstance(identifier, tuple):
        kind, value = identifier
    elif identifier.startswith("cio_") and len(identifier) > 4:
        kind, value = "cio_id", identifier[4:]
    elif "@" in identifier:
        kind, value = "email", identifier
    else:
        kind, value = "id", identifier
    value = value.strip()
    if not value:
        raise InvalidValueError("a person identifier must not be empty")
    if kind == "email":
        value = value.lower()
    elif kind == "cio_id" and not value.isalnum():
        raise InvalidValueError("a cio_id is letters and digits only")
    return kind, value


_IDENTIFIER_COLUMN: Final[dict[IdentifierKind, sa.Column[Any]]] = {
    "id": people.c.external_id,
    "email": people.c.email,
    "cio_id": people.c.cio_id,
}


def _person_query(workspace_id: int, ident: Identifier) -> sa.Select[Any]:
    kind, value = ident
    return sa.select(people).where(
        people.c.workspace_id == workspace_id, _IDENTIFIER_COLUMN[kind] == value
    )


def get_person(db: Db, workspace_id: int, identifier: str | Identifier) -> Person | None:
    """The person named by `identifier` (id, email or `cio_<cio_id>`), or None."""
    with _tx(db) as conn:
        row = conn.execute(_person_query(workspace_id, parse_identifier(identifier))).first()
    return _person(row) if row else None


def get_person_by_pk(db: Db, person_id: int) -> Person | None:
    with _tx(db) as conn:
        row = conn.execute(sa.select(people).where(people.c.id == person_id)).first()
    return _person(row) if row else None


def _split_attributes(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column values, plain attributes) from an identify call's attributes."""
    columns: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for name, value in attributes.items():
        if name == "email":
            columns["email"] = str(value).strip().lower() if value else None
        elif name == "id":
            columns["external_id"] = str(value) if value not in (None, "") else None
        elif name == "phone":
            columns["phone"] = str(value) if value else None
        elif name == "unsubscribed":
            columns["unsubscribed"] = value in (True, "true", 1, "1")
        elif name in ("cio_id", "created_at", "updated_at"):
            continue  # immutable or ours
        else:
            plain[name] = value
    return columns, plain


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for name, value in new.items():
        # Identify semantics: an empty or null value removes the attribute.
        if value is None or value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _check_free(
    conn: Connection, workspace_id: int, person_id: int | None, cols: dict[str, Any]
) -> None:
    for column, label in (("email", "email"), ("external_id", "id")):
        value = cols.get(column)
        if value is None:
            continue
        other = conn.execute(
            sa.select(people.c.id).where(
                people.c.workspace_id == workspace_id,
                people.c[column] == value,
                people.c.id != (person_id if person_id is not None else -1),
            )
        ).first()
        if other is not None:
            raise ConflictError(f"another person already has {label} {value!r}")


def upsert_person(
    db: Db,
    workspace_id: int,
    identifier: str | Identifier,
    attributes: Mapping[str, Any] | None = None,
) -> Person:
    """Create or update the person named by `identifier`, merging `attributes`.

    `email`, `id`, `phone` and `unsubscribed` attributes update those fields; a
    null or empty attribute value removes the attribute; `cio_id` never changes.
    """
    ident = parse_identifier(identifier)
    cols, plain = _split_attributes(attributes or {})
    now = _now()
    with _tx(db) as conn:
        row = conn.execute(_person_query(workspace_id, ident).with_for_update()).first()
        if row is None:
            if ident[0] == "cio_id":
                raise NotFoundError(f"no person with cio_id {ident[1]!r}")
            # The identifier itself is left to ON CONFLICT: a concurrent create of
            # the same person is a race to win, not a conflict to report.
            _check_free(conn, workspace_id, None, cols)
            values = {**cols, _IDENTIFIER_COLUMN[ident[0]].name: ident[1]}
            inserted = conn.execute(
                dialect_insert(conn, people)
                .values(
                    workspace_id=workspace_id,
                    cio_id=secrets.token_hex(8),
                    attributes=_merge({}, plain),
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .on_conflict_do_nothing()
                .returning(people.c.id)
            ).first()
            if inserted is not None:
                return _person(
                    conn.execute(sa.select(people).where(people.c.id == inserted[0])).one()
                )
            # Lost a race with a concurrent create of the same person: update theirs.
            row = conn.execute(_person_query(workspace_id, ident).with_for_update()).first()
            if row is None:
                raise ConflictError("the person's email or id belongs to another person")
        _check_free(conn, workspace_id, row.id, cols)
        conn.execute(
            sa.update(people)
            .where(people.c.id == row.id)
            .values(attributes=_merge(row.attributes or {}, plain), updated_at=now, **cols)
        )
        return _person(conn.execute(sa.select(people).where(people.c.id == row.id)).one())


def delete_person(db: Db, workspace_id: int, identifier: str | Identifier) -> bool:
    """Delete a person (their deliveries stay, unlinked); False when unknown."""
    with _tx(db) as conn:
        row = conn.execute(_person_query(workspace_id, parse_identifier(identifier))).first()
        if row is None:
            return False
        # Segments read person ids from delivery_links, which has no foreign key.
        conn.execute(
            sa.update(delivery_links)
            .where(
                delivery_links.c.delivery_id.in_(
                    sa.select(deliveries.c.id).where(deliveries.c.person_id == row.id)
                )
            )
            .values(person_id=None)
        )
        conn.execute(sa.delete(people).where(people.c.id == row.id))
        return True


# ---------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    workspace_id: int
    kind: str
    parent_id: int | None
    name: str
    channel: str
    subject: str
    body: str
    body_plain: str
    from_addr: str
    tracked: bool
    extra: dict[str, Any]
    created_at: float


def _message(row: sa.Row[Any]) -> Message:
    return Message(
        row.id,
        row.workspace_id,
        row.kind,
        row.parent_id,
        row.name,
        row.channel,
        row.subject,
        row.body,
        row.body_plain,
        row.from_addr,
        bool(row.tracked),
        dict(row.extra or {}),
        row.created_at,
    )


_MESSAGE_FIELDS: Final = frozenset(
    {"parent_id", "name", "channel", "subject", "body", "body_plain"}
    | {"from_addr", "tracked", "extra"}
)


def create_message(
    db: Db,
    workspace_id: int,
    *,
    kind: str,
    channel: str,
    name: str = "",
    subject: str = "",
    body: str = "",
    body_plain: str = "",
    from_addr: str = "",
    tracked: bool = True,
    parent_id: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Message:
    """Create a message (its counters start at zero)."""
    _check(kind, MESSAGE_KINDS, "message kind")
    _check(channel, CHANNELS, "channel")
    with _tx(db) as conn:
        row = conn.execute(
            sa.insert(messages)
            .values(
                workspace_id=workspace_id,
                kind=kind,
                parent_id=parent_id,
                name=name,
                channel=channel,
                subject=subject,
                body=body,
                body_plain=body_plain,
                from_addr=from_addr,
                tracked=tracked,
                extra=dict(extra or {}),
                created_at=_now(),
            )
            .returning(*messages.c)
        ).one()
        conn.execute(sa.insert(message_stats).values(message_id=row.id))
    return _message(row)


def update_message(db: Db, workspace_id: int, message_id: int, **changes: Any) -> Message:
    """Change a message's content or flags (not its kind or workspace)."""
    unknown = set(changes) - _MESSAGE_FIELDS
    if unknown:
        raise InvalidValueError(f"cannot change message field(s) {', '.join(sorted(unknown))}")
    if "channel" in changes:
        _check(changes["channel"], CHANNELS, "channel")
    with _tx(db) as conn:
        row = conn.execute(
            sa.update(messages)
            .where(messages.c.id == message_id, messages.c.workspace_id == workspace_id)
            .values(**changes)
            .returning(*messages.c)
        ).first()
    if row is None:
        raise NotFoundError(f"message {message_id} does not exist")
    return _message(row)


def get_message(db: Db, workspace_id: int, message_id: int) -> Message | None:
    with _tx(db) as conn:
        row = conn.execute(
            sa.select(messages).where(
                messages.c.id == message_id, messages.c.workspace_id == workspace_id
            )
        ).first()
    return _message(row) if row else None


def list_messages(
    db: Db, workspace_id: int, kind: str | None = None, parent_id: int | None = None
) -> list[Message]:
    """A workspace's messages, newest first, optionally of one kind or parent."""
    query = sa.select(messages).where(messages.c.workspace_id == workspace_id)
    if kind is not None:
        query = query.where(messages.c.kind == kind)
    if parent_id is not None:
        query = query.where(messages.c.parent_id == parent_id)
    with _tx(db) as conn:
        rows = conn.execute(query.order_by(messages.c.id.desc()))
        return [_message(r) for r in rows]


# ------------------------------------------------------------------------- links


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    message_id: int
    key: str
    href: str
    tag: str | None
    created_at: float


def _link(row: sa.Row[Any]) -> Link:
    return Link(row.id, row.message_id, row.key, row.href, row.tag, row.created_at)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def resolve_link(db: Db, message_id: int, key: str, href: str, tag: str | None = None) -> int:
    """The link id of `key` in the message, created on first use (race-safe)."""
    return resolve_links(db, message_id, [(key, href, tag)])[0]


def resolve_links(
    db: Db, message_id: int, items: Sequence[tuple[str, str, str | None]]
) -> list[int]:
    """Link ids for (key, href, tag) items, in order, creating the missing ones."""
    hashes = [_key_hash(key) for key, _, _ in items]
    with _tx(db) as conn:
        found = _link_ids(conn, message_id, hashes)
        missing = {h: item for h, item in zip(hashes, items, strict=True) if h not in found}
        if missing:
            now = _now()
            conn.execute(
                dialect_insert(conn, links).on_conflict_do_nothing(
                    index_elements=["message_id", "key_hash"]
                ),
                [
                    {
                        "message_id": message_id,
                        "key": key,
                        "key_hash": h,
                        "href": href,
                        "tag": tag,
                        "created_at": now,
                    }
                    for h, (key, href, tag) in missing.items()
                ],
            )
            # Re-read rather than trust RETURNING: a concurrent sender may have won.
            found.update(_link_ids(conn, message_id, list(missing)))
    return [found[h] for h in hashes]


def _link_ids(conn: Connection, message_id: int, hashes: Sequence[str]) -> dict[str, int]:
    if not hashes:
        return {}
    rows = conn.execute(
        sa.select(links.c.key_hash, links.c.id).where(
            links.c.message_id == message_id, links.c.key_hash.in_(set(hashes))
        )
    )
    return {r.key_hash: r.id for r in rows}


def list_links(db: Db, message_ids: Iterable[int]) -> list[Link]:
    """The links of the given messages, by id."""
    with _tx(db) as conn:
        rows = conn.execute(
            sa.select(links).where(links.c.message_id.in_(list(message_ids))).order_by(links.c.id)
        )
        return [_link(r) for r in rows]


# -------------------------------------------------------------------- deliveries


@dataclass(frozen=True, slots=True)
class DeliveryLink:
    """A link of a delivery and when it was first clicked (all / by a human)."""

    id: int
    key: str
    href: str
    tag: str | None
    first_clicked_at: float | None
    first_human_clicked_at: float | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    workspace_id: int
    message_id: int
    person_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str | None
    body_plain: str | None
    settings: dict[str, Any]
    warnings: list[Any]
    link_ids: list[int] | None
    status: str
    error: str | None
    created_at: float
    sent_at: float | None
    opened_at: float | None
    clicked_at: float | None
    human_clicked_at: float | None
    links: tuple[DeliveryLink, ...] = field(default=())


def _delivery(row: sa.Row[Any], dlinks: tuple[DeliveryLink, ...] = ()) -> Delivery:
    return Delivery(
        row.id,
        row.workspace_id,
        row.message_id,
        row.person_id,
        row.channel,
        row.recipient,
        row.subject,
        row.body,
        row.body_plain,
        dict(row.settings or {}),
        list(row.warnings or []),
        list(row.link_ids) if row.link_ids is not None else None,
        row.status,
        row.error,
        row.created_at,
        row.sent_at,
        row.opened_at,
        row.clicked_at,
        row.human_clicked_at,
        dlinks,
    )


def new_delivery_id() -> str:
    """An opaque, unguessable delivery id (20 URL-safe characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()


def _bump(conn: Connection, message_id: int, **deltas: int) -> None:
    values = {name: message_stats.c[name] + delta for name, delta in deltas.items() if delta}
    if values:
        conn.execute(
            sa.update(message_stats).where(message_stats.c.message_id == message_id).values(values)
        )


@dataclass(slots=True)
class NewDelivery:
    """A delivery to record: one message to one recipient."""

    workspace_id: int
    message_id: int
    channel: str
    recipient: str
    person_id: int | None = None
    subject: str = ""
    body: str | None = None
    body_plain: str | None = None
    settings: Mapping[str, Any] | None = None
    warnings: Sequence[Any] = ()
    link_ids: Sequence[int] | None = None
    status: str = "queued"
    error: str | None = None
    delivery_id: str | None = None
    created_at: float | None = None


def create_delivery(
    db: Db,
    *,
    workspace_id: int,
    message_id: int,
    channel: str,
    recipient: str,
    person_id: int | None = None,
    subject: str = "",
    body: str | None = None,
    body_plain: str | None = None,
    settings: Mapping[str, Any] | None = None,
    warnings: Sequence[Any] = (),
    link_ids: Sequence[int] | None = None,
    status: str = "queued",
    error: str | None = None,
    delivery_id: str | None = None,
    created_at: float | None = None,
) -> str:
    """Record a delivery (one message to one recipient) and return its id."""
    new = NewDelivery(
        workspace_id, message_id, channel, recipient, person_id, subject, body, body_plain,
        settings, warnings, link_ids, status, error, delivery_id, created_at,
    )  # fmt: skip
    return create_deliveries(db, [new])[0]


def create_deliveries(db: Db, new: Sequence[NewDelivery]) -> list[str]:
    """Record deliveries in one statement (bulk sends) and return their ids, in order."""
    now = _now()
    rows: list[dict[str, Any]] = []
    counts: Counter[tuple[int, str]] = Counter()
    for d in new:
        _check(d.channel, CHANNELS, "channel")
        _check(d.status, STATUSES, "delivery status")
        created = now if d.created_at is None else d.created_at
        rows.append(
            {
                "id": d.delivery_id or new_delivery_id(),
                "workspace_id": d.workspace_id,
                "message_id": d.message_id,
                "person_id": d.person_id,
                "channel": d.channel,
                "recipient": d.recipient,
                "subject": d.subject,
                "body": d.body,
                "body_plain": d.body_plain,
                "settings": dict(d.settings or {}),
                "warnings": list(d.warnings),
                "link_ids": list(d.link_ids) if d.link_ids is not None else None,
                "status": d.status,
                "error": d.error,
                "created_at": created,
                "sent_at": created if d.status in DELIVERED_STATUSES else None,
            }
        )
        counts[d.message_id, d.status] += 1
    if rows:
        with _tx(db) as conn:
            conn.execute(sa.insert(deliveries), rows)
            for (message_id, status), count in sorted(counts.items()):
                _bump(conn, message_id, **{f"status_{status}": count})
    return [row["id"] for row in rows]


def mark_delivery(
    db: Db, delivery_id: str, status: str, *, error: str | None = None, at: float | None = None
) -> None:
    """Move a delivery to `status` (sent/outbox also stamp sent_at), keeping counters right."""
    _check(status, STATUSES, "delivery status")
    at = _now() if at is None else at
    values: dict[str, Any] = {"status": status, "error": error}
    if status in DELIVERED_STATUSES:
        values["sent_at"] = sa.func.coalesce(deliveries.c.sent_at, at)
    with _tx(db) as conn:
        # One conditional UPDATE per possible old status: each is atomic, so the
        # counters follow the status even with concurrent callers.
        for old in sorted(STATUSES):
            row = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.status == old)
                .values(values)
                .returning(deliveries.c.message_id)
            ).first()
            if row is not None:
                if old != status:
                    _bump(conn, row.message_id, **{f"status_{old}": -1, f"status_{status}": 1})
                return
    raise NotFoundError(f"delivery {delivery_id!r} does not exist")


def get_delivery(db: Db, workspace_id: int, delivery_id: str) -> Delivery | None:
    """A delivery with its links (those recorded at send, or all of its message's)."""
    with _tx(db) as conn:
        row = conn.execute(
            sa.select(deliveries).where(
                deliveries.c.id == delivery_id, deliveries.c.workspace_id == workspace_id
            )
        ).first()
        if row is None:
            return None
        query = (
            sa.select(
                links,
                delivery_links.c.first_ts,
                delivery_links.c.first_human_ts,
            )
            .outerjoin(
                delivery_links,
                sa.and_(
                    delivery_links.c.link_id == links.c.id,
                    delivery_links.c.delivery_id == delivery_id,
                ),
            )
            .where(links.c.message_id == row.message_id)
            .order_by(links.c.id)
        )
        if row.link_ids is not None:
            query = query.where(links.c.id.in_(list(row.link_ids)))
        dlinks = tuple(
            DeliveryLink(r.id, r.key, r.href, r.tag, r.first_ts, r.first_human_ts)
            for r in conn.execute(query)
        )
    return _delivery(row, dlinks)


def list_deliveries(
    db: Db,
    workspace_id: int,
    *,
    message_id: int | None = None,
    person_id: int | None = None,
    status: str | None = None,
    before: float | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Deliveries newest first (pass the last `created_at` as `before` to page)."""
    query = sa.select(deliveries).where(deliveries.c.workspace_id == workspace_id)
    if message_id is not None:
        query = query.where(deliveries.c.message_id == message_id)
    if person_id is not None:
        query = query.where(deliveries.c.person_id == person_id)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if before is not None:
        query = query.where(deliveries.c.created_at < before)
    query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.id).limit(limit)
    with _tx(db) as conn:
        return [_delivery(r) for r in conn.execute(query)]


# -------------------------------------------------------------------- activities


@dataclass(frozen=True, slots=True)
class Activity:
    """One entry of a person's timeline."""

    type: Literal["sent", "failed", "opened", "clicked"]
    ts: float
    delivery_id: str
    message_id: int
    message_name: str
    channel: str
    link_id: int | None = None
    href: str | None = None
    machine: bool = False
    machine_reasons: tuple[str, ...] = ()
    synthetic: bool = False


def person_activities(
    db: Db, workspace_id: int, person_id: int, *, before: float | None = None, limit: int = 100
) -> list[Activity]:
    """A person's deliveries, opens and clicks, newest first."""
    sent = (
        sa.select(deliveries, messages.c.name.label("message_name"))
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(deliveries.c.person_id == person_id, deliveries.c.workspace_id == workspace_id)
    )
    opened = (
        sa.select(opens, messages.c.name.label("message_name"), messages.c.channel)
        .join(messages, messages.c.id == opens.c.message_id)
        .where(opens.c.person_id == person_id, opens.c.workspace_id == workspace_id)
    )
    clicked = (
        sa.select(clicks, messages.c.name.label("message_name"), messages.c.channel)
        .join(messages, messages.c.id == clicks.c.message_id)
        .where(clicks.c.person_id == person_id, clicks.c.workspace_id == workspace_id)
    )
    if before is not None:
        sent = sent.where(deliveries.c.created_at < before)
        opened = opened.where(opens.c.ts < before)
        clicked = clicked.where(clicks.c.ts < before)
    out: list[Activity] = []
    with _tx(db) as conn:
        for r in conn.execute(sent.order_by(deliveries.c.created_at.desc()).limit(limit)):
            kind: Literal["sent", "failed"] = "failed" if r.status == "failed" else "sent"
            out.append(
                Activity(
                    kind, r.sent_at or r.created_at, r.id, r.message_id, r.message_name, r.channel
                )
            )
        for r in conn.execute(opened.order_by(opens.c.ts.desc()).limit(limit)):
            out.append(
                Activity(
                    "opened",
                    r.ts,
                    r.delivery_id,
                    r.message_id,
                    r.message_name,
                    r.channel,
                    machine=bool(r.machine),
                    machine_reasons=tuple(r.machine_reasons or ()),
                    synthetic=bool(r.synthetic),
                )
            )
        for r in conn.execute(clicked.order_by(clicks.c.ts.desc()).limit(limit)):
            out.append(
                Activity(
                    "clicked",
                    r.ts,
                    r.delivery_id,
                    r.message_id,
                    r.message_name,
                    r.channel,
                    link_id=r.link_id,
                    href=r.href,
                    machine=bool(r.machine),
                    machine_reasons=tuple(r.machine_reasons or ()),
                )
            )
    # At equal times a click comes after the open it implies, after the send.
    rank = {"sent": 0, "failed": 0, "opened": 1, "clicked": 2}
    out.sort(key=lambda a: (a.ts, rank[a.type]), reverse=True)
    return out[:limit]
