"""A send request: Customer.io's `/v1/send/{channel}` fields, validated.

Every problem is an InputError naming the field, raised before anything is
written.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any, Final

from linktrack.adapters import store
from linktrack.core.errors import InputError, NotFoundError, Unprocessable
from linktrack.core.model import (
    ADDRESS_LENGTH,
    IDENTIFIER_KINDS,
    MAX_ID,
    Channel,
    IdentifierKind,
    Person,
    whole_number,
)


@dataclass(slots=True)
class SendRequest:
    """A validated send call (Customer.io's /v1/send/* fields)."""

    channel: Channel
    identifiers: tuple[IdentifierKind, str]
    to: str | None = None
    transactional_message_id: int | None = None
    subject: str | None = None
    body: str | None = None
    body_plain: str | None = None
    from_addr: str | None = None
    message_data: dict[str, Any] = field(default_factory=dict)
    tracked: bool = True
    disable_message_retention: bool = False
    send_to_unsubscribed: bool = True
    # Push only: the tap target (Liquid; `cio_link` tracks it), image and app data.
    link: str | None = None
    image_url: str | None = None
    custom_data: dict[str, Any] = field(default_factory=dict)
    # Email only: what goes beside the body (EmailExtras), and the preview text.
    email: EmailExtras | None = None
    preheader: str | None = None
    message_name: str | None = None  # transactional_message_id given as the message's name
    send_at: float | None = None  # scheduled: the delivery worker sends it then
    devices: tuple[str, ...] = ()  # push: every device token it goes to (`to`: the first)
    ignored: tuple[str, ...] = ()  # fields given that a send does not use: reported, not lost

    def address(self) -> dict[str, str]:
        """What a send to an unknown identifier knows of the person it creates."""
        if self.channel in ("sms", "whatsapp") and self.to:
            return {"phone": self.to}
        if self.channel == "email" and self.to and self.identifiers[0] != "email":
            return {"email": self.to}
        return {}


@dataclass(frozen=True, slots=True)
class EmailExtras:
    """An email's copies, reply address, own headers and attachments (name → bytes)."""

    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, bytes], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As stored on the delivery (attachments in base64) until the worker sends it."""
        return {
            "cc": list(self.cc), "bcc": list(self.bcc), "reply_to": self.reply_to,
            "headers": [list(h) for h in self.headers],
            "attachments": [[name, base64.b64encode(data).decode()]
                            for name, data in self.attachments],
        }  # fmt: skip

    @staticmethod
    def sent(settings: Mapping[str, Any]) -> dict[str, Any] | None:
        """`settings` once the email is sent: its attachments as names and sizes only (the
        store keeps no copy of what left); None when it had none."""
        email = settings.get("email") or {}
        if not email.get("attachments"):
            return None
        kept = [{"name": name, "bytes": len(base64.b64decode(content))}
                for name, content in email["attachments"]]  # fmt: skip
        rest = {k: v for k, v in email.items() if k != "attachments"}
        return {**settings, "email": {**rest, "attachments_sent": kept}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmailExtras:
        return cls(
            cc=tuple(data.get("cc") or ()), bcc=tuple(data.get("bcc") or ()),
            reply_to=data.get("reply_to"),
            headers=tuple((str(n), str(v)) for n, v in data.get("headers") or ()),
            attachments=tuple((str(n), base64.b64decode(b))
                              for n, b in data.get("attachments") or ()),
        )  # fmt: skip


# What a send may carry and linktrack uses; any other field is reported as ignored.
SEND_FIELDS: Final = frozenset({
    "identifiers", "transactional_message_id", "to", "from", "subject", "body", "body_plain",
    "message_data", "tracked", "disable_message_retention", "send_to_unsubscribed", "send_at",
})  # fmt: skip
MAX_SCHEDULE: Final = 90 * 86400.0  # as Customer.io: a send is scheduled at most 90 days ahead
EMAIL_FIELDS: Final = frozenset({"cc", "bcc", "reply_to", "headers", "attachments", "preheader"})
PUSH_FIELDS: Final = frozenset({"title", "message", "link", "image_url", "custom_data"})
MAX_ATTACHMENTS: Final = 10
MAX_ATTACHMENT_BYTES: Final = 512 << 10  # decoded, all of a send's attachments together
MAX_COPIES: Final = 50  # addresses in cc and in bcc
# Headers a send may not set: linktrack writes them, or they would redirect the message.
RESERVED_HEADERS: Final = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "sender",
    "mime-version", "content-type", "content-transfer-encoding", "x-linktrack-delivery",
    "return-path",
})  # fmt: skip
_HEADER_NAME: Final = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 field name: no colon
_ADDRESS: Final = re.compile(r"[^\s@,<>]+@[^\s@,<>]+")


def _typed(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise InputError(f"{name} must be {what}")
    return value


def _message_id(value: Any) -> int | None:
    """A transactional message id: an integer, or its digits as a string (None too for a
    name: `_message_name`)."""
    if value is None or (isinstance(value, str) and not (value.isascii() and value.isdigit())):
        return None
    if isinstance(value, str):
        value = int(value) if len(value) <= 19 else MAX_ID + 1  # too long: no such message
    elif whole_number(value) is not None:
        value = whole_number(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError("transactional_message_id must be an integer id")
    if not 0 < value <= MAX_ID:
        raise NotFoundError(f"no transactional message {value}")
    return value


def parse_identifiers(idents: Any, what: str = "identifiers") -> tuple[IdentifierKind, str]:
    """`{"id"|"email"|"cio_id": value}`, exactly one, as (kind, value)."""
    refusal = f"{what} must be an object with exactly one of id, email, cio_id"
    if not isinstance(idents, dict) or len(idents) != 1:
        raise InputError(refusal)
    ((kind, value),) = idents.items()
    number = whole_number(value) if kind == "id" else None
    typed = number is not None or (isinstance(value, str) and value != "")
    if kind not in IDENTIFIER_KINDS or not typed:
        raise InputError(refusal)
    return kind, str(value if number is None else number)


def parse_send(data: Any, channel: Channel) -> SendRequest:
    """Validate a send request body; every problem is an InputError naming the field."""
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    kind, value = parse_identifiers(data.get("identifiers"))
    message_id = _message_id(data.get("transactional_message_id"))
    message_name = data.get("transactional_message_id") if message_id is None else None
    if message_name is not None and not (isinstance(message_name, str) and message_name):
        raise InputError("transactional_message_id must be an integer id or a message's name")
    body = _typed(data, "body", str, "a string")
    subject = _typed(data, "subject", str, "a string")
    if channel == "push":
        # Customer.io's push fields: `title` and `message` name the subject and body.
        body = body or _typed(data, "message", str, "a string")
        subject = subject or _typed(data, "title", str, "a string")
    if message_id is None and message_name is None and not body:
        raise InputError("give transactional_message_id or a body")
    message_data = _typed(data, "message_data", dict, "an object") or {}
    send_at = _send_at(data.get("send_at"), time.time())
    flags = {
        flag: _typed(data, flag, bool, "true or false")
        for flag in ("tracked", "disable_message_retention", "send_to_unsubscribed")
    }
    to = _typed(data, "to", str, "a string")
    from_addr = _typed(data, "from", str, "a string")
    for name, address in (("to", to), ("from", from_addr)):
        if address is not None and len(address) > ADDRESS_LENGTH:
            raise InputError(f"{name} must be at most {ADDRESS_LENGTH} characters")
    return SendRequest(
        channel=channel,
        identifiers=(kind, value),
        to=to,
        transactional_message_id=message_id,
        subject=subject,
        body=body,
        body_plain=_typed(data, "body_plain", str, "a string"),
        from_addr=from_addr,
        message_data=message_data,
        tracked=flags["tracked"] is not False,  # null: as if not given
        disable_message_retention=flags["disable_message_retention"] is True,
        send_to_unsubscribed=flags["send_to_unsubscribed"] is not False,
        message_name=message_name,
        send_at=send_at,
        ignored=_ignored(data, channel),
        **(_push_fields(data) if channel == "push" else {}),
        **(_email_fields(data) if channel == "email" else {}),
    )


def _send_at(value: Any, now: float) -> float | None:
    """When a send is scheduled for: None (now) when absent or not in the future."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError("send_at must be a Unix timestamp in seconds")
    if value > now + MAX_SCHEDULE:
        raise Unprocessable("send_at is more than 90 days ahead (Unix seconds, not milliseconds?)")
    return float(value) if value > now else None


