"""A send request: Customer.io's `/v1/send/{channel}` fields, validated.

Every problem is an InputError naming the field, raised before anything is
written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from linktrack.core.errors import InputError, NotFoundError
from linktrack.core.model import (
    ADDRESS_LENGTH,
    IDENTIFIER_KINDS,
    MAX_ID,
    Channel,
    IdentifierKind,
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

    def address(self) -> dict[str, str]:
        """What a send to an unknown identifier knows of the person it creates."""
        if self.channel in ("sms", "whatsapp") and self.to:
            return {"phone": self.to}
        if self.channel == "email" and self.to and self.identifiers[0] != "email":
            return {"email": self.to}
        return {}


def _typed(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise InputError(f"{name} must be {what}")
    return value


def _message_id(value: Any) -> int | None:
    """A transactional message id: an integer, or its digits as a string."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value) if len(value) <= 19 else MAX_ID + 1  # too long: no such message
    elif whole_number(value) is not None:
        value = whole_number(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError("transactional_message_id must be an integer id")
    if not 0 < value <= MAX_ID:
        raise NotFoundError(f"no transactional message {value}")
    return value


def parse_identifiers(idents: Any) -> tuple[IdentifierKind, str]:
    """`{"id"|"email"|"cio_id": value}`, exactly one, as (kind, value)."""
    if not isinstance(idents, dict) or len(idents) != 1:
        raise InputError("identifiers must be an object with exactly one of id, email, cio_id")
    ((kind, value),) = idents.items()
    number = whole_number(value) if kind == "id" else None
    typed = number is not None or (isinstance(value, str) and value != "")
    if kind not in IDENTIFIER_KINDS or not typed:
        raise InputError("identifiers must be an object with exactly one of id, email, cio_id")
    return kind, str(value if number is None else number)


def parse_send(data: Any, channel: Channel) -> SendRequest:
    """Validate a send request body; every problem is an InputError naming the field."""
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    kind, value = parse_identifiers(data.get("identifiers"))
    message_id = _message_id(data.get("transactional_message_id"))
    body = _typed(data, "body", str, "a string")
    subject = _typed(data, "subject", str, "a string")
    if channel == "push":
        # Customer.io's push fields: `title` and `message` name the subject and body.
        body = body or _typed(data, "message", str, "a string")
        subject = subject or _typed(data, "title", str, "a string")
    if message_id is None and not body:
        raise InputError("give transactional_message_id or a body")
    message_data = _typed(data, "message_data", dict, "an object") or {}
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
        **(_push_fields(data) if channel == "push" else {}),
    )


def _push_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "link": _typed(data, "link", str, "a string"),
        "image_url": _typed(data, "image_url", str, "a string"),
        "custom_data": _typed(data, "custom_data", dict, "an object") or {},
    }
