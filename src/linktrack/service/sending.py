"""Send: resolve the person, compose the message, record the delivery, queue it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from linktrack.adapters.store import repo
from linktrack.core.compose import Channel, Composed, LinkTable, Message, Tracking
from linktrack.core.liquid import TemplateError
from linktrack.core.settings import SettingsError, TrackingSettings
from linktrack.service.errors import InputError, Unprocessable
from linktrack.service.keys import KeyStore
from linktrack.service.shortlinks import ShortLinks

_IDENTIFIER_KINDS = ("id", "email", "cio_id")


class StoreLinkTable:
    """Link ids of one message from the store, cached: a link is resolved once."""

    def __init__(self, engine: Engine | Connection, message_id: int) -> None:
        self._engine = engine
        self.message_id = message_id
        self._ids: dict[str, int] = {}

    def link_id(self, key: str, href: str, tag: str | None) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = repo.resolve_link(
                self._engine, self.message_id, key, href, tag
            )
        return found


@dataclass(slots=True)
class SendRequest:
    """A validated send call (Customer.io's /v1/send/* fields)."""

    channel: Channel
    identifiers: tuple[repo.IdentifierKind, str]
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


def _typed(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise InputError(f"{name} must be {what}")
    return value


def parse_identifiers(idents: Any) -> tuple[repo.IdentifierKind, str]:
    """`{"id"|"email"|"cio_id": value}`, exactly one, as (kind, value)."""
    if not isinstance(idents, dict) or len(idents) != 1:
        raise InputError("identifiers must be an object with exactly one of id, email, cio_id")
    ((kind, value),) = idents.items()
    if kind not in _IDENTIFIER_KINDS or not isinstance(value, str | int) or value == "":
        raise InputError("identifiers must be an object with exactly one of id, email, cio_id")
    return kind, str(value)


def parse_send(data: Any, channel: Channel) -> SendRequest:
    """Validate a send request body; every problem is an InputError naming the field."""
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    kind, value = parse_identifiers(data.get("identifiers"))
    message_id = data.get("transactional_message_id")
    if message_id is not None:
        if isinstance(message_id, str) and message_id.isdigit():
            message_id = int(message_id)
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise InputError("transactional_message_id must be an integer id")
    body = _typed(data, "body", str, "a string")
    subject = _typed(data, "subject", str, "a string")
    if channel == "push":
        # Customer.io's push fields: `title` and `message` name the subject and body.
        body = body or _typed(data, "message", str, "a string")
        subject = subject or _typed(data, "title", str, "a string")
    if message_id is None and not body:
        raise InputError("give transactional_message_id or a body")
    message_data = _typed(data, "message_data", dict, "an object") or {}
    for flag in ("tracked", "disable_message_retention", "send_to_unsubscribed"):
        _typed(data, flag, bool, "true or false")
    return SendRequest(
        channel=channel,
        identifiers=(kind, value),
        to=_typed(data, "to", str, "a string"),
        transactional_message_id=message_id,
        subject=subject,
        body=body,
        body_plain=_typed(data, "body_plain", str, "a string"),
        from_addr=_typed(data, "from", str, "a string"),
        message_data=message_data,
        tracked=data.get("tracked", True),
        disable_message_retention=data.get("disable_message_retention", False),
        send_to_unsubscribed=data.get("send_to_unsubscribed", True),
        **(_push_fields(data) if channel == "push" else {}),
    )


def _push_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "link": _typed(data, "link", str, "a string"),
        "image_url": _typed(data, "image_url", str, "a string"),
        "custom_data": _typed(data, "custom_data", dict, "an object") or {},
    }


@dataclass(frozen=True, slots=True)
class SendResult:
    delivery_id: str
    queued_at: float
    warnings: list[dict[str, str]]
    composed: Composed


@dataclass(frozen=True, slots=True)
class Prepared:
    """A composed delivery, not yet recorded (`repo.create_deliveries` records it)."""

    delivery: repo.NewDelivery
    result: SendResult


class Sender:
    """Composes and records deliveries for every channel."""

    def __init__(
        self,
        engine: Engine,
        keys: KeyStore,
        *,
        has_transport: dict[str, bool],
        shortlinks: ShortLinks | None = None,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._has_transport = has_transport
        self._shortlinks = shortlinks
        self._compiled: OrderedDict[tuple[Any, ...], Message] = OrderedDict()
        # The settings document stored on each delivery, for the last settings
        # read: a bulk send reads them once and would otherwise rebuild it per person.
        self._settings_doc: tuple[TrackingSettings | None, dict[str, Any]] = (None, {})

    def _settings_document(self, settings: TrackingSettings) -> dict[str, Any]:
        last, document = self._settings_doc
        if last is not settings:
            document = settings.to_dict()
            self._settings_doc = (settings, document)
        return document

    def settings_of(self, workspace: repo.Workspace) -> TrackingSettings:
        try:
            return TrackingSettings.from_dict(workspace.settings)
        except SettingsError as exc:  # stored settings are validated on write
            raise InputError(f"workspace settings: {exc}") from None

    def _message(self, message: repo.Message, liquid: bool) -> Message:
        key = (
            message.id,
            message.subject,
            message.body,
            message.body_plain,
            message.channel,
            liquid,
        )
        compiled = self._compiled.get(key)
        if compiled is None:
            try:
                compiled = Message(
                    channel=message.channel,  # type: ignore[arg-type]
                    subject=message.subject or None,
                    html=message.body if message.channel == "email" and message.body else None,
                    text=(message.body_plain or None)
                    if message.channel == "email"
                    else (message.body or ""),
                    liquid=liquid,
                )
            except TemplateError as exc:
                raise Unprocessable(str(exc)) from None
            self._compiled[key] = compiled
            if len(self._compiled) > 256:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        return compiled

    def _template(
        self, conn: Connection, workspace: repo.Workspace, request: SendRequest
    ) -> repo.Message:
        if request.transactional_message_id is not None:
            found = repo.get_message(conn, workspace.id, request.transactional_message_id)
            if found is None or found.kind != "transactional":
                raise repo.NotFoundError(
                    f"no transactional message {request.transactional_message_id}"
                )
            if found.channel != request.channel:
                raise InputError(
                    f"transactional message {found.id} is a {found.channel} message, "
                    f"not {request.channel}"
                )
            return found
        return self._adhoc(conn, workspace.id, request.channel)

    def _adhoc(self, conn: Connection, workspace_id: int, channel: str) -> repo.Message:
        """The workspace's ad-hoc message of a channel: links of literal bodies go here."""
        for found in repo.list_messages(conn, workspace_id, kind="adhoc"):
            if found.channel == channel:
                return found
        return repo.create_message(
            conn, workspace_id, kind="adhoc", channel=channel, name=f"Ad hoc {channel}"
        )

    def send(self, workspace: repo.Workspace, request: SendRequest) -> SendResult:
        """Compose one message for one person and record the delivery (queued or outbox).

        One transaction: a send that fails (a template that does not render, an
        unsubscribed person) leaves no person, link or delivery behind.
        """
        with self._engine.begin() as conn:
            return self._send(conn, workspace, request)

    def _send(
        self, conn: Connection, workspace: repo.Workspace, request: SendRequest
    ) -> SendResult:
        template = self._template(conn, workspace, request)
        person = repo.get_person(conn, workspace.id, request.identifiers)
        if person is None:
            # As Customer.io does: sending to an unknown identifier creates the person.
            address = {"email": request.to} if request.channel == "email" and request.to else {}
            if request.identifiers[0] == "email":
                address = {}
            if request.channel in ("sms", "whatsapp") and request.to:
                address = {"phone": request.to}
            person = repo.upsert_person(conn, workspace.id, request.identifiers, address)
        if person.unsubscribed and not request.send_to_unsubscribed:
            raise Unprocessable("the person is unsubscribed and send_to_unsubscribed is false")
        recipient = request.to or self.recipient_of(person, request.channel)
        if not recipient:
            raise InputError(f"to is required: the person has no address for {request.channel}")
        adhoc = request.transactional_message_id is None
        if adhoc:
            # A literal body: Liquid still renders, but links are keyed by URL.
            source = repo.Message(
                template.id,
                workspace.id,
                "adhoc",
                None,
                template.name,
                request.channel,
                request.subject or "",
                request.body or "",
                request.body_plain or "",
                request.from_addr or "",
                True,
                {},
                template.created_at,
            )
        else:
            source = template
        prepared = self.prepare(
            conn, workspace, template, person, request, recipient=recipient, source=source
        )
        repo.create_deliveries(conn, [prepared.delivery])
        return prepared.result

    def prepare(
        self,
        conn: Connection,
        workspace: repo.Workspace,
        template: repo.Message,
        person: repo.Person,
        request: SendRequest,
        *,
        recipient: str,
        source: repo.Message | None = None,
        scope: Mapping[str, Any] | None = None,
        links: LinkTable | None = None,
        settings: TrackingSettings | None = None,
    ) -> Prepared:
        """Compose `template` (or `source`, its literal stand-in) for one person.

        Returns the delivery to record; only links (and short links) are written,
        in `conn`. `scope` adds Liquid variables (`event`, `campaign`); `links`
        and `settings` let a bulk send share one link table and one settings
        read across recipients (the compose plan cache is keyed by the table).
        """
        source = source or template
        compiled = self._message(source, liquid=True)
        # Read now, for this send: changing a setting affects every later send,
        # of new and already running messages alike.
        settings = settings or self.settings_of(workspace)
        delivery_id = repo.new_delivery_id()
        saved: list[int] = []  # characters each shortened link saved
        tracking = Tracking(
            shorten=self._shortener(conn, workspace, settings, request.channel, saved),
            settings=settings,
            signer=self._keys.signer(workspace.id),
            delivery_id=delivery_id,
            links=links if links is not None else StoreLinkTable(conn, template.id),
            channel=request.channel,
            tracked=request.tracked and template.tracked,
            cio_id=person.cio_id,
            scope={
                "customer": person.to_customer(),
                "trigger": request.message_data,
                "message": {"id": template.id, "name": template.name},
                **(scope or {}),
            },
        )
        try:
            composed = compiled.compose(tracking)
            link = (
                self._part(request.link, request.channel).compose(tracking).text
                if request.link
                else None
            )
        except TemplateError as exc:
            raise Unprocessable(str(exc)) from None
        warnings = [w.to_dict() for w in composed.warnings]
        warnings += [{"code": "settings", "message": m, "href": ""} for m in settings.warnings()]
        status = "queued" if self._has_transport.get(request.channel) else "outbox"
        now = time.time()
        body = composed.html if request.channel == "email" else composed.text
        extra: dict[str, Any] = {}
        if request.channel in ("sms", "whatsapp"):
            # Reported on the delivery: what shortening saved (providers bill by length).
            after = len(body or "")
            extra.update(length_before_shortening=after + sum(saved), length_after_shortening=after)
        if request.channel == "push":
            extra["push"] = {
                "link": link,
                "image_url": request.image_url,
                "custom_data": request.custom_data,
            }
        delivery = repo.NewDelivery(
            delivery_id=delivery_id,
            workspace_id=workspace.id,
            message_id=template.id,
            channel=request.channel,
            recipient=recipient,
            person_id=person.id,
            subject=composed.subject or "",
            body=None if request.disable_message_retention and status == "outbox" else body,
            body_plain=composed.text if request.channel == "email" else None,
            settings={
                **self._settings_document(settings),
                "from": request.from_addr or template.from_addr,
                "disable_message_retention": request.disable_message_retention,
                **extra,
            },
            warnings=warnings,
            link_ids=sorted({link.link_id for link in composed.links}),
            status=status,
            created_at=now,
        )
        return Prepared(delivery, SendResult(delivery_id, now, warnings, composed))

    def _shortener(
        self,
        conn: Connection,
        workspace: repo.Workspace,
        settings: TrackingSettings,
        channel: str,
        saved: list[int],
    ) -> Callable[[str], str] | None:
        """The short-link hook for an SMS or WhatsApp send when the workspace shortens links."""
        if channel not in ("sms", "whatsapp") or not settings.shorten_links:
            return None
        if self._shortlinks is None:
            return None
        make_short = self._shortlinks.shortener(workspace.id, settings, conn)

        def shorten(tracked_url: str) -> str:
            short = make_short(tracked_url)
            saved.append(len(tracked_url) - len(short))
            return short

        return shorten

    def _part(self, source: str, channel: Channel) -> Message:
        """An extra text part of a send (a push's link), compiled once."""
        key = ("part", source, channel)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = Message(channel=channel, text=source)
            if len(self._compiled) > 256:
                self._compiled.popitem(last=False)
        return compiled

    @staticmethod
    def recipient_of(person: repo.Person, channel: str) -> str | None:
        """The address a channel reaches the person at (None: the person has none)."""
        if channel == "email":
            return person.email
        if channel in ("sms", "whatsapp"):
            return person.phone
        return person.external_id or person.cio_id
