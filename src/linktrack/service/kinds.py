"""Campaigns, API-triggered broadcasts and newsletters: create, trigger, send in bulk.

Each kind is a container (adapters/store/kinds.py) whose actions (a
newsletter's contents) are ordinary messages: they compose through the same
`Sender.prepare`, land in the same deliveries table, and their clicks reach
the same rollups, so metrics mean the same for every kind.

A campaign is triggered for one person with an event (`event.*` in Liquid),
synchronously, in one transaction. A broadcast trigger and a newsletter send
are jobs over an audience (a list of people or an attribute filter) that run
in a background thread, in batches: one transaction per batch records the
deliveries and the job's progress together, so the counts a client polls are
exactly the deliveries recorded.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.engine import Connection, Engine

from linktrack.adapters.store import kinds as store
from linktrack.adapters.store import repo
from linktrack.core.liquid import TemplateError, compile_liquid
from linktrack.service.errors import InputError, Unprocessable
from linktrack.service.sending import Prepared, Sender, SendRequest, parse_identifiers

log = logging.getLogger("linktrack.kinds")

BATCH: Final = 500  # people per transaction of a bulk send
MAX_PARTS: Final = 50  # actions of a campaign or broadcast, contents of a newsletter
_CONTENT_FIELDS: Final = ("name", "channel", "subject", "body", "body_plain", "from", "tracked")
# Customer.io: link tracking is on by default for email, SMS and WhatsApp; push
# and in-app clicks are reported by the SDKs.
_TRACKED_BY_DEFAULT: Final = frozenset({"email", "sms", "whatsapp"})
_IDENTIFIER_KINDS: Final = ("id", "email", "cio_id")


# ------------------------------------------------------------------------ parsing


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object")
    return data


def _no_unknown(data: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise InputError(f"unknown field(s) in {what}: {', '.join(sorted(unknown))}")


def parse_content(data: Any, *, creating: bool, what: str = "request body") -> dict[str, Any]:
    """Message fields (name, channel, subject, body, body_plain, from, tracked), validated.

    Returns `repo.create_message`/`update_message` keywords; Liquid is compiled
    to reject a template that cannot render before anything is stored.
    """
    data = _object(data, what)
    _no_unknown(data, _CONTENT_FIELDS, what)
    out: dict[str, Any] = {}
    for name in ("name", "subject", "body", "body_plain", "from", "channel"):
        if name in data:
            if not isinstance(data[name], str):
                raise InputError(f"{name} must be a string")
            out["from_addr" if name == "from" else name] = data[name]
    if "channel" in out and out["channel"] not in repo.CHANNELS:
        raise InputError(f"channel must be one of {', '.join(sorted(repo.CHANNELS))}")
    if "tracked" in data:
        if not isinstance(data["tracked"], bool):
            raise InputError("tracked must be true or false")
        out["tracked"] = data["tracked"]
    if creating:
        out.setdefault("channel", "email")
        if not out.get("body"):
            raise InputError(f"body is required in {what}")
        out.setdefault("name", "Untitled")
    for part in ("subject", "body", "body_plain"):
        if out.get(part):
            try:
                compile_liquid(out[part], part)
            except TemplateError as exc:
                raise InputError(str(exc)) from None
    return out


def _parts(data: Mapping[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise InputError(f"{key} must be a non-empty list of {what}s")
    if len(items) > MAX_PARTS:
        raise InputError(f"at most {MAX_PARTS} {what}s")
    parts = []
    for i, item in enumerate(items):
        fields = parse_content(item, creating=True, what=f"{what} {i + 1}")
        fields.setdefault("tracked", fields["channel"] in _TRACKED_BY_DEFAULT)
        parts.append(fields)
    return parts


@dataclass(frozen=True, slots=True)
class NewContainer:
    kind: str
    name: str
    parts: list[dict[str, Any]]
    extra: dict[str, Any]


def parse_container(kind: str, data: Any) -> NewContainer:
    """A create request: `{"name", "actions": [...]}`; a newsletter takes `contents`
    or its one content's fields at the top level; a campaign may name its `trigger_event`.
    """
    data = _object(data, "request body")
    name = data.get("name", "Untitled")
    if not isinstance(name, str) or not name.strip():
        raise InputError("name must be a non-empty string")
    extra: dict[str, Any] = {}
    if kind == "newsletter":
        if "contents" in data:
            _no_unknown(data, ("name", "contents"), "request body")
            parts = _parts(data, "contents", "content")
        else:
            content = {k: v for k, v in data.items() if k != "name"}
            content["name"] = name
            parts = _parts({"contents": [content]}, "contents", "content")
    else:
        allowed = ["name", "actions"] + (["trigger_event"] if kind == "campaign" else [])
        _no_unknown(data, allowed, "request body")
        parts = _parts(data, "actions", "action")
        event = data.get("trigger_event")
        if event is not None:
            if not isinstance(event, str) or not event:
                raise InputError("trigger_event must be a non-empty string (an event name)")
            extra["trigger_event"] = event
    for i, part in enumerate(parts):
        if part["name"] == "Untitled":
            part["name"] = f"{name} {i + 1}" if len(parts) > 1 else name
    return NewContainer(kind, name, parts, extra)


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict[str, Any]


def parse_trigger(data: Any) -> tuple[repo.Identifier, Event]:
    """A campaign trigger: `{"identifiers": {"id"|"email"|"cio_id": …}, "event": {…}}`."""
    data = _object(data, "request body")
    _no_unknown(data, ("identifiers", "event"), "request body")
    try:
        ident = repo.parse_identifier(parse_identifiers(data.get("identifiers")))
    except repo.InvalidValueError as exc:
        raise InputError(str(exc)) from None
    event = _object(data.get("event", {}), "event")
    _no_unknown(event, ("name", "data"), "event")
    name = event.get("name", "")
    if not isinstance(name, str):
        raise InputError("event.name must be a string")
    return ident, Event(name, _object(event.get("data", {}), "event.data"))


# ---------------------------------------------------------------------- audiences


@dataclass(frozen=True, slots=True)
class Condition:
    """`{"attribute": {"field", "operator": "eq"|"exists", "value"}}`, or `{"and": [...]}`."""

    field: str = ""
    operator: str = ""
    value: Any = None
    all_of: tuple[Condition, ...] = ()

    def matches(self, person: repo.Person) -> bool:
        if self.all_of:
            return all(c.matches(person) for c in self.all_of)
        actual = _field(person, self.field)
        if self.operator == "exists":
            return actual is not None and actual != ""
        return _same(actual, self.value, self.field == "email")

    def to_dict(self) -> dict[str, Any]:
        if self.all_of:
            return {"and": [c.to_dict() for c in self.all_of]}
        attribute: dict[str, Any] = {"field": self.field, "operator": self.operator}
        if self.operator == "eq":
            attribute["value"] = self.value
        return {"attribute": attribute}


def _field(person: repo.Person, name: str) -> Any:
    if name == "id":
        return person.external_id
    if name in ("email", "phone", "cio_id", "unsubscribed"):
        return getattr(person, name)
    return person.attributes.get(name)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(actual: Any, wanted: Any, fold: bool) -> bool:
    """Equal as JSON values or as text (`5` = `"5"`, `true` = `"true"`)."""
    if actual is None or isinstance(actual, dict | list):
        return actual == wanted and actual is not None
    a, b = _scalar_text(actual), _scalar_text(wanted)
    return a.lower() == b.lower() if fold else a == b


def parse_condition(data: Any, depth: int = 0) -> Condition:
    if depth > 8:
        raise InputError("recipients filter is nested too deeply")
    data = _object(data, "a recipients condition")
    if len(data) != 1:
        raise InputError('a recipients condition is one of {"and": [...]} or {"attribute": {...}}')
    ((kind, body),) = data.items()
    if kind == "and":
        if not isinstance(body, list) or not body:
            raise InputError('"and" must be a non-empty list of conditions')
        return Condition(all_of=tuple(parse_condition(c, depth + 1) for c in body))
    if kind != "attribute":
        raise InputError(
            f'unknown recipients condition {kind!r}: use "and" or "attribute" '
            "(operators eq and exists)"
        )
    body = _object(body, "attribute")
    _no_unknown(body, ("field", "operator", "value"), "attribute")
    name, operator = body.get("field"), body.get("operator", "eq")
    if not isinstance(name, str) or not name:
        raise InputError("attribute.field must be a non-empty string")
    if operator not in ("eq", "exists"):
        raise InputError("attribute.operator must be eq or exists")
    if operator == "eq":
        value = body.get("value")
        if value is None or isinstance(value, dict | list):
            raise InputError("attribute.value must be a string, number or boolean for eq")
        return Condition(name, "eq", value)
    return Condition(name, "exists")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a job sends to: listed people (each with optional per-person data) or a filter."""

    listed: tuple[tuple[repo.Identifier, dict[str, Any]], ...] = ()
    where: Condition | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _identifier(kind: repo.IdentifierKind, value: Any, what: str) -> repo.Identifier:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise InputError(f"{what} must hold non-empty strings")
    text = str(value)
    if kind == "id" and text.startswith("cio_"):
        kind, text = "cio_id", text[4:]  # `cio_<cio_id>` names a person anywhere
    try:
        return repo.parse_identifier((kind, text))
    except repo.InvalidValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _listed(
    kind: repo.IdentifierKind, values: Any, what: str
) -> tuple[tuple[repo.Identifier, dict[str, Any]], ...]:
    if not isinstance(values, list) or not values:
        raise InputError(f"{what} must be a non-empty list")
    return tuple((_identifier(kind, v, what), {}) for v in values)


