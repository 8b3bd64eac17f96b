"""The message report: the funnel with Clicked (human by default), clicks over time
(human and machine apart), Top Clicked Links by `data-cio-tag` group, a
container's actions, and the click map (clickmap.py).

Every number comes from the store functions the API's reports call
(`message_metrics`, `top_links`, `link_series`: entrypoints/api/reports.py).
"""

from __future__ import annotations

import time
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core.errors import InputError
from linktrack.core.series import series_steps
from linktrack.entrypoints.ui import clickmap
from linktrack.entrypoints.ui.auth import Form, Viewer
from linktrack.entrypoints.ui.chart import bar_chart, bucket_label
from linktrack.entrypoints.ui.context import Ui
from linktrack.entrypoints.ui.messages import KIND_NAMES
from linktrack.entrypoints.ui.report_scope import scope_of

PERIOD_NAMES: Final = {"hours": "Hours", "days": "Days", "weeks": "Weeks", "months": "Months"}
_SUMMED: Final = ("clicks", "human_clicks", "machine_clicks", "unique_clicks",
                  "human_unique_clicks")  # fmt: skip


def link_groups(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top links as groups: the links sharing a `data-cio-tag` summed into one group,
    every untagged link a group of its own; most human clicks first (as `top_links`)."""
    groups: dict[str | int, dict[str, Any]] = {}
    for link in links:
        key: str | int = link["tag"] if link["tag"] else link["link_id"]
        group = groups.setdefault(
            key, {"tag": link["tag"], "links": [], **dict.fromkeys(_SUMMED, 0)}
        )
        group["links"].append(link)
        for name in _SUMMED:
            group[name] += link[name]
    return sorted(
        groups.values(),
        key=lambda g: (-g["human_clicks"], -g["clicks"], g["links"][0]["link_id"]),
    )


def series_totals(series: dict[str, Any]) -> tuple[list[int], list[int]]:
    """The human and the machine clicks per bucket, over every link of `link_series`."""
    rows = series["links"]
    if not rows:
        return [], []
    steps = len(rows[0]["metric"]["series"]["clicked"])
    human, machine = [0] * steps, [0] * steps
    for row in rows:
        s = row["metric"]["series"]
        for i in range(steps):
            human[i] += s["human_clicked"][i]
            machine[i] += s["machine_clicked"][i]
    return human, machine


def _period(request: Request) -> store.Period:
    wanted = request.query_params.get("period", "days")
    for period in store.PERIODS:
        if period == wanted:
            return period
    raise InputError(f"period must be one of {', '.join(store.PERIODS)}")


class ReportPage:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def report(self, request: Request, viewer: Viewer, form: Form) -> Response:
        scope = scope_of(self.ui.services, viewer.workspace, request)
        machine = request.query_params.get("machine") == "1"
        period = _period(request)
        steps = series_steps(period, None)
        now = time.time()
        with self.ui.services.engine.connect() as conn:
            metric = store.message_metrics(conn, scope.ids)
            links = store.top_links(conn, scope.ids)
            series = store.link_series(conn, scope.ids, period, steps, False, now)
            actions = [
                (m, store.message_metrics(conn, [m.id]))
                for m in (scope.messages if scope.container else [])
            ]
        sample = store.sample_delivery(self.ui.services.engine, viewer.workspace.id, scope.ids)
        template = None if sample else clickmap.template_of(scope)
        shown_id = sample.message_id if sample else template.id if template else None
        human, machines = series_totals(series)
        starts = store.bucket_starts(period, steps, now)
        labels = [bucket_label(s, period) for s in starts]
        if not human:  # no links: an empty axis, still drawn
            human, machines = [0] * steps, [0] * steps
        chart = bar_chart(labels, {"human": human, "machine": machines})
        return self.ui.pages.render(
            request,
            "report.html",
            title=scope.name,
            scope=scope,
            kind_name=KIND_NAMES[scope.kind],
            metric=metric,
            machine=machine,
            period=period,
            periods=PERIOD_NAMES,
            chart=chart,
            buckets=list(zip(labels, human, machines, strict=True)),
            groups=link_groups(links),
            actions=actions,
            sample=sample,
            body_template=template,
            mapped=next((m for m in scope.messages if m.id == shown_id), None),
            query=_query(scope.action.id if scope.action else None, machine),
        )


def _query(action: int | None, machine: bool) -> str:
    """The query string that keeps the report's scope and switch (for its links)."""
    parts = ([f"action={action}"] if action else []) + (["machine=1"] if machine else [])
    return "&".join(parts)


def routes(ui: Ui) -> list[Route]:
    page = ReportPage(ui)
    mapped = clickmap.ClickMapPage(ui)
    return [
        Route("/messages/{kind}/{id}", ui.guard(page.report)),
        Route("/messages/{kind}/{id}/clickmap", ui.guard(mapped.document)),
    ]
