"""The writer: moves click/open events from the event log into the SQL store.

One batch is one transaction: rows inserted with ON CONFLICT DO NOTHING on the
event id, rollups and delivery first-times updated only for rows that were
actually inserted, and the log checkpoint saved alongside. A replay, a crash
between commit and ack, or a redelivered Redis entry therefore never counts
twice. The same class drains a `FileEventLog` (checkpoint in
`consumer_offsets`) or a `RedisStreamEventLog` (the consumer group is the
checkpoint; entries are XACKed after the commit).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from linktrack.adapters.eventlog import EventLog
from linktrack.adapters.store.engine import dialect_insert
from linktrack.adapters.store.repo import signing_key_workspaces
from linktrack.adapters.store.schema import (
    clicks,
    consumer_offsets,
    deliveries,
    delivery_links,
    link_buckets,
    link_stats,
    message_stats,
    opens,
)
from linktrack.core import bots

log = logging.getLogger(__name__)

BUCKET_SECONDS: Final = 3600
_IN_CHUNK: Final = 900  # ids per IN (...) list: far below every driver's limit
_INF: Final = math.inf
_FIRST_COUNTERS: Final = ("opened", "clicked", "human_clicked")


def bucket_of(ts: float) -> int:
    """Start (epoch seconds) of the hour holding `ts`."""
    return int(ts // BUCKET_SECONDS) * BUCKET_SECONDS


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


@dataclass(slots=True)
class _Event:
    id: str
    type: str
    kid: str | None
    delivery_id: str
    link_id: int | None
    position: int | None
    href: str
    ts: float
    ua: str
    ip: str | None
    method: str
    src: str


@dataclass(slots=True)
class _DeliveryRow:
    id: str
    workspace_id: int
    message_id: int
    person_id: int | None
    sent_at: float
    opened_at: float | None
    clicked_at: float | None
    human_clicked_at: float | None


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _decode(raw: bytes) -> _Event | None:
    """A validated event, or None for bytes no producer of ours would write."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    event_id, kind, delivery_id, ts = (
        data.get("id"),
        data.get("type"),
        data.get("d"),
        data.get("ts"),
    )
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 64):
        return None
    if kind not in ("click", "open") or not (isinstance(delivery_id, str) and delivery_id):
        return None
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
        return None
    link_id, position, kid = data.get("l"), data.get("p"), data.get("kid")
    ip = data.get("ip") or _peer_host(data.get("peer"))
    return _Event(
        id=event_id,
        type=kind,
        kid=kid if isinstance(kid, str) else None,
        delivery_id=delivery_id[:64],
        link_id=link_id if isinstance(link_id, int) and not isinstance(link_id, bool) else None,
        position=position if isinstance(position, int) and not isinstance(position, bool) else None,
        href=_text(data.get("h"), 8192),
        ts=float(ts),
        ua=_text(data.get("ua"), 2048),
        ip=ip[:64] if isinstance(ip, str) and ip else None,
        method=(_text(data.get("m"), 8) or "GET").upper(),
        src="sdk" if data.get("src") == "sdk" else "link",
    )


def _peer_host(peer: Any) -> str | None:
    """The host of a socket peer written as "host:port" or "[v6 host]:port"."""
    if not isinstance(peer, str):
        return None
    return peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


def _bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    """(INSERT statement, executemany parameters) for many rows.

    PostgreSQL gets one `INSERT ... SELECT unnest(array), ...` with a column
    per array: a short, cacheable statement, where a multi-row VALUES list
    makes psycopg re-parse a statement of tens of thousands of placeholders
    for every batch (measured: most of the writer's time on PostgreSQL).
    """
    ins = dialect_insert(conn, table)
    if conn.dialect.name != "postgresql":
        return ins, rows
    names = list(rows[0])
    columns: list[sa.ColumnElement[Any]] = []
    for name in names:
        kind = table.c[name].type
        values = [row[name] for row in rows]
        if isinstance(kind, sa.JSON):
            texts = [orjson.dumps(v).decode() for v in values]
            array = sa.bindparam(None, texts, type_=postgresql.ARRAY(sa.Text()))
            columns.append(sa.cast(sa.func.unnest(array), sa.JSON()))
        else:
            array = sa.bindparam(None, values, type_=postgresql.ARRAY(kind))
            columns.append(sa.func.unnest(array))
    return ins.from_select(names, sa.select(*columns)), None


def _run(conn: Connection, stmt: Any, params: Any) -> sa.CursorResult[Any]:
    return conn.execute(stmt) if params is None else conn.execute(stmt, params)


