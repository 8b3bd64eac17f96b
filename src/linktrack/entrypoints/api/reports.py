"""Reports: message metrics, link click series and top links; a person; the click export.

The three message reports take any list of message ids: one transactional
message, or the actions of a campaign or broadcast, or a newsletter's
contents, so "clicked" means the same everywhere.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from linktrack.adapters import store
from linktrack.core import model
from linktrack.core.errors import InputError, NotFoundError, Unprocessable
from linktrack.core.series import PERIODS, series_steps
from linktrack.entrypoints.api.common import (
    JSON,
    NOT_A_START,
    app_workspace,
    endpoint,
    page,
    page_request,
    positive_int,
)
from linktrack.entrypoints.api.views import activity_view, person_view


def metrics(engine: store.Engine, message_ids: list[int]) -> JSON:
    """Sent, delivered, opened, clicked (recipients) and rates over the messages."""
    with engine.connect() as conn:
        return JSON({"metric": store.message_metrics(conn, message_ids)})


def link_metrics(engine: store.Engine, request: Request, message_ids: list[int]) -> JSON:
    """Each link's click series and total (Customer.io's shape): `period`, `steps`, `unique`."""
    q = request.query_params
    period = q.get("period", "days")
    if period not in PERIODS:
        raise InputError(f"period must be one of {', '.join(PERIODS)}")
    steps = series_steps(period, q.get("steps"))
    unique = q.get("unique", "false").lower()
    if unique not in ("true", "false"):
        raise InputError("unique must be true or false")
    with engine.connect() as conn:
        return JSON(
            store.link_series(
                conn,
                message_ids,
                period,  # type: ignore[arg-type]  # checked against PERIODS above
                steps,
                unique == "true",
                time.time(),
            )
        )


def top_links(engine: store.Engine, message_ids: list[int]) -> JSON:
    """The messages' links by clicks: total and unique."""
    with engine.connect() as conn:
        return JSON({"links": store.top_links(conn, message_ids)})


@dataclass(frozen=True, slots=True)
class ReportsApi:
    """A person and their timeline; clicks as CSV."""

    engine: store.Engine

    @endpoint
    def customer(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        person = self._person(ws, request)
        devices = store.devices_of(self.engine, person.id)
        return JSON({"customer": {**person_view(person), "devices": devices}})

    @endpoint
    def activities(self, request: Request) -> JSON:
        """A page of a person's timeline (`limit`, `start`, `type`) and the next one's `start`."""
        ws = app_workspace(self.engine, request)
        limit, start = page_request(request)  # at most 100, as Customer.io's
        kinds, channel = activity_type(request.query_params.get("type"))
        after = decode_cursor(start) if start else None
        person = self._person(ws, request)
        found = store.person_activities(self.engine, ws.id, person.id, limit=limit + 1,
                                        after=after, kinds=kinds, channel=channel)  # fmt: skip
        shown, more = page(found, limit, lambda a: encode_cursor(store.cursor_of(a)))
        return JSON({"activities": [activity_view(a) for a in shown], "next": more})

    def _person(self, ws: model.Workspace, request: Request) -> model.Person:
        person = store.get_person(self.engine, ws.id, request.path_params["identifier"])
        if person is None:
            raise NotFoundError("no such person in this workspace")
        return person

    @endpoint
    def export_clicks(self, request: Request) -> Response:
        """Clicks as CSV, for a message and/or a time range, streamed."""
        ws = app_workspace(self.engine, request)
        q = request.query_params
        message_id = positive_int(q["message_id"], "message_id") if "message_id" in q else None
        try:
            start = float(q["start"]) if "start" in q else None
            end = float(q["end"]) if "end" in q else None
        except ValueError:
            raise InputError("start and end must be epoch seconds") from None
        if message_id is not None and store.get_message(self.engine, ws.id, message_id) is None:
            raise NotFoundError(f"no message {message_id}")
        return StreamingResponse(
            self._csv(ws.id, message_id, start, end),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="clicks.csv"'},
        )

    def _csv(
        self, workspace_id: int, message_id: int | None, start: float | None, end: float | None
    ) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        with self.engine.connect() as conn:
            for i, row in enumerate(
                store.clicks_csv_rows(
                    conn, workspace_id, message_id=message_id, start=start, end=end
                )
            ):
                writer.writerow(row)
                if i % 500 == 0:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue().encode()


def activity_types() -> list[str]:
    """What `type` may be: an entry's type, or Customer.io's `<type>_<channel>`."""
    kinds = list(store.ACTIVITY_KINDS)
    return kinds + [f"{k}_{c}" for k in kinds for c in sorted(model.CHANNELS)]


def activity_type(value: str | None) -> tuple[tuple[str, ...], str | None]:
    """(kinds, channel) that `type` selects; every kind on every channel when absent."""
    if value is None or value == "":
        return store.ACTIVITY_KINDS, None
    if value not in activity_types():
        raise InputError(f"type must be one of {', '.join(activity_types())}")
    kind, _, channel = value.partition("_")
    return (kind,), channel or None


def encode_cursor(cursor: store.ActivityCursor) -> str:
    ts, rank, row_id = cursor
    return base64.urlsafe_b64encode(f"{ts!r}|{rank}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> store.ActivityCursor:
    """A `next` this endpoint gave, back; any other string is a 422 (the schema allows it)."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        ts, rank, row_id = text.split("|")
        at, order = float(ts), int(rank)
    except ValueError:
        raise Unprocessable(NOT_A_START) from None
    if not math.isfinite(at) or order not in (0, 1, 2) or (order and not row_id.isdigit()):
        raise Unprocessable(NOT_A_START)
    return at, order, row_id