def _per_user(items: Any) -> tuple[tuple[repo.Identifier, dict[str, Any]], ...]:
    if not isinstance(items, list) or not items:
        raise InputError("per_user_data must be a non-empty list")
    out = []
    for item in items:
        item = _object(item, "each per_user_data entry")
        _no_unknown(item, (*_IDENTIFIER_KINDS, "data"), "per_user_data entry")
        named = [k for k in _IDENTIFIER_KINDS if k in item]
        if len(named) != 1:
            raise InputError("each per_user_data entry names one of id, email, cio_id")
        kind: repo.IdentifierKind = named[0]
        ident = _identifier(kind, item[kind], "per_user_data")
        out.append((ident, _object(item.get("data", {}), "per_user_data data")))
    return tuple(out)


_AUDIENCE_KEYS: Final = ("ids", "emails", "per_user_data", "recipients")


def parse_audience(data: Mapping[str, Any]) -> Audience:
    """Exactly one of `ids`, `emails`, `per_user_data` (Customer.io's broadcast fields)
    or `recipients`: `{"ids": [...]}`, `{"emails": [...]}`, or a filter condition.
    """
    given = [k for k in _AUDIENCE_KEYS if k in data]
    if len(given) != 1:
        raise InputError(
            "give exactly one of ids, emails, per_user_data or recipients "
            '(a list or a filter such as {"and": [{"attribute": '
            '{"field": "plan", "operator": "eq", "value": "pro"}}]})'
        )
    (key,) = given
    value = data[key]
    if key == "recipients":
        value = _object(value, "recipients")
        if len(value) == 1 and next(iter(value)) in ("ids", "emails"):
            key = next(iter(value))
            value = value[key]
        else:
            where = parse_condition(value)
            return Audience(where=where, summary={"recipients": where.to_dict()})
    if key == "ids":
        listed = _listed("id", value, "ids")
    elif key == "emails":
        listed = _listed("email", value, "emails")
    else:
        listed = _per_user(value)
    return Audience(listed=listed, summary={key: len(listed)})


