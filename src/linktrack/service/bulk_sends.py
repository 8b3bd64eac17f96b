"""Broadcast triggers and newsletter sends: a job over an audience, in batches.

A job runs in a background thread (or in the foreground for the CLI), in
batches: one transaction per batch records the deliveries and the job's
progress together, so the counts a client polls are exactly the deliveries
recorded. Unknown people count as `failed` (the first reasons are kept),
unsubscribed or repeated ones as `skipped`.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from linktrack.adapters import store
from linktrack.core.audience import Audience
from linktrack.core.errors import InputError, NotFoundError, Unprocessable
from linktrack.core.model import (
    Container,
    Identifier,
    Message,
    Person,
    SendJob,
    Workspace,
)
from linktrack.core.settings import TrackingSettings
from linktrack.service.containers import Containers, scope_of
from linktrack.service.drafts import Draft, DraftLinks
from linktrack.service.sending import Sender

log = logging.getLogger("linktrack.bulk_sends")

BATCH: Final = 500  # people per transaction of a bulk send

Progress = Callable[[SendJob], None]
# (label for errors, the person or None when unknown, the person's own trigger data)
Batch = list[tuple[str, Person | None, dict[str, Any]]]


class BulkSends:
    """Broadcast triggers and newsletter sends over one store and one Sender."""

    def __init__(self, containers: Containers, sender: Sender, *, batch: int = BATCH) -> None:
        self.containers = containers
        self.engine = containers.engine
        self.sender = sender
        self.batch = batch
        self._threads: list[threading.Thread] = []

    def start(
        self, workspace: Workspace, container: Container, audience: Audience, data: dict[str, Any]
    ) -> SendJob:
        """Record a job and run it in a background thread; returns it as created.

        A segment audience must be the workspace's (else a 404, nothing written)."""
        if (
            audience.segment_id is not None
            and store.get_segment(self.engine, workspace.id, audience.segment_id) is None
        ):
            raise NotFoundError(f"no segment {audience.segment_id} in this workspace")
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
        job: SendJob,
        workspace: Workspace,
        container: Container,
        audience: Audience,
        data: dict[str, Any],
        progress: Progress | None = None,
    ) -> SendJob:
        """Send to the audience batch by batch; the job row shows progress. Never raises."""
        try:
            actions = self.containers.actions(container)
            send = _BatchSend(
                self.sender, workspace, actions, scope_of(container), data,
                self.sender.settings_of(workspace),
            )  # fmt: skip
            total, batches = self._audience(workspace, audience)
            store.set_job_total(self.engine, job.id, total)
            self._report(job, progress)
            for batch in batches:
                send.batch(batch)  # composed before the transaction: reads only
                with self.engine.begin() as conn:
                    deliveries = [self.sender.record(conn, d).delivery for d in send.drafts]
                    store.create_deliveries(conn, deliveries)
                    store.add_progress(
                        conn, job.id, sent=send.sent, failed=send.failed, skipped=send.skipped,
                        errors=send.errors,
                    )  # fmt: skip
                send.recorded()
                self._report(job, progress)
            store.finish_job(self.engine, job.id, "done")
        except Exception as exc:  # a job thread has no caller: the job row carries it
            log.exception("send job %s failed", job.id)
            store.finish_job(self.engine, job.id, "failed", error=f"send stopped: {exc}")
        final = store.get_job(self.engine, container.id, job.id)
        assert final is not None
        if progress is not None:
            progress(final)
        return final

    def _report(self, job: SendJob, progress: Progress | None) -> None:
        if progress is not None:
            now = store.get_job(self.engine, job.container_id, job.id)
            if now is not None:
                progress(now)

    def _audience(self, workspace: Workspace, audience: Audience) -> tuple[int, Iterator[Batch]]:
        """How many people, then their batches (an unknown identifier's person is None)."""
        if audience.segment_id is not None:
            # Members as the job starts; a segment deleted since then reaches nobody.
            segment = store.get_segment(self.engine, workspace.id, audience.segment_id)
            rule = None if segment is None else segment.rule
            ids = [] if rule is None else store.segment_member_ids(self.engine, workspace.id, rule)
            return len(ids), self._matched(ids)
        if audience.where is None:
            return len(audience.listed), self._listed(workspace, audience.listed)
        with self.engine.connect() as conn:
            ids = list(store.matching_people(conn, workspace.id, audience.where.matches))
        return len(ids), self._matched(ids)

    def _listed(
        self, workspace: Workspace, listed: Sequence[tuple[Identifier, dict[str, Any]]]
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

    def join(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests and the CLI)."""
        for thread in list(self._threads):
            thread.join(timeout)


@dataclass
class _BatchSend:
    """One job's compose state across its batches, and the current batch's outcome."""

    sender: Sender
    workspace: Workspace
    actions: list[Message]
    scope: dict[str, Any]
    data: dict[str, Any]
    settings: TrackingSettings
    # One link table per action for the whole job: the compose plan cache then
    # serves every recipient after the first.
    tables: dict[int, DraftLinks] = field(init=False, default_factory=dict)
    seen: set[int] = field(default_factory=set)
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.recorded()

    def recorded(self) -> None:
        """After a batch's transaction: links it created are stored ones for the next."""
        if not self.tables or any(table.new for table in self.tables.values()):
            engine = self.sender.engine
            self.tables = {m.id: DraftLinks(m.id, engine) for m in self.actions}

    def batch(self, batch: Batch) -> None:
        """Compose the batch's deliveries (drafts: `Sender.record` makes them real)."""
        self.sent = self.failed = self.skipped = 0
        self.errors, self.drafts = [], []
        for label, person, own in batch:
            if person is None:
                self.failed += 1
                self.errors.append({"identifier": label, "error": "no such person"})
                continue
            if person.id in self.seen or person.unsubscribed:
                self.skipped += 1  # listed twice, or unsubscribed
                continue
            self.seen.add(person.id)
            try:
                mine = self._for_person(person, {**self.data, **own})
            except InputError as exc:
                self.failed += 1
                self.errors.append({"identifier": label, "error": str(exc)})
                continue
            self.drafts.extend(mine)
            self.sent += 1

    def _for_person(self, person: Person, trigger: dict[str, Any]) -> list[Draft]:
        """The person's deliveries: every action, or one content of a newsletter (A/B split)."""
        actions: Sequence[Message] = self.actions
        if actions and actions[0].kind == "newsletter" and len(actions) > 1:
            # A stable, even split: a person gets the same content on every send.
            actions = [actions[zlib.crc32(person.cio_id.encode()) % len(actions)]]
        out = []
        for action in actions:
            recipient = person.address_for(action.channel)
            if recipient:
                out.append(self.sender.compose_action(
                    self.workspace, action, person, recipient, trigger=trigger,
                    scope=self.scope, links=self.tables[action.id], settings=self.settings,
                ))  # fmt: skip
        if not out:
            channels = "/".join(sorted({a.channel for a in actions}))
            raise Unprocessable(f"the person has no address for {channels}")
        return out


def _label(ident: Identifier) -> str:
    kind, value = ident
    return f"cio_{value}" if kind == "cio_id" else value