def _burst_counts(items: list[tuple[float, object, str]], window: float) -> dict[str, int]:
    """Per event id: most distinct links seen in any `window`-second span holding it.

    O(n): one sweep gives each start i its span [i, j_i) and distinct count; a
    second takes, for every event, the best span still covering it (spans end in
    start order, so a monotonic deque holds the candidates). A scanner's burst
    can be thousands of clicks on one delivery: no quadratic pass.
    """
    items.sort(key=lambda item: item[0])
    n = len(items)
    spans: list[tuple[int, int]] = []
    seen: Counter[object] = Counter()
    j = 0
    for i in range(n):
        while j < n and items[j][0] - items[i][0] <= window:
            seen[items[j][1]] += 1
            j += 1
        spans.append((j, len(seen)))
        seen[items[i][1]] -= 1
        if not seen[items[i][1]]:
            del seen[items[i][1]]
    best: dict[str, int] = {}
    candidates: deque[tuple[int, int]] = deque()
    for k in range(n):
        end, distinct = spans[k]
        while candidates and candidates[-1][1] <= distinct:
            candidates.pop()  # ends no earlier and counts no more: never the best again
        candidates.append((end, distinct))
        while candidates[0][0] <= k:
            candidates.popleft()
        best[items[k][2]] = candidates[0][1]
    return best


