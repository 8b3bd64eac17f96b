"""Send: resolve the person, compose the message, record the delivery, queue it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from linktrack.adapters import store
from linktrack.adapters.store import Connection
from linktrack.core import model
from linktrack.core.compose import Composed, LinkTable, Message, Tracking
from linktrack.core.errors import InputError, NotFoundError, Unprocessable
from linktrack.core.liquid import TemplateError
from linktrack.core.model import Channel
from linktrack.core.settings import SettingsError, TrackingSettings
from linktrack.service.keys import KeyStore
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
    """A composed delivery, not yet recorded (`store.create_deliveries` records it)."""

    delivery: model.NewDelivery
    result: SendResult


class Sender:
    """Composes and records deliveries for every channel."""

    def __init__(
        self,
        engine: store.Engine,
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

    def settings_of(self, workspace: model.Workspace) -> TrackingSettings:
        try:
            return TrackingSettings.from_dict(workspace.settings)
        except SettingsError as exc:  # stored settings are validated on write
            raise InputError(f"workspace settings: {exc}") from None

    def _message(self, message: model.Message, liquid: bool) -> Message:
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
        self, conn: Connection, workspace: model.Workspace, request: SendRequest
    ) -> model.Message:
        if request.transactional_message_id is not None:
            found = store.get_message(conn, workspace.id, request.transactional_message_id)
            if found is None or found.kind != "transactional":
                raise NotFoundError(f"no transactional message {request.transactional_message_id}")
            if found.channel != request.channel:
                raise InputError(
                    f"transactional message {found.id} is a {found.channel} message, "
                    f"not {request.channel}"
                )
            return found
        return self._adhoc(conn, workspace.id, request.channel)

    def _adhoc(self, conn: Connection, workspace_id: int, channel: str) -> model.Message:
        """The workspace's ad-hoc message of a channel: links of literal bodies go here."""
        for found in store.list_messages(conn, workspace_id, kind="adhoc"):
            if found.channel == channel:
                return found
        return store.create_message(
            conn, workspace_id, kind="adhoc", channel=channel, name=f"Ad hoc {channel}"
        )

    def send(self, workspace: model.Workspace, request: SendRequest) -> SendResult:
        """Compose one message for one person and record the delivery (queued or outbox).

        One transaction: a send that fails (a template that does not render, an
        unsubscribed person) leaves no person, link or delivery behind.
        """
        with self._engine.begin() as conn:
            return self._send(conn, workspace, request)

    def _send(
        self, conn: Connection, workspace: model.Workspace, request: SendRequest
    ) -> SendResult:
        template = self._template(conn, workspace, request)
        person = store.get_person(conn, workspace.id, request.identifiers)
        if person is None:
            # As Customer.io does: sending to an unknown identifier creates the person.
            address = {"email": request.to} if request.channel == "email" and request.to else {}
            if request.identifiers[0] == "email":
                address = {}
            if request.channel in ("sms", "whatsapp") and request.to:
                address = {"phone": request.to}
            person = store.upsert_person(conn, workspace.id, request.identifiers, address)
        if person.unsubscribed and not request.send_to_unsubscribed:
            raise Unprocessable("the person is unsubscribed and send_to_unsubscribed is false")
        recipient = request.to or person.address_for(request.channel)
        if not recipient:
            raise InputError(f"to is required: the person has no address for {request.channel}")
        adhoc = request.transactional_message_id is None
        if adhoc:
            # A literal body: Liquid still renders, but links are keyed by URL.
            source = model.Message(
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
        store.create_deliveries(conn, [prepared.delivery])
        return prepared.result

    def prepare(
        self,
        conn: Connection,
        workspace: model.Workspace,
        template: model.Message,
        person: model.Person,
        request: SendRequest,
        *,
        recipient: str,
        source: model.Message | None = None,
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
        compiled = self._message(source or template, liquid=True)
        # Read now, for this send: changing a setting affects every later send,
        # of new and already running messages alike.
        settings = settings or self.settings_of(workspace)
        delivery_id = model.new_delivery_id()
        saved: list[int] = []  # characters each shortened link saved
        tracking = Tracking(
            shorten=self._shortener(conn, workspace, settings, request.channel, saved),
            settings=settings,
            signer=self._keys.signer(workspace.id),
            delivery_id=delivery_id,
            links=links if links is not None else store.StoreLinkTable(template.id, conn),
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
        now = time.time()
        delivery = self._delivery(
            workspace, template, person, request, recipient, settings, composed, warnings,
            delivery_id=delivery_id, link=link, saved=saved, now=now,
        )  # fmt: skip
        return Prepared(delivery, SendResult(delivery_id, now, warnings, composed))

    def prepare_action(
        self,
        conn: Connection,
        workspace: model.Workspace,
        action: model.Message,
        person: model.Person,
        recipient: str,
        *,
        trigger: dict[str, Any],
        scope: Mapping[str, Any],
        links: LinkTable | None,
        settings: TrackingSettings,
    ) -> Prepared:
        """`prepare` for a campaign's action (a newsletter's content) and one person."""
        request = SendRequest(
            channel=action.channel,  # type: ignore[arg-type]
            identifiers=("cio_id", person.cio_id),
            message_data=trigger,
        )
        return self.prepare(
            conn, workspace, action, person, request,
            recipient=recipient, scope=scope, links=links, settings=settings,
        )  # fmt: skip

    def _delivery(
        self,
        workspace: model.Workspace,
        template: model.Message,
        person: model.Person,
        request: SendRequest,
        recipient: str,
        settings: TrackingSettings,
        composed: Composed,
        warnings: list[dict[str, str]],
        *,
        delivery_id: str,
        link: str | None,
        saved: list[int],
        now: float,
    ) -> model.NewDelivery:
        """The delivery record of a composed message (queued, or outbox without a transport)."""
        status = "queued" if self._has_transport.get(request.channel) else "outbox"
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
        return model.NewDelivery(
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
            link_ids=sorted({found.link_id for found in composed.links}),
            status=status,
            created_at=now,
        )

    def _shortener(
        self,
        conn: Connection,
        workspace: model.Workspace,
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
