"""Send: resolve the person, compose the message, record the delivery, queue it.

A send is composed before its write transaction opens (`service.drafts`):
the template renders, within its limits, while other sends and the click
writer go on; the transaction then creates the person, the new links and
short codes and the delivery in a few statements.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from linktrack.adapters import store
from linktrack.adapters.store import Connection
from linktrack.core import model
from linktrack.core.compose import LinkTable, Message, Tracking
from linktrack.core.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    SuppressedError,
    Unprocessable,
)
from linktrack.core.liquid import TemplateError
from linktrack.core.model import Channel
from linktrack.core.settings import SettingsError, TrackingSettings
from linktrack.service.drafts import (
    Draft,
    DraftLinks,
    DraftShortener,
    Prepared,
    SendResult,
    Settled,
    settle,
)
from linktrack.service.keys import KeyStore
from linktrack.service.send_requests import SendRequest, push_devices, with_preheader
from linktrack.service.shortlinks import ShortLinks

ATTEMPTS = 3  # drafts composed for a person who changed meanwhile, before giving up
STALE = "the person changed while the message was composed: send it again"


class Sender:
    """Composes and records deliveries for every channel."""

    def __init__(
        self,
        engine: store.Engine,
        keys: KeyStore,
        *,
        has_transport: dict[str, bool],
        shortlinks: ShortLinks | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        # Dates each delivery: `serve --demo` sends its sample days ago (entrypoints.cli.demo).
        self._clock = clock
        self._keys = keys
        self._has_transport = has_transport
        self._shortlinks = shortlinks
        self._compiled: OrderedDict[tuple[Any, ...], Message] = OrderedDict()
        # The settings document stored on each delivery, for the last settings
        # read: a bulk send reads them once and would otherwise rebuild it per person.
        self._settings_doc: tuple[TrackingSettings | None, dict[str, Any]] = (None, {})

    @property
    def engine(self) -> store.Engine:
        return self._engine

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
        self, db: store.Db, workspace: model.Workspace, request: SendRequest
    ) -> model.Message:
        """The message to send: a transactional one, or for a literal body the workspace's
        ad-hoc message of the channel (a stand-in with id 0 until the first send makes it)."""
        found: model.Message | None
        if request.message_name is not None:  # given by name: the newest of that name
            named = [m for m in store.list_messages(db, workspace.id, kind="transactional")
                     if m.name == request.message_name]  # fmt: skip
            found = named[0] if named else None
            if found is None:
                raise NotFoundError(f"no transactional message named {request.message_name!r}")
        elif request.transactional_message_id is not None:
            found = store.get_message(db, workspace.id, request.transactional_message_id)
            if found is None or found.kind != "transactional":
                raise NotFoundError(f"no transactional message {request.transactional_message_id}")
        else:
            return self._adhoc(db, workspace, request.channel, create=False)
        if found.channel != request.channel:
            raise Unprocessable(
                f"transactional message {found.id} is a {found.channel} message, "
                f"not {request.channel}"
            )
        return found

    @staticmethod
    def _adhoc(
        db: store.Db, workspace: model.Workspace, channel: str, *, create: bool
    ) -> model.Message:
        """The workspace's ad-hoc message of a channel: links of literal bodies go here."""
        for found in store.list_messages(db, workspace.id, kind="adhoc"):
            if found.channel == channel:
                return found
        fields: dict[str, Any] = {"kind": "adhoc", "channel": channel, "name": f"Ad hoc {channel}"}
        if create:
            return store.create_message(db, workspace.id, **fields)
        return model.Message(
            0, workspace.id, parent_id=None, subject="", body="", body_plain="", from_addr="",
            tracked=True, extra={}, created_at=time.time(), **fields,
        )  # fmt: skip

    def send(self, workspace: model.Workspace, request: SendRequest) -> SendResult:
        """Compose one message for one person and record the delivery (queued or outbox).

        Composed first, then recorded in one short transaction: a send that fails
        (a template that does not render, an unsubscribed person) leaves no
        person, link or delivery behind.
        """
        ident = model.parse_identifier(request.identifiers)
        for _ in range(ATTEMPTS):
            draft = self._draft(workspace, ident, request)
            if draft.template.id == 0:
                # The channel's first literal send rendered: now its ad-hoc message may be
                # made (a failed send leaves none), and the message composed for it.
                self._adhoc(self._engine, workspace, request.channel, create=True)
                draft = self._draft(workspace, ident, request)
            with self._engine.begin() as conn:
                person = self.stored_person(
                    conn, workspace.id, ident, request.address(), draft.person
                )
                if person is not None:
                    prepared = self.record(conn, draft, person)
                    store.create_deliveries(conn, [prepared.delivery])
                    return prepared.result
        raise ConflictError(STALE)

    def _draft(
        self, workspace: model.Workspace, ident: model.Identifier, request: SendRequest
    ) -> Draft:
        """The send composed before its transaction: only reads (and a first literal send
        of a channel creates the workspace's ad-hoc message for it)."""
        template = self._template(self._engine, workspace, request)
        person = store.get_person(self._engine, workspace.id, ident)
        if person is None:
            email = request.address().get("email")
            if store.is_suppressed(self._engine, workspace.id, ident, {"email": email}):
                raise SuppressedError("the person is suppressed: unsuppress them to send")
            # As Customer.io does: sending to an unknown identifier creates the person.
            person = model.Person.created(
                workspace.id, ident, request.address(), model.new_cio_id(), time.time()
            )
        if person.unsubscribed and not request.send_to_unsubscribed:
            raise Unprocessable("the person is unsubscribed and send_to_unsubscribed is false")
        if request.channel == "push":
            request = push_devices(self._engine, request, person)
        recipient = request.to or person.address_for(request.channel)
        if not recipient:
            raise Unprocessable(f"to is required: the person has no address for {request.channel}")
        source = template
        if request.transactional_message_id is None and request.message_name is None:
            # A literal body: Liquid still renders, but links are keyed by URL.
            source = replace(
                template, subject=request.subject or "", body=request.body or "",
                body_plain=request.body_plain or "", from_addr=request.from_addr or "",
                tracked=True, extra={},
            )  # fmt: skip
        return self.compose(
            workspace, template, person, request, recipient=recipient, source=source
        )

    @staticmethod
    def stored_person(
        conn: Connection,
        workspace_id: int,
        ident: model.Identifier,
        address: Mapping[str, Any],
        drafted: model.Person,
    ) -> model.Person | None:
        """The person a draft was composed for, as stored (created now when new, with the
        draft's cio_id); None when it changed meanwhile and the draft is stale."""
        person = store.get_person(conn, workspace_id, ident)
        if person is None:
            person = store.upsert_person(conn, workspace_id, ident, address, cio_id=drafted.cio_id)
        return person if person.to_customer() == drafted.to_customer() else None

    def compose(
        self,
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
    ) -> Draft:
        """Compose `template` (or `source`, its literal stand-in) for one person.

        Nothing is written: new links and short codes are drafts (`service.drafts`)
        that `record` makes real in the write transaction. `scope` adds Liquid variables (`event`,
        `campaign`); `links` and `settings` let a bulk send share one link table
        and one settings read across recipients (the compose plan cache is keyed
        by the table).
        """
        compiled = self._message(source or template, liquid=True)
        # Read now, for this send: changing a setting affects every later send,
        # of new and already running messages alike.
        settings = settings or self.settings_of(workspace)
        tracking = Tracking(
            shorten=self._shortener(settings, request.channel),
            settings=settings,
            signer=self._keys.signer(workspace.id),
            delivery_id=model.new_delivery_id(),
            links=links if links is not None else DraftLinks(template.id, self._engine),
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
            push_link = request.link and self._part(request.link, request.channel)
            link = push_link.compose(tracking).text if push_link else None
        except TemplateError as exc:
            raise Unprocessable(str(exc)) from None
        return Draft(
            workspace, template, person, request, recipient, settings, tracking, composed, link
        )

    def record(
        self, conn: Connection, draft: Draft, person: model.Person | None = None
    ) -> Prepared:
        """The draft's links and short codes made real in `conn`; its delivery, to insert.

        `person`: the draft's person as stored, when the draft was made for one not
        stored yet.
        """
        tracking = draft.tracking
        settled = settle(conn, draft)
        composed, settings = settled.composed, draft.settings
        warnings = [w.to_dict() for w in composed.warnings]
        warnings += [{"code": "settings", "message": m, "href": ""} for m in settings.warnings()]
        warnings += [{"code": "field_ignored", "href": "",
                      "message": f"{name} is not used by {draft.request.channel} sends"}
                     for name in draft.request.ignored]  # fmt: skip
        now = self._clock()
        delivery = self._delivery(draft, person or draft.person, settled, warnings, now)
        return Prepared(delivery, SendResult(tracking.delivery_id, now, warnings, composed))

    def compose_action(
        self,
        workspace: model.Workspace,
        action: model.Message,
        person: model.Person,
        recipient: str,
        *,
        trigger: dict[str, Any],
        scope: Mapping[str, Any],
        links: LinkTable | None,
        settings: TrackingSettings,
    ) -> Draft:
        """`compose` for a campaign's action (a newsletter's content) and one person."""
        request = SendRequest(
            channel=action.channel,  # type: ignore[arg-type]
            identifiers=("cio_id", person.cio_id),
            message_data=trigger,
        )
        return self.compose(
            workspace, action, person, request,
            recipient=recipient, scope=scope, links=links, settings=settings,
        )  # fmt: skip

    def _delivery(
        self,
        draft: Draft,
        person: model.Person,
        settled: Settled,
        warnings: list[dict[str, str]],
        now: float,
    ) -> model.NewDelivery:
        """The delivery record of a composed message (queued, or outbox without a transport)."""
        request, template, composed = draft.request, draft.template, settled.composed
        status = "queued" if self._has_transport.get(request.channel) else "outbox"
        if request.send_at is not None:
            status = "scheduled"  # rendered now; queued at send_at by the delivery worker
        body = composed.html if request.channel == "email" else composed.text
        extra: dict[str, Any] = {}
        if request.channel in ("sms", "whatsapp"):
            # Reported on the delivery: what shortening saved (providers bill by length).
            after = len(body or "")
            extra.update(
                length_before_shortening=after + sum(settled.saved), length_after_shortening=after
            )
        if request.email is not None:
            extra["email"] = request.email.to_dict()
        if request.preheader and body is not None:
            body = with_preheader(body, request.preheader)
        if request.channel == "push":
            extra["push"] = {
                "devices": list(request.devices) or [draft.recipient],
                "link": settled.link,
                "image_url": request.image_url,
                "custom_data": request.custom_data,
            }
        return model.NewDelivery(
            delivery_id=draft.tracking.delivery_id,
            workspace_id=draft.workspace.id,
            message_id=template.id,
            channel=request.channel,
            recipient=draft.recipient,
            person_id=person.id,
            subject=composed.subject or "",
            body=None if request.disable_message_retention and status == "outbox" else body,
            body_plain=composed.text if request.channel == "email" else None,
            settings={
                **self._settings_document(draft.settings),
                "from": request.from_addr or template.from_addr,
                "disable_message_retention": request.disable_message_retention,
                **extra,
            },
            warnings=warnings,
            link_ids=sorted({found.link_id for found in composed.links}),
            status=status,
            created_at=now,
            send_at=request.send_at,
        )

    def _shortener(self, settings: TrackingSettings, channel: str) -> DraftShortener | None:
        """The short-link hook for an SMS or WhatsApp send when the workspace shortens links."""
        if channel not in ("sms", "whatsapp") or not settings.shorten_links:
            return None
        if self._shortlinks is None:
            return None
        return DraftShortener(self._shortlinks, settings)

    def _part(self, source: str, channel: Channel) -> Message:
        """An extra text part of a send (a push's link), compiled once."""
        key = ("part", source, channel)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = Message(channel=channel, text=source)
            if len(self._compiled) > 256:
                self._compiled.popitem(last=False)
        return compiled