def _min(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


class Writer:
    """Drains an event log into the store, one transaction per batch."""

    def __init__(self, engine: Engine, log: EventLog, consumer: str = "writer") -> None:
        self.engine = engine
        self.log = log
        self.consumer = consumer
        self.stats = WriterStats()
        self._kid_workspace: dict[str, int] = {}

    # -- driving

    def run_once(self, limit: int = 5000) -> int:
        """Process up to `limit` events after the checkpoint; return how many were read."""
        # Read the log before opening the write transaction: a slow or blocking
        # read (Redis BLOCK) must not hold SQLite's write lock.
        after = self.checkpoint()
        items = self.log.read(after, limit)
        if not items:
            return 0
        with self.engine.begin() as conn:
            if self._claim_checkpoint(conn) != after:
                # Moved meanwhile (a reset, or a second writer under our name):
                # drop this read; the next run starts from the new position.
                log.warning("checkpoint of %s moved during a batch; re-reading", self.consumer)
                return 0
            self._apply(conn, [raw for _, raw in items])
            conn.execute(
                sa.update(consumer_offsets)
                .where(consumer_offsets.c.consumer == self.consumer)
                .values(position=items[-1][0], updated_at=time.time())
            )
        # Only after the commit: the log may now forget (file) or XACK (Redis).
        self.log.ack(items[-1][0])
        self.stats.batches += 1
        self.stats.events += len(items)
        return len(items)

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.2) -> None:
        """Loop until `stop` is set: drain, sleep when idle, back off on errors."""
        backoff = idle_seconds
        while not stop.is_set():
            try:
                n = self.run_once()
            except Exception:
                log.exception("writer batch failed; retrying in %.1fs", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = idle_seconds
            if n == 0:
                stop.wait(idle_seconds)

    def drain(self, limit: int = 5000) -> int:
        """Run batches until the log has nothing more; return the events read."""
        total = 0
        while n := self.run_once(limit):
            total += n
        return total

    def checkpoint(self) -> str | None:
        """This consumer's saved log position (None: from the start)."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(consumer_offsets.c.position).where(
                    consumer_offsets.c.consumer == self.consumer
                )
            ).scalar()

    def reset_checkpoint(self, position: str | None = None) -> None:
        """Rewind (or move) this consumer's position: a replay must count nothing twice."""
        with self.engine.begin() as conn:
            self._claim_checkpoint(conn)
            conn.execute(
                sa.update(consumer_offsets)
                .where(consumer_offsets.c.consumer == self.consumer)
                .values(position=position, updated_at=time.time())
            )

    def _claim_checkpoint(self, conn: Connection) -> str | None:
        # Writing first makes the whole batch one write transaction on SQLite
        # (consistent reads), and FOR UPDATE serialises same-named consumers on PG.
        conn.execute(
            dialect_insert(conn, consumer_offsets)
            .values(consumer=self.consumer, position=None, updated_at=time.time())
            .on_conflict_do_nothing(index_elements=["consumer"])
        )
        position: str | None = conn.execute(
            sa.select(consumer_offsets.c.position)
            .where(consumer_offsets.c.consumer == self.consumer)
            .with_for_update()
        ).scalar()
        return position

    # -- one batch

    def _apply(self, conn: Connection, raws: Sequence[bytes]) -> None:
        events: dict[str, _Event] = {}
        for raw in raws:
            event = _decode(raw)
            if event is None:
                self.stats.rejected += 1
                log.warning("event log: skipping a malformed event (%d bytes)", len(raw))
                continue
            events.setdefault(event.id, event)
        found = self._deliveries(conn, sorted({e.delivery_id for e in events.values()}))
        good: list[_Event] = []
        unknown = 0
        for event in events.values():
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

    def _workspace_of(self, conn: Connection, kid: str) -> int | None:
        if kid not in self._kid_workspace:
            self._kid_workspace = signing_key_workspaces(conn)
        return self._kid_workspace.get(kid)

    def _deliveries(self, conn: Connection, ids: list[str]) -> dict[str, _DeliveryRow]:
        out: dict[str, _DeliveryRow] = {}
        cols = deliveries.c
        for chunk in _chunks(ids):
            # Locked in id order: concurrent writers (Redis scale-out) touching
            # the same delivery serialise here instead of racing on first-times.
            rows = conn.execute(
                sa.select(
                    cols.id,
                    cols.workspace_id,
                    cols.message_id,
                    cols.person_id,
                    sa.func.coalesce(cols.sent_at, cols.created_at),
                    cols.opened_at,
                    cols.clicked_at,
                    cols.human_clicked_at,
                )
                .where(cols.id.in_(chunk))
                .order_by(cols.id)
                .with_for_update()
            )
            for r in rows:
                out[r[0]] = _DeliveryRow(*r)
        return out

    def _recent_clicks(
        self, conn: Connection, delivery_ids: list[str], lo: float, hi: float
    ) -> list[sa.Row[Any]]:
        rows: list[sa.Row[Any]] = []
        for chunk in _chunks(delivery_ids):
            rows.extend(
                conn.execute(
                    sa.select(
                        clicks.c.event_id,
                        clicks.c.delivery_id,
                        clicks.c.link_id,
                        clicks.c.href,
                        clicks.c.ts,
                    ).where(clicks.c.delivery_id.in_(chunk), clicks.c.ts.between(lo, hi))
                )
            )
        return rows

    def _store(
        self, conn: Connection, events: list[_Event], found: dict[str, _DeliveryRow]
    ) -> None:
        click_events = [e for e in events if e.type == "click"]
        open_events = [e for e in events if e.type == "open"]
        window = bots.BURST_WINDOW_SECONDS

        # Burst signal: this batch's clicks plus stored ones near them in time.
        bursts: dict[str, int] = {}
        if click_events:
            per_delivery: dict[str, list[tuple[float, object, str]]] = defaultdict(list)
            ids_in_batch = set()
            for e in click_events:
                per_delivery[e.delivery_id].append((e.ts, e.link_id or e.href, e.id))
                ids_in_batch.add(e.id)
            lo = min(e.ts for e in click_events) - window
            hi = max(e.ts for e in click_events) + window
            for r in self._recent_clicks(conn, sorted(per_delivery), lo, hi):
                if r.event_id not in ids_in_batch:
                    per_delivery[r.delivery_id].append((r.ts, r.link_id or r.href, r.event_id))
            for items in per_delivery.values():
                bursts.update(_burst_counts(items, window))

        def judge(e: _Event) -> tuple[bool, list[str]]:
            if e.src == "sdk":  # a tap reported by the app itself
                return False, []
            d = found[e.delivery_id]
            return bots.verdict(
                e.ua,
                e.method,
                e.ip,
                e.ts - d.sent_at,
                bursts.get(e.id, 0),
                is_open=e.type == "open",
            )

        click_rows = []
        verdicts: dict[str, tuple[bool, list[str]]] = {}
        for e in click_events:
            d = found[e.delivery_id]
            machine, reasons = verdicts[e.id] = judge(e)
            click_rows.append(
                {
                    "event_id": e.id,
                    "workspace_id": d.workspace_id,
                    "message_id": d.message_id,
                    "delivery_id": d.id,
                    "person_id": d.person_id,
                    "link_id": e.link_id,
                    "position": e.position,
                    "href": e.href,
                    "ts": e.ts,
                    "user_agent": e.ua,
                    "ip": e.ip,
                    "method": e.method,
                    "machine": machine,
                    "machine_reasons": reasons,
                    "source": e.src,
                }
            )
        inserted_click_ids = self._insert(conn, clicks, click_rows)
        inserted_clicks = [e for e in click_events if e.id in inserted_click_ids]

        open_rows = []
        for e in open_events:
            d = found[e.delivery_id]
            machine, reasons = judge(e)
            open_rows.append(self._open_row(e.id, d, e.ts, e.ua, e.ip, machine, reasons, e.src))
        inserted_open_ids = self._insert(conn, opens, open_rows)
        inserted_opens = [row for row in open_rows if row["event_id"] in inserted_open_ids]

        # A click implies an open: give a delivery that has none a synthetic one,
        # keyed on the click's id so a replay cannot add a second.
        has_open = {row["delivery_id"] for row in inserted_opens}
        first_click: dict[str, _Event] = {}
        for e in inserted_clicks:
            d = found[e.delivery_id]
            if d.opened_at is None and d.id not in has_open:
                cur = first_click.get(d.id)
                if cur is None or e.ts < cur.ts:
                    first_click[d.id] = e
        synthetic_rows = []
        for e in first_click.values():
            machine, reasons = verdicts[e.id]
            row = self._open_row(
                f"{e.id}:open", found[e.delivery_id], e.ts, e.ua, e.ip, machine, reasons, e.src
            )
            row["synthetic"] = True
            synthetic_rows.append(row)
        inserted_synth = self._insert(conn, opens, synthetic_rows)
        inserted_opens += [row for row in synthetic_rows if row["event_id"] in inserted_synth]

        self.stats.clicks += len(inserted_clicks)
        self.stats.opens += len(inserted_opens)
        self.stats.synthetic_opens += len(inserted_synth)
        self.stats.duplicates += (len(click_rows) - len(inserted_clicks)) + (
            len(open_rows) - len(inserted_open_ids)
        )
        self._rollups(conn, inserted_clicks, verdicts, found)
        self._first_times(conn, inserted_clicks, verdicts, inserted_opens, found)

    @staticmethod
    def _open_row(
        event_id: str,
        d: _DeliveryRow,
        ts: float,
        ua: str,
        ip: str | None,
        machine: bool,
        reasons: list[str],
        src: str,
    ) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "workspace_id": d.workspace_id,
            "message_id": d.message_id,
            "delivery_id": d.id,
            "person_id": d.person_id,
            "ts": ts,
            "user_agent": ua,
            "ip": ip,
            "machine": machine,
            "machine_reasons": reasons,
            "synthetic": False,
            "source": src,
        }

    @staticmethod
    def _insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> set[str]:
        """Insert rows whose event id is new; return the ids actually inserted."""
        if not rows:
            return set()
        ins, params = _bulk_insert(conn, table, rows)
        stmt = ins.on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
        return set(_run(conn, stmt, params).scalars())

    def _rollups(
        self,
        conn: Connection,
        inserted: list[_Event],
        verdicts: dict[str, tuple[bool, list[str]]],
        found: dict[str, _DeliveryRow],
    ) -> None:
        linked = [e for e in inserted if e.link_id is not None]
        if not linked:
            return
        stats: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
        buckets: dict[tuple[int, int, int], Counter[str]] = defaultdict(Counter)
        # New first-times per (delivery, link) pair from this batch.
        firsts: dict[tuple[str, int], list[float]] = {}
        for e in linked:
            assert e.link_id is not None
            message_id = found[e.delivery_id].message_id
            human = not verdicts[e.id][0]
            stats[message_id, e.link_id]["clicks_total"] += 1
            stats[message_id, e.link_id]["clicks_human"] += human
            b = buckets[message_id, bucket_of(e.ts), e.link_id]
            b["clicks"] += 1
            b["human_clicks"] += human
            f = firsts.setdefault((e.delivery_id, e.link_id), [_INF, _INF, _INF])
            f[0] = min(f[0], e.ts)
            if human:
                f[1] = min(f[1], e.ts)
            else:
                f[2] = min(f[2], e.ts)

        existing: dict[tuple[str, int], sa.Row[Any]] = {}
        for chunk in _chunks(sorted({d for d, _ in firsts})):
            for r in conn.execute(
                sa.select(delivery_links).where(delivery_links.c.delivery_id.in_(chunk))
            ):
                existing[r.delivery_id, r.link_id] = r

        pair_rows = []
        for (delivery_id, link_id), (first, first_h, first_m) in sorted(firsts.items()):
            message_id = found[delivery_id].message_id
            old = existing.get((delivery_id, link_id))
            olds = (old.first_ts, old.first_human_ts, old.first_machine_ts) if old else (None,) * 3
            news: list[float | None] = []
            for column, stat, old_ts, new_ts in (
                ("uniques", "uniques_total", olds[0], first),
                ("human_uniques", "uniques_human", olds[1], first_h),
                ("machine_uniques", None, olds[2], first_m),
            ):
                if new_ts == _INF or (old_ts is not None and old_ts <= new_ts):
                    news.append(old_ts)
                    continue
                # The pair's first click moved earlier (or is new): the unique
                # belongs to the bucket of the earliest click.
                news.append(new_ts)
                if old_ts is None:
                    if stat is not None:
                        stats[message_id, link_id][stat] += 1
                else:
                    buckets[message_id, bucket_of(old_ts), link_id][column] -= 1
                buckets[message_id, bucket_of(new_ts), link_id][column] += 1
            if old is None or tuple(news) != olds:
                pair_rows.append(
                    {
                        "delivery_id": delivery_id,
                        "link_id": link_id,
                        "message_id": message_id,
                        "person_id": found[delivery_id].person_id,
                        "first_ts": news[0],
                        "first_human_ts": news[1],
                        "first_machine_ts": news[2],
                    }
                )
        if pair_rows:
            ins, params = _bulk_insert(conn, delivery_links, pair_rows)
            _run(
                conn,
                ins.on_conflict_do_update(
                    index_elements=["delivery_id", "link_id"],
                    set_={
                        "first_ts": ins.excluded.first_ts,
                        "first_human_ts": ins.excluded.first_human_ts,
                        "first_machine_ts": ins.excluded.first_machine_ts,
                    },
                ),
                params,
            )
        self._add(conn, link_stats, ["message_id", "link_id"], stats)
        self._add(conn, link_buckets, ["message_id", "bucket_start", "link_id"], buckets)

    @staticmethod
    def _add(
        conn: Connection,
        table: sa.Table,
        key_columns: list[str],
        deltas: dict[Any, Counter[str]],
    ) -> None:
        """Upsert counters: insert the delta, or add it to the existing row."""
        counters = [c.name for c in table.c if c.name not in key_columns]
        rows = []
        # Sorted keys: concurrent writers lock rollup rows in one order, no deadlocks.
        for key in sorted(deltas):
            delta = deltas[key]
            if not any(delta.values()):
                continue
            row = dict(zip(key_columns, key, strict=True))
            row.update({name: delta.get(name, 0) for name in counters})
            rows.append(row)
        if not rows:
            return
        ins, params = _bulk_insert(conn, table, rows)
        _run(
            conn,
            ins.on_conflict_do_update(
                index_elements=key_columns,
                set_={name: table.c[name] + ins.excluded[name] for name in counters},
            ),
            params,
        )

    def _first_times(
        self,
        conn: Connection,
        inserted_clicks: list[_Event],
        verdicts: dict[str, tuple[bool, list[str]]],
        inserted_opens: list[dict[str, Any]],
        found: dict[str, _DeliveryRow],
    ) -> None:
        """Keep deliveries' first open/click/human click and the message counters."""
        new: dict[str, list[float | None]] = {}

        def times(delivery_id: str) -> list[float | None]:
            d = found[delivery_id]
            return new.setdefault(delivery_id, [d.opened_at, d.clicked_at, d.human_clicked_at])

        for row in inserted_opens:
            t = times(row["delivery_id"])
            t[0] = _min(t[0], row["ts"])
        for e in inserted_clicks:
            t = times(e.delivery_id)
            t[0] = _min(t[0], e.ts)  # a click is also an open
            t[1] = _min(t[1], e.ts)
            if not verdicts[e.id][0]:
                t[2] = _min(t[2], e.ts)
        updates = []
        counters: dict[int, Counter[str]] = defaultdict(Counter)
        for delivery_id in sorted(new):
            d = found[delivery_id]
            opened, clicked, human = new[delivery_id]
            if (opened, clicked, human) == (d.opened_at, d.clicked_at, d.human_clicked_at):
                continue
            updates.append({"b_id": delivery_id, "o": opened, "c": clicked, "h": human})
            c = counters[d.message_id]
            c["opened"] += d.opened_at is None and opened is not None
            c["clicked"] += d.clicked_at is None and clicked is not None
            c["human_clicked"] += d.human_clicked_at is None and human is not None
        if updates:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == sa.bindparam("b_id"))
                .values(
                    opened_at=sa.bindparam("o"),
                    clicked_at=sa.bindparam("c"),
                    human_clicked_at=sa.bindparam("h"),
                ),
                updates,
            )
        stat_updates = [
            {"b_mid": mid, **{f"d_{name}": c.get(name, 0) for name in _FIRST_COUNTERS}}
            for mid, c in sorted(counters.items())
            if any(c.values())
        ]
        if stat_updates:
            conn.execute(
                sa.update(message_stats)
                .where(message_stats.c.message_id == sa.bindparam("b_mid"))
                .values(
                    {
                        name: message_stats.c[name] + sa.bindparam(f"d_{name}")
                        for name in _FIRST_COUNTERS
                    }
                ),
                stat_updates,
            )
