"""The domain: workspaces, people, messages, deliveries, campaigns and their send jobs.

Frozen dataclasses the store returns and the services pass around, the names
of what each field may hold, and person identifiers. Pure: no I/O. Timestamps
are float epoch seconds.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from linktrack.core.errors import SPACES, InvalidValueError

Channel = Literal["email", "sms", "whatsapp", "push", "in_app"]
CHANNELS: Final = frozenset({"email", "sms", "whatsapp", "push", "in_app"})
API_KEY_KINDS: Final = frozenset({"track", "app"})
# What a message belongs to: a transactional message, the workspace's ad-hoc
# message (literal bodies), or an action of a campaign, broadcast or newsletter.
MESSAGE_KINDS: Final = frozenset({"transactional", "adhoc", "campaign", "broadcast", "newsletter"})
CONTAINER_KINDS: Final = frozenset({"campaign", "broadcast", "newsletter"})
# `scheduled`: waiting for its `send_at`, when the delivery worker queues it.
STATUSES: Final = frozenset({"scheduled", "queued", "sent", "failed", "outbox"})
# Statuses that count as "delivered" in reports: handed to a transport, or
# parked in the outbox when no transport is configured.
DELIVERED_STATUSES: Final = frozenset({"sent", "outbox"})
JOB_STATUSES: Final = frozenset({"running", "done", "failed"})

IdentifierKind = Literal["id", "email", "cio_id"]
IDENTIFIER_KINDS: Final[tuple[IdentifierKind, ...]] = ("id", "email", "cio_id")
Identifier: TypeAlias = tuple[IdentifierKind, str]
# The longest value of each identifier the store keeps (its columns, on both databases).
IDENTIFIER_LENGTHS: Final[dict[IdentifierKind, int]] = {"id": 255, "email": 320, "cio_id": 32}
ADDRESS_LENGTH: Final = 320  # a delivery's recipient, a sender: an email address, phone or device
NAME_LENGTH: Final = 250  # a message's or container's name (255 columns; "name 2" for actions)
EVENT_NAME_LENGTH: Final = 255  # an event's name, a campaign's trigger event
MAX_ID: Final = 2**31 - 1  # record ids are 32-bit integers on PostgreSQL


def whole_number(value: object) -> int | None:
    """A JSON integer as an int: 5, or 5.0 (JSON Schema's integer; orjson reads integers
    past 64 bits as floats); None for anything else (true, 5.5, "5")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_number(text: str) -> int | None:
    """`text` as a record id (ASCII digits, at most MAX_ID), or None: no such record."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
        return None
    return int(text)


def check_choice(value: str, allowed: frozenset[str], what: str) -> None:
    """Raise InvalidValueError unless `value` is one of `allowed`."""
    if value not in allowed:
        choices = ", ".join(sorted(allowed))
        raise InvalidValueError(f"{what} must be one of {choices}, not {value!r}")


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
    value = value.strip(SPACES)
    if not value:
        raise InvalidValueError("a person identifier must not be empty")
    if kind == "email":
        value = value.lower()
    elif kind == "cio_id" and not (value.isascii() and value.isalnum()):
        raise InvalidValueError("a cio_id is letters and digits only")
    if len(value) > IDENTIFIER_LENGTHS[kind]:
        raise InvalidValueError(
            f"a person's {kind} is at most {IDENTIFIER_LENGTHS[kind]} characters"
        )
    return kind, value


def new_delivery_id() -> str:
    """An opaque, unguessable delivery id (20 URL-safe characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()


# --------------------------------------------------------------------- workspaces


@dataclass(frozen=True, slots=True)
class DashboardUser:
    """Someone who logs in to the dashboard: they see `workspace_id`'s data only."""

    id: int
    workspace_id: int
    email: str
    password_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Workspace:
    """A tenant: its people, messages and keys; `settings` is its tracking settings."""

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


# ------------------------------------------------------------------------- people


def identify_fields(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column values, plain attributes) of an identify call's attributes: `email`, `id`,
    `phone` and `unsubscribed` are fields of the person; `cio_id` and times are ours."""
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


def merge_attributes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Identify semantics: new values win, and an empty or null value removes the attribute."""
    merged = dict(old)
    for name, value in new.items():
        if value is None or value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def new_cio_id() -> str:
    """The id linktrack gives a person (16 hex characters), as Customer.io's `cio_id`."""
    return secrets.token_hex(8)


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
    device: str | None = None  # the push device token used last, if any

    def to_customer(self) -> dict[str, Any]:
        """The `customer.*` view for templates: attributes plus identifiers."""
        data = dict(self.attributes)
        data.update(cio_id=self.cio_id, id=self.external_id, email=self.email)
        if self.phone is not None:
            data["phone"] = self.phone
        data["unsubscribed"] = self.unsubscribed
        return data

    def address_for(self, channel: str) -> str | None:
        """The address a channel reaches the person at (None: the person has none)."""
        if channel == "email":
            return self.email
        if channel in ("sms", "whatsapp"):
            return self.phone
        if channel == "push":
            return self.device
        return self.external_id or self.cio_id  # in-app: the app fetches by person

    @classmethod
    def created(
        cls,
        workspace_id: int,
        ident: Identifier,
        attributes: Mapping[str, Any],
        cio_id: str,
        now: float,
    ) -> Person:
        """The person an identify call creates (its `id` is 0 until it is stored)."""
        columns, plain = identify_fields(attributes)
        kind, value = ident
        named = {"id": "external_id", "email": "email", "cio_id": "cio_id"}[kind]
        fields: dict[str, Any] = {"external_id": None, "email": None, "phone": None}
        fields.update(columns)
        fields[named] = value
        fields.setdefault("unsubscribed", False)
        fields["cio_id"] = cio_id if kind != "cio_id" else value
        return cls(0, workspace_id, attributes=merge_attributes({}, plain), created_at=now,
                   updated_at=now, **fields)  # fmt: skip


# ----------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Message:
    """A template that is sent: transactional, ad hoc, or a campaign's action."""

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


@dataclass(frozen=True, slots=True)
class Link:
    """A link of a message: one per identity `key`; `href` is the URL reports show for it."""

    id: int
    message_id: int
    key: str
    href: str
    tag: str | None
    created_at: float


# --------------------------------------------------------------------- deliveries


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
    send_at: float | None = None
    links: tuple[DeliveryLink, ...] = field(default=())


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
    send_at: float | None = None  # with status "scheduled"


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
    row_id: int | str = ""  # its row in its table: with ts and type, its place in the feed


# ------------------------------------------- campaigns, broadcasts and newsletters


@dataclass(frozen=True, slots=True)
class Container:
    """A campaign, API-triggered broadcast or newsletter; its actions (a newsletter's
    contents) are messages of the same kind whose `parent_id` is its id."""

    id: int
    workspace_id: int
    kind: str
    name: str
    extra: dict[str, Any]
    created_at: float

    @property
    def action_word(self) -> str:
        """What users call its messages: a newsletter's contents, otherwise actions."""
        return "content" if self.kind == "newsletter" else "action"


@dataclass(frozen=True, slots=True)
class SendJob:
    """A broadcast trigger or a newsletter send; counts are of people."""

    id: int
    workspace_id: int
    container_id: int
    status: str
    total: int
    sent: int
    failed: int
    skipped: int
    audience: dict[str, Any]
    errors: list[dict[str, Any]]
    created_at: float
    finished_at: float | None