def _ignored(data: Mapping[str, Any], channel: Channel) -> tuple[str, ...]:
    """Fields a send of `channel` does not use (Customer.io's `fake_bcc`, `language`, a
    typo): the answer's warnings name them."""
    used = SEND_FIELDS | (EMAIL_FIELDS if channel == "email" else frozenset())
    used |= PUSH_FIELDS if channel == "push" else frozenset()
    return tuple(sorted(name for name in data if name not in used))


def _email_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """cc, bcc, reply_to, headers, attachments and preheader, checked (422 for what the
    document cannot say: an address that is not one, a reserved header, bad base64)."""
    copies = {name: _addresses(data, name) for name in ("cc", "bcc")}
    reply_to = _typed(data, "reply_to", str, "a string")
    if reply_to is not None and len(reply_to) > ADDRESS_LENGTH:
        raise InputError(f"reply_to must be at most {ADDRESS_LENGTH} characters")
    if reply_to is not None and not _ADDRESS.fullmatch(reply_to.strip()):
        raise Unprocessable("reply_to must be one email address")
    headers = _typed(data, "headers", dict, "an object of header names to values") or {}
    for header, text in headers.items():
        if not isinstance(text, str):
            raise InputError(f"headers: {header} must be a string")
        if not _HEADER_NAME.fullmatch(header) or header.lower() in RESERVED_HEADERS:
            raise Unprocessable(f"headers: {header!r} cannot be set by a send")
        if "\r" in text or "\n" in text or len(text) > 998:
            raise Unprocessable(f"headers: {header} must be one line of at most 998 characters")
    attachments = _typed(data, "attachments", dict, "an object of file names to base64") or {}
    if len(attachments) > MAX_ATTACHMENTS:
        raise Unprocessable(f"attachments: at most {MAX_ATTACHMENTS} files")
    files = []
    for file_name, encoded in attachments.items():
        if not isinstance(encoded, str):
            raise InputError(f"attachments: {file_name} must be a base64 string")
        try:
            files.append((file_name, base64.b64decode(encoded, validate=True)))
        except (binascii.Error, ValueError):
            raise Unprocessable(f"attachments: {file_name} is not valid base64") from None
        if not file_name.strip() or "/" in file_name or "\n" in file_name:
            raise Unprocessable(f"attachments: {file_name!r} is not a file name")
    if sum(len(content) for _, content in files) > MAX_ATTACHMENT_BYTES:
        raise Unprocessable(f"attachments: at most {MAX_ATTACHMENT_BYTES >> 10} KiB in all")
    return {
        "email": EmailExtras(copies["cc"], copies["bcc"], reply_to and reply_to.strip(),
                             tuple(headers.items()), tuple(files)),
        "preheader": _typed(data, "preheader", str, "a string") or None,
    }  # fmt: skip


