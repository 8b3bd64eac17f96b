"""Report queries: message metrics, top links, link series.

Each reads rollups kept by the writer, never the raw clicks, so its cost does
not grow with the number of clicks.

Time buckets are UTC: hours, days (from midnight), weeks (from Monday) and
calendar months.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.schema import (
    delivery_reports,
    link_buckets,
    link_stats,
    links,
    message_stats,
)

Period = Literal["hours", "days", "weeks", "months"]
PERIODS: Final[tuple[Period, ...]] = ("hours", "days", "weeks", "months")
_HOUR: Final = 3600
_DAY: Final = 86400
_WEEK: Final = 7 * _DAY
_MONDAY_OFFSET: Final = 3 * _DAY  # 1970-01-01 was a Thursday
_WIDTH: Final = {"hours": _HOUR, "days": _DAY, "weeks": _WEEK}


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


REPORTED: Final = ("converted", "bounced", "spammed", "dropped", "deferred")


def message_metrics(conn: Connection, message_ids: Sequence[int]) -> dict[str, Any]:
    """Delivery funnel of the messages: sent, delivered, opened, clicked, rates.

    `sent` counts every delivery created and due (not those `scheduled` for
    later); `delivered` those handed to a transport or parked in the outbox;
    `clicked` deliveries with at least one click (`human_clicked`: at least one
    human click); `converted`, `bounced`, `spammed`, `dropped` and `deferred`
    the deliveries an app or relay reported so (Track API), each once.
    """
    s = message_stats.c
    ids = list(message_ids)
    columns = STAT_COLUMNS
    row = conn.execute(
        sa.select(*(sa.func.coalesce(sa.func.sum(s[c]), 0) for c in columns)).where(
            s.message_id.in_(ids)
        )
    ).one()
    counts = dict(zip(columns, (int(v) for v in row), strict=True))
    r = delivery_reports.c
    # One row per delivery and metric, so these count recipients too.
    reported = dict.fromkeys(REPORTED, 0) | {
        metric: int(count)
        for metric, count in conn.execute(
            sa.select(r.metric, sa.func.count()).where(r.message_id.in_(ids)).group_by(r.metric)
        )
    }
    return {**funnel(counts), **reported}


STAT_COLUMNS: Final = ("status_queued", "status_sent", "status_failed", "status_outbox",
                       "status_scheduled", "opened", "clicked", "human_clicked")  # fmt: skip


def funnel(counts: dict[str, int]) -> dict[str, Any]:
    """The metrics of `message_stats` counters (`STAT_COLUMNS`, summed over messages)."""
    queued, sent, failed, outbox = (counts[c] for c in STAT_COLUMNS[:4])
    opened, clicked, human = counts["opened"], counts["clicked"], counts["human_clicked"]
    delivered = sent + outbox
    return {
        "sent": queued + sent + failed + outbox,
        "delivered": delivered,
        "queued": queued,
        "scheduled": counts["status_scheduled"],
        "failed": failed,
        "opened": opened,
        "clicked": clicked,
        "human_clicked": human,
        "open_rate": _rate(opened, delivered),
        "click_rate": _rate(clicked, delivered),
        "human_click_rate": _rate(human, delivered),
    }


def reports_of(conn: Connection, delivery_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each delivery's reported metrics (converted, bounced, …) and when they came."""
    r = delivery_reports.c
    found: dict[str, dict[str, float]] = {}
    for delivery_id, metric, ts in conn.execute(
        sa.select(r.delivery_id, r.metric, r.ts).where(r.delivery_id.in_(list(delivery_ids)))
    ):
        found.setdefault(delivery_id, {})[metric] = ts
    return found


