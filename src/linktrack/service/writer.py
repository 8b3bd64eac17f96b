"""The writer: moves click/open events from the event log into the SQL store.

One batch is one transaction: rows inserted with ON CONFLICT DO NOTHING on the
event id, rollups and delivery first-times updated only for rows that were
actually inserted (`core.rollups`), and the log checkpoint saved alongside. A
replay, a crash between commit and ack, or a redelivered Redis entry therefore
never counts twice. The same class drains a `FileEventLog` (checkpoint in
`consumer_offsets`) or a `RedisStreamEventLog` (the consumer group is the
checkpoint; entries are XACKed after the commit).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from linktrack.adapters import scanner_networks, store
from linktrack.adapters.eventlog import EventLog
from linktrack.core import actors, bots, events, rollups
from linktrack.core.events import Event
from linktrack.core.rollups import DeliveryState
from linktrack.service import revisions
from linktrack.service.progress import Progress
from linktrack.service.reporting import ReportingFeed

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0  # seconds between retries of a failing batch: a store back is seen soon


@dataclass
class WriterStats:
    """Running totals since the writer started."""

    batches: int = 0
    events: int = 0
    clicks: int = 0
    opens: int = 0
    synthetic_opens: int = 0
    duplicates: int = 0
    unknown_delivery: int = 0
    rejected: int = 0
    revised: int = 0  # stored clicks turned machine by a later batch (core.actors)


def _row(e: Event, d: DeliveryState, machine: bool, reasons: list[str]) -> dict[str, Any]:
    """The columns a click and an open share."""
    return {
        "event_id": e.id,
        "workspace_id": d.workspace_id,
        "message_id": d.message_id,
        "delivery_id": d.id,
        "person_id": d.person_id,
        "ts": e.ts,
        "user_agent": e.ua,
        "ip": e.ip,
        "machine": machine,
        "machine_reasons": reasons,
        "source": e.src,
    }


def _click_row(e: Event, d: DeliveryState, machine: bool, reasons: list[str]) -> dict[str, Any]:
    row = _row(e, d, machine, reasons)
    row.update(link_id=e.link_id, position=e.position, href=e.href, method=e.method)
    return row


def _open_row(
    e: Event, d: DeliveryState, machine: bool, reasons: list[str], *, synthetic: bool = False
) -> dict[str, Any]:
    row = _row(e, d, machine, reasons)
    row["synthetic"] = synthetic
    if synthetic:  # keyed on the click's id, so a replay cannot add a second
        row["event_id"] = f"{e.id}:open"
    return row


class Writer:
    """Drains an event log into the store, one transaction per batch."""

    def __init__(
        self,
        engine: store.Engine,
        log: EventLog,
        consumer: str = "writer",
        *,
        max_lag: float = 60.0,
        clock: Callable[[], float] = time.time,
        reporting: ReportingFeed | None = None,
        networks: bots.ScannerNetworks | None = None,
    ) -> None:
        self.engine = engine
        # The published scanner networks (adapters.scanner_networks: the shipped list
        # unless the operator names their own).
        self.networks = scanner_networks.load() if networks is None else networks
        self.reporting = ReportingFeed() if reporting is None else reporting
        self.log = log
        self.consumer = consumer
        self.stats = WriterStats()
        self.progress = Progress(max_lag)
        self.clock = clock
        self._kid_workspace: dict[str, int] = {}

    # -- driving

    def run_once(self, limit: int = 5000) -> int:
        """Process up to `limit` events after the checkpoint; return how many were read."""
        # Read the log before opening the write transaction: a slow or blocking
        # read (Redis BLOCK) must not hold SQLite's write lock.
        after = self.checkpoint()
        items = self.log.read(after, limit)
        now = self.clock()
        if not items:
            if after is not None:
                # Everything is stored: the log may let it go even when nothing new
                # comes (a log that filled its volume waits for exactly this).
                self.log.ack(after)
            self.progress.observe(None, now)
            if self.progress.due(now):  # idle, and says so: silence would mean stalled
                with self.engine.begin() as conn:
                    store.save_progress(conn, self.consumer, *self.progress.report(now))
            return 0
        with self.engine.begin() as conn:
            if store.claim_checkpoint(conn, self.consumer) != after:
                # Moved meanwhile (a reset, or a second writer under our name):
                # drop this read; the next run starts from the new position.
                log.warning("checkpoint of %s moved during a batch; re-reading", self.consumer)
                return 0
            self.progress.observe(self._apply(conn, [raw for _, raw in items]), now)
            self.progress.stored(len(items))
            store.save_checkpoint(
                conn, self.consumer, items[-1][0], progress=self.progress.report(now)
            )
        # Only after the commit: the log may now forget (file) or XACK (Redis).
        self.log.ack(items[-1][0])
        self.stats.batches += 1
        self.stats.events += len(items)
        return len(items)

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.2) -> None:
        """Loop until `stop` is set: drain, sleep when idle, back off on errors."""
        backoff = idle_seconds
        failures = 0
        log.info("event writer %s: started", self.consumer)
        while not stop.is_set():
            try:
                n = self.run_once()
            except Exception:
                # One line with the cause when batches start failing (a store restarting,
                # Redis away), not one per retry; one more when they work again.
                if failures == 0:
                    log.exception("writer batches fail; retrying every %g s at most", MAX_BACKOFF)
                failures += 1
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if failures:
                log.warning("writer batches work again after %d failed attempts", failures)
                failures = 0
            backoff = idle_seconds
            if n == 0:
                stop.wait(idle_seconds)
        log.info("event writer %s: stopped, %d events stored in %d batches",
                 self.consumer, self.stats.events, self.stats.batches)  # fmt: skip

    def drain(self, limit: int = 5000) -> int:
        """Run batches until the log has nothing more; return the events read."""
        total = 0
        while n := self.run_once(limit):
            total += n
        return total

    def checkpoint(self) -> str | None:
        """This consumer's saved log position (None: from the start)."""
        return store.checkpoint(self.engine, self.consumer)

    def check_checkpoint(self) -> None:
        """Raise `EventLogError` when the saved position is not one of this log's (it was
        written by another kind of log): a clear error at start, not a batch failing forever."""
        self.log.check_position(self.checkpoint())

    def reset_checkpoint(self, position: str | None = None) -> None:
        """Rewind (or move) this consumer's position: a replay must count nothing twice."""
        with self.engine.begin() as conn:
            store.claim_checkpoint(conn, self.consumer)
            store.save_checkpoint(conn, self.consumer, position)

    # -- one batch

    def _apply(self, conn: store.Connection, raws: Sequence[bytes]) -> float | None:
        """Store a batch; return the time of its oldest click or open (its lag)."""
        batch: dict[str, Event] = {}
        for raw in raws:
            event = events.decode(raw)
            if event is None:
                self.stats.rejected += 1
                log.warning("event log: skipping a malformed event (%d bytes)", len(raw))
                continue
            batch.setdefault(event.id, event)
        found = store.lock_deliveries(conn, sorted({e.delivery_id for e in batch.values()}))
        good: list[Event] = []
        unknown = 0
        for event in batch.values():
            delivery = found.get(event.delivery_id)
            if delivery is None:
                unknown += 1
            elif (
                event.kid is not None
                and self._workspace_of(conn, event.kid) != delivery.workspace_id
            ):
                # Signed by another workspace's key: never let one tenant write
                # events onto another tenant's deliveries.
                self.stats.rejected += 1
                log.warning(
                    "event %s: key %s does not belong to the delivery's workspace",
                    event.id,
                    event.kid,
                )
            else:
                good.append(event)
        if unknown:
            self.stats.unknown_delivery += unknown
            log.warning("event log: %d event(s) for unknown deliveries skipped", unknown)
        if good:
            self._store(conn, good, found)
        # SDK reports carry the device's time, which says nothing of this log's lag.
        return min((e.ts for e in batch.values() if e.src == "link"), default=None)

    def _workspace_of(self, conn: store.Connection, kid: str) -> int | None:
        if kid not in self._kid_workspace:
            self._kid_workspace = store.signing_key_workspaces(conn)
        return self._kid_workspace.get(kid)

    @staticmethod
    def _nearby(conn: store.Connection, clicks: list[Event]) -> list[store.NearbyClick]:
        """Stored clicks of the batch's deliveries within the revision window of its clicks:
        what bursts and the actor rules see beside the batch, and what they may revise."""
        if not clicks:
            return []
        lo = min(e.ts for e in clicks) - actors.REVISION_SECONDS
        hi = max(e.ts for e in clicks) + actors.REVISION_SECONDS
        return store.nearby_clicks(conn, sorted({e.delivery_id for e in clicks}), lo, hi)

    def _store(
        self, conn: store.Connection, batch: list[Event], found: dict[str, DeliveryState]
    ) -> None:
        click_events = [e for e in batch if e.type == "click"]
        open_events = [e for e in batch if e.type == "open"]
        nearby = self._nearby(conn, click_events)
        stored = [(r.event_id, r.delivery_id, r.link_id, r.href, r.ts) for r in nearby]
        bursts = rollups.bursts(click_events, stored, bots.BURST_WINDOW_SECONDS)

        def judge(e: Event) -> tuple[bool, list[str]]:
            if e.src == "sdk":  # a tap reported by the app itself
                return False, []
            d = found[e.delivery_id]
            return bots.verdict(
                e.ua, e.method, e.ip, e.ts - d.sent_at, bursts.get(e.id, 0),
                is_open=e.type == "open", links_in_delivery=d.links, networks=self.networks,
            )  # fmt: skip

        verdicts = {e.id: judge(e) for e in click_events}
        added, revised = revisions.judge(click_events, verdicts, nearby, found)
        for event_id, why in added.items():
            verdicts[event_id] = (True, verdicts[event_id][1] + why)
        click_rows = [_click_row(e, found[e.delivery_id], *verdicts[e.id]) for e in click_events]
        inserted_ids = store.insert_clicks(conn, click_rows)
        inserted_clicks = [e for e in click_events if e.id in inserted_ids]

        open_rows = [_open_row(e, found[e.delivery_id], *judge(e)) for e in open_events]
        inserted_open_ids = store.insert_opens(conn, open_rows)
        inserted_opens = [row for row in open_rows if row["event_id"] in inserted_open_ids]

        # A click implies an open: give a delivery that has none a synthetic one.
        has_open = {row["delivery_id"] for row in inserted_opens}
        synthetic_rows = [
            _open_row(e, found[e.delivery_id], *verdicts[e.id], synthetic=True)
            for e in rollups.first_clicks_without_open(inserted_clicks, found, has_open)
        ]
        inserted_synth = store.insert_opens(conn, synthetic_rows)
        inserted_opens += [row for row in synthetic_rows if row["event_id"] in inserted_synth]

        self.stats.clicks += len(inserted_clicks)
        self.stats.opens += len(inserted_opens)
        self.stats.synthetic_opens += len(inserted_synth)
        self.stats.duplicates += (len(click_rows) - len(inserted_clicks)) + (
            len(open_rows) - len(inserted_open_ids)
        )
        self._rollups(conn, inserted_clicks, verdicts, found)
        updates, counters = rollups.first_times(found, inserted_clicks, verdicts, inserted_opens)
        store.save_first_times(conn, updates, counters)
        # In this transaction too: a reported click is a stored click, and a replay of
        # the batch queues nothing again (only rows actually inserted get here).
        workspace_of = {d.id: d.workspace_id for d in found.values()}
        self.reporting.engagement(conn, inserted_clicks, verdicts, inserted_opens, workspace_of)
        # After this batch's own rollups: the revision takes the stored clicks' part out
        # and puts it back, with the batch's clicks already counted.
        self.stats.revised += revisions.revise(conn, revised, nearby, found, self.reporting)

    @staticmethod
    def _rollups(
        conn: store.Connection,
        inserted: list[Event],
        verdicts: rollups.Verdicts,
        found: dict[str, DeliveryState],
    ) -> None:
        linked = [e for e in inserted if e.link_id is not None]
        if not linked:
            return
        stored = store.pair_first_times(conn, [e.delivery_id for e in linked])
        done = rollups.link_rollups(linked, verdicts, found, stored)
        store.save_pair_first_times(conn, done.pairs)
        store.add_link_stats(conn, done.stats)
        store.add_link_buckets(conn, done.buckets)