def _addresses(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """cc or bcc: addresses separated by commas (Customer.io's form), or a list of them."""
    value = data.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise InputError(f"{name} must be a string of addresses separated by commas")
    found = tuple(a.strip() for a in value if a.strip())
    if len(found) > MAX_COPIES or not all(_ADDRESS.fullmatch(a) for a in found):
        raise Unprocessable(f"{name} must hold at most {MAX_COPIES} email addresses")
    return found


def _push_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "link": _typed(data, "link", str, "a string"),
        "image_url": _typed(data, "image_url", str, "a string"),
        "custom_data": _typed(data, "custom_data", dict, "an object") or {},
    }


def push_devices(engine: store.Engine, request: SendRequest, person: Person) -> SendRequest:
    """A push's `to`: `all` (every device, the default), `last_used`, or a token."""
    if request.to not in (None, "all", "last_used"):
        return request
    tokens = [d["id"] for d in store.devices_of(engine, person.id)] if person.id else []
    if not tokens:
        raise Unprocessable(
            "the person has no push device: add one (PUT /api/v1/customers/{id}/devices) "
            "or give its token as to"
        )
    every = request.to != "last_used"
    return replace(request, to=tokens[0], devices=tuple(tokens if every else tokens[:1]))


_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_HIDDEN = ("display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;"
           "font-size:1px;line-height:1px;color:transparent")  # fmt: skip


def with_preheader(html: str, preheader: str) -> str:
    """`html` with `preheader` first in its body, hidden: the preview inboxes show."""
    hidden = f'<div style="{_HIDDEN}">{escape(preheader)}</div>'
    body = _BODY_TAG.search(html)
    at = body.end() if body else 0
    return html[:at] + hidden + html[at:]