def top_links(conn: Connection, message_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every link of the messages with total and unique clicks, most clicked (by humans) first."""
    st = link_stats.c
    rows = conn.execute(
        sa.select(
            links.c.id,
            links.c.message_id,
            links.c.href,
            links.c.tag,
            sa.func.coalesce(st.clicks_total, 0),
            sa.func.coalesce(st.clicks_human, 0),
            sa.func.coalesce(st.uniques_total, 0),
            sa.func.coalesce(st.uniques_human, 0),
        )
        .outerjoin(
            link_stats, sa.and_(st.link_id == links.c.id, st.message_id == links.c.message_id)
        )
        .where(links.c.message_id.in_(list(message_ids)))
    ).all()
    out = [
        {
            "link_id": r[0],
            "message_id": r[1],
            "href": r[2],
            "tag": r[3],
            "clicks": int(r[4]),
            "human_clicks": int(r[5]),
            "machine_clicks": int(r[4]) - int(r[5]),
            "unique_clicks": int(r[6]),
            "human_unique_clicks": int(r[7]),
        }
        for r in rows
    ]
    out.sort(key=lambda link: (-link["human_clicks"], -link["clicks"], link["link_id"]))
    return out


def _floor(now: float, period: Period) -> int:
    t = int(now // 1)
    if period == "hours":
        return t - t % _HOUR
    if period == "days":
        return t - t % _DAY
    if period == "weeks":
        return t - (t + _MONDAY_OFFSET) % _WEEK
    day = dt.datetime.fromtimestamp(t, dt.UTC)
    return int(dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC).timestamp())


def bucket_starts(period: Period, steps: int, now: float) -> list[int]:
    """Epoch starts of `steps` buckets, oldest first, the last one holding `now`."""
    last = _floor(now, period)
    if period != "months":
        width = _WIDTH[period]
        return [last - width * i for i in range(steps - 1, -1, -1)]
    first = dt.datetime.fromtimestamp(last, dt.UTC)
    starts = []
    for i in range(steps - 1, -1, -1):
        months = first.year * 12 + first.month - 1 - i
        starts.append(int(dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=dt.UTC).timestamp()))
    return starts


def _month_end(start: int) -> int:
    day = dt.datetime.fromtimestamp(start, dt.UTC)
    months = day.year * 12 + day.month
    return int(dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=dt.UTC).timestamp())


def _bucket_query(
    message_ids: Sequence[int], period: Period, starts: list[int], unique: bool
) -> sa.Select[Any]:
    """(link id, bucket index, total, human, machine) rows of the buckets from starts[0]."""
    first = starts[0]
    if period == "months":
        # Months are not of one width: group by day in SQL (a few rows per
        # link), then place each day in its month (link_series).
        width, end = _DAY, _month_end(starts[-1])
    else:
        width = _WIDTH[period]
        end = starts[-1] + width
    b = link_buckets.c
    columns: list[sa.ColumnElement[Any]]
    if unique:
        columns = [b.uniques, b.human_uniques, b.machine_uniques]
    else:
        columns = [b.clicks, b.human_clicks, b.clicks - b.human_clicks]
    where = (b.message_id.in_(list(message_ids)), b.bucket_start >= first, b.bucket_start < end)
    if period == "hours":
        # Rows are already hourly and (bucket, link) is unique (a link belongs
        # to one message): read them in key order, no grouping or sorting.
        index: sa.ColumnElement[Any] = (b.bucket_start - first) // width
        return sa.select(b.link_id, index, *columns).where(*where)
    index = ((b.bucket_start - first) // width).label("i")
    return (
        sa.select(b.link_id, index, *(sa.func.sum(c) for c in columns))
        .where(*where)
        .group_by(b.link_id, index)
    )


def link_series(
    conn: Connection,
    message_ids: Sequence[int],
    period: Period,
    steps: int,
    unique: bool,
    now: float,
) -> dict[str, Any]:
    """Clicks per link over time, in the shape of Customer.io's link metrics API.

    With `unique`, a bucket counts the (delivery, link) pairs first clicked in it,
    so `total` (the series' sum) counts each pair once over the whole range.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if steps < 1:
        raise ValueError("steps must be at least 1")
    starts = bucket_starts(period, steps, now)
    rows = conn.execute(_bucket_query(message_ids, period, starts, unique)).all()
    series: dict[int, tuple[list[int], list[int], list[int]]] = {}
    hrefs: dict[int, str] = {}
    for link_id, href in conn.execute(
        sa.select(links.c.id, links.c.href)
        .where(links.c.message_id.in_(list(message_ids)))
        .order_by(links.c.id)
    ):
        series[link_id] = ([0] * steps, [0] * steps, [0] * steps)
        hrefs[link_id] = href
    for link_id, i, total, human, machine in rows:
        if period == "months":
            i = bisect.bisect_right(starts, starts[0] + int(i) * _DAY) - 1
        i = int(i)
        if link_id not in series or not 0 <= i < steps:
            continue
        s = series[link_id]
        s[0][i] += int(total or 0)
        s[1][i] += int(human or 0)
        s[2][i] += int(machine or 0)
    return {
        "links": [
            {
                "link": {"id": link_id, "href": hrefs[link_id]},
                "metric": {
                    "series": {"clicked": s[0], "human_clicked": s[1], "machine_clicked": s[2]},
                    "total": {
                        "clicked": sum(s[0]),
                        "human_clicked": sum(s[1]),
                        "machine_clicked": sum(s[2]),
                    },
                },
            }
            for link_id, s in series.items()
        ]
    }