# ------------------------------------------------------------------------ views


def content_view(m: repo.Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "channel": m.channel,
        "subject": m.subject,
        "body": m.body,
        "body_plain": m.body_plain,
        "from": m.from_addr,
        "tracked": m.tracked,
        "created_at": int(m.created_at),
    }


def container_view(c: store.Container, parts: Sequence[repo.Message]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": c.id,
        "type": c.kind,
        "name": c.name,
        "created_at": int(c.created_at),
        **c.extra,
    }
    if c.kind == "newsletter":
        view["contents"] = [content_view(m) for m in parts]
        view["content_ids"] = [m.id for m in parts]
    else:
        view["actions"] = [content_view(m) for m in parts]
    return view


def job_view(job: store.Job, kind: str) -> dict[str, Any]:
    return {
        "id": job.id,
        f"{kind}_id": job.container_id,
        "status": job.status,
        "total": job.total,
        "sent": job.sent,
        "failed": job.failed,
        "skipped": job.skipped,
        "audience": job.audience,
        "errors": job.errors,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


# ---------------------------------------------------------------------- the service


class _JobLinks:
    """One action's link ids for a whole job, resolved in the current batch's transaction.

    One table for the job (not one per delivery) is what lets the compose plan
    cache serve every recipient after the first.
    """

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.conn: Connection | None = None
        self._ids: dict[str, int] = {}

    def link_id(self, key: str, href: str, tag: str | None) -> int:
        found = self._ids.get(key)
        if found is None:
            assert self.conn is not None, "bind the table to the batch's connection first"
            found = self._ids[key] = repo.resolve_link(self.conn, self.message_id, key, href, tag)
        return found


@dataclass(frozen=True, slots=True)
class Triggered:
    deliveries: list[dict[str, Any]]
    skipped: list[dict[str, Any]]


Progress = Callable[[store.Job], None]
# (label for errors, the person or None when unknown, the person's own trigger data)
Batch = list[tuple[str, repo.Person | None, dict[str, Any]]]


class Kinds:
    """Campaigns, broadcasts and newsletters over one store and one Sender."""

    def __init__(self, engine: Engine, sender: Sender, *, batch: int = BATCH) -> None:
        self.engine = engine
        self.sender = sender
        self.batch = batch
        self._threads: list[threading.Thread] = []

    # -- containers

    def create(self, workspace: repo.Workspace, new: NewContainer) -> dict[str, Any]:
        """Store the container and its actions in one transaction; return its view."""
        with self.engine.begin() as conn:
            container = store.create_container(conn, workspace.id, new.kind, new.name, new.extra)
            parts = [
                repo.create_message(
                    conn, workspace.id, kind=new.kind, parent_id=container.id, **fields
                )
                for fields in new.parts
            ]
        return container_view(container, parts)

    def get(self, workspace: repo.Workspace, kind: str, container_id: int) -> store.Container:
        found = store.get_container(self.engine, workspace.id, kind, container_id)
        if found is None:
            raise repo.NotFoundError(f"no {kind} {container_id}")
        return found

    def parts(self, container: store.Container, db: repo.Db | None = None) -> list[repo.Message]:
        """The container's actions (contents), oldest first."""
        found = repo.list_messages(
            db if db is not None else self.engine,
            container.workspace_id,
            kind=container.kind,
            parent_id=container.id,
        )
        return sorted(found, key=lambda m: m.id)

    def part(self, container: store.Container, part_id: int) -> repo.Message:
        message = repo.get_message(self.engine, container.workspace_id, part_id)
        if message is None or message.parent_id != container.id or message.kind != container.kind:
            what = "content" if container.kind == "newsletter" else "action"
            raise repo.NotFoundError(f"no {what} {part_id} in {container.kind} {container.id}")
        return message

    def view(self, container: store.Container) -> dict[str, Any]:
        return container_view(container, self.parts(container))

    # -- campaigns

    def trigger_campaign(
        self,
        workspace: repo.Workspace,
        campaign: store.Container,
        ident: repo.Identifier,
        event: Event,
    ) -> Triggered:
        """Send every action to the person, with `event.*`; all or nothing, in one transaction.

        As a Track API event does, an unknown id or email creates the person.
        """
        with self.engine.begin() as conn:
            person = repo.get_person(conn, workspace.id, ident)
            if person is None:
                person = repo.upsert_person(conn, workspace.id, ident, {})
            settings = self.sender.settings_of(workspace)
            scope = self._scope(campaign, event)
            prepared: list[tuple[int, Prepared]] = []
            skipped: list[dict[str, Any]] = []
            for action in self.parts(campaign, conn):
                recipient = Sender.recipient_of(person, action.channel)
                if person.unsubscribed:
                    skipped.append({"action_id": action.id, "reason": "the person is unsubscribed"})
                elif not recipient:
                    skipped.append(
                        {"action_id": action.id, "reason": f"no address for {action.channel}"}
                    )
                else:
                    prepared.append(
                        (action.id, self._prepare(conn, workspace, action, person, recipient, {},
                                                  scope, None, settings))
                    )  # fmt: skip
            repo.create_deliveries(conn, [p.delivery for _, p in prepared])
        return Triggered(
            [
                {
                    "action_id": action_id,
                    "delivery_id": p.result.delivery_id,
                    "queued_at": int(p.result.queued_at),
                    "warnings": p.result.warnings,
                }
                for action_id, p in prepared
            ],
            skipped,
        )

    def campaigns_for_event(self, workspace: repo.Workspace, name: str) -> list[store.Container]:
        """The workspace's campaigns whose `trigger_event` is `name`."""
        return [
            c
            for c in store.list_containers(self.engine, workspace.id, "campaign")
            if c.extra.get("trigger_event") == name
        ]

    @staticmethod
    def _scope(container: store.Container, event: Event | None = None) -> dict[str, Any]:
        scope: dict[str, Any] = {
            "campaign": {"id": container.id, "name": container.name, "type": container.kind}
        }
        if event is not None:
            scope["event"] = event.data
            scope["event_name"] = event.name
        return scope

    def _prepare(
        self,
        conn: Connection,
        workspace: repo.Workspace,
        action: repo.Message,
        person: repo.Person,
        recipient: str,
        trigger: dict[str, Any],
        scope: dict[str, Any],
        links: _JobLinks | None,
        settings: Any,
    ) -> Prepared:
        request = SendRequest(
            channel=action.channel,  # type: ignore[arg-type]
            identifiers=("cio_id", person.cio_id),
            message_data=trigger,
        )
        return self.sender.prepare(
            conn, workspace, action, person, request,
            recipient=recipient, scope=scope, links=links, settings=settings,
        )  # fmt: skip

    # -- broadcasts and newsletters

    def start(
        self,
        workspace: repo.Workspace,
        container: store.Container,
        audience: Audience,
        data: dict[str, Any],
    ) -> store.Job:
        """Record a job and run it in a background thread; returns it as created."""
        job = store.create_job(self.engine, container, audience.summary, len(audience.listed))
        thread = threading.Thread(
            target=self.run,
            args=(job, workspace, container, audience, data),
            name=f"send-job-{job.id}",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return job

    def run(
        self,
        job: store.Job,
        workspace: repo.Workspace,
        container: store.Container,
        audience: Audience,
        data: dict[str, Any],
        progress: Progress | None = None,
    ) -> store.Job:
        """Send to the audience batch by batch; the job row shows progress. Never raises."""
        try:
            self._run(job, workspace, container, audience, data, progress)
            store.finish_job(self.engine, job.id, "done")
        except Exception as exc:  # a job thread has no caller: the job row carries it
            log.exception("send job %s failed", job.id)
            store.finish_job(self.engine, job.id, "failed", error=f"send stopped: {exc}")
        final = store.get_job(self.engine, container.id, job.id)
        assert final is not None
        if progress is not None:
            progress(final)
        return final

    def _run(
        self,
        job: store.Job,
        workspace: repo.Workspace,
        container: store.Container,
        audience: Audience,
        data: dict[str, Any],
        progress: Progress | None,
    ) -> None:
        parts = self.parts(container)
        settings = self.sender.settings_of(workspace)
        tables = {m.id: _JobLinks(m.id) for m in parts}
        scope = self._scope(container)
        seen: set[int] = set()
        total, batches = self._audience(workspace, audience)
        store.set_job_total(self.engine, job.id, total)
        self._report(job, progress)
        for batch in batches:
            sent = failed = skipped = 0
            errors: list[dict[str, Any]] = []
            deliveries: list[repo.NewDelivery] = []
            with self.engine.begin() as conn:
                for table in tables.values():
                    table.conn = conn
                for label, person, own in batch:
                    if person is None:
                        failed += 1
                        errors.append({"identifier": label, "error": "no such person"})
                        continue
                    if person.id in seen or person.unsubscribed:
                        skipped += 1  # listed twice, or unsubscribed
                        continue
                    seen.add(person.id)
                    try:
                        mine = self._for_person(
                            conn, workspace, parts, person, {**data, **own}, scope, tables, settings
                        )
                    except InputError as exc:
                        failed += 1
                        errors.append({"identifier": label, "error": str(exc)})
                        continue
                    deliveries.extend(mine)
                    sent += 1
                repo.create_deliveries(conn, deliveries)
                store.add_progress(
                    conn, job.id, sent=sent, failed=failed, skipped=skipped, errors=errors
                )
            self._report(job, progress)

    def _report(self, job: store.Job, progress: Progress | None) -> None:
        if progress is not None:
            now = store.get_job(self.engine, job.container_id, job.id)
            if now is not None:
                progress(now)

    def _for_person(
        self,
        conn: Connection,
        workspace: repo.Workspace,
        parts: Sequence[repo.Message],
        person: repo.Person,
        trigger: dict[str, Any],
        scope: dict[str, Any],
        tables: Mapping[int, _JobLinks],
        settings: Any,
    ) -> list[repo.NewDelivery]:
        """The person's deliveries: every action, or one content of a newsletter (A/B split)."""
        if parts and parts[0].kind == "newsletter" and len(parts) > 1:
            # A stable, even split: a person gets the same content on every send.
            parts = [parts[zlib.crc32(person.cio_id.encode()) % len(parts)]]
        out = []
        for part in parts:
            recipient = Sender.recipient_of(person, part.channel)
            if recipient:
                prepared = self._prepare(
                    conn, workspace, part, person, recipient, trigger, scope, tables[part.id],
                    settings,
                )  # fmt: skip
                out.append(prepared.delivery)
        if not out:
            channels = "/".join(sorted({p.channel for p in parts}))
            raise Unprocessable(f"the person has no address for {channels}")
        return out

    def _audience(
        self, workspace: repo.Workspace, audience: Audience
    ) -> tuple[int, Iterator[Batch]]:
        """How many people, then their batches (an unknown identifier's person is None)."""
        if audience.where is None:
            return len(audience.listed), self._listed(workspace, audience.listed)
        with self.engine.connect() as conn:
            ids = list(store.matching_people(conn, workspace.id, audience.where.matches))
        return len(ids), self._matched(ids)

    def _listed(
        self, workspace: repo.Workspace, listed: Sequence[tuple[repo.Identifier, dict[str, Any]]]
    ) -> Iterator[Batch]:
        for start in range(0, len(listed), self.batch):
            chunk = listed[start : start + self.batch]
            people = store.people_by_identifiers(
                self.engine, workspace.id, [ident for ident, _ in chunk]
            )
            yield [(_label(ident), people.get(ident), own) for ident, own in chunk]

    def _matched(self, ids: Sequence[int]) -> Iterator[Batch]:
        for start in range(0, len(ids), self.batch):
            chunk = ids[start : start + self.batch]
            found = store.people_by_pks(self.engine, chunk)
            yield [(f"person {pk}", found.get(pk), {}) for pk in chunk]

    # -- metrics

    def message_ids(self, container: store.Container) -> list[int]:
        return [m.id for m in self.parts(container)]

    def join(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests and the CLI)."""
        for thread in list(self._threads):
            thread.join(timeout)


def _label(ident: repo.Identifier) -> str:
    kind, value = ident
    return f"cio_{value}" if kind == "cio_id" else value
