"""A bar chart's geometry, for a server-drawn SVG: bars, the value axis, the time labels.

Pure: the template only writes out what `bar_chart` places. Sizes are in the
SVG's own units (its viewBox); CSS scales the drawing to the page's width.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 720
HEIGHT: Final = 260
LEFT: Final = 48  # room for the value labels
BOTTOM: Final = 28  # room for the time labels
TOP: Final = 12
MOST_LABELS: Final = 8
_LABEL_FORMATS: Final = {"hours": "%H:%M", "days": "%b %d", "weeks": "%b %d", "months": "%b %Y"}


@dataclass(frozen=True, slots=True)
class Bar:
    series: str
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str  # the bucket's time, for the bar's tooltip


@dataclass(frozen=True, slots=True)
class Tick:
    """A value axis line: its value and height."""

    value: int
    y: float


@dataclass(frozen=True, slots=True)
class Label:
    """A time axis label, centred under its bucket."""

    text: str
    x: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: float  # the baseline's y
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[Label, ...]


def nice_top(most: int) -> tuple[int, int]:
    """The axis's top value and its step: 1, 2 or 5 times a power of ten, 4 steps or fewer."""
    if most <= 0:
        return 4, 1
    step = 1
    while step * 4 < most:
        for factor in (2, 5 / 2, 2):  # 1 → 2 → 5 → 10 → 20 …
            step = int(step * factor)
            if step * 4 >= most:
                break
    return -(-most // step) * step, step


def bucket_label(start: int, period: str) -> str:
    """A bucket's start as its axis label (UTC, like the buckets)."""
    moment = dt.datetime.fromtimestamp(start, dt.UTC)
    return moment.strftime(_LABEL_FORMATS[period])


def bar_chart(labels: list[str], series: dict[str, list[int]]) -> Chart:
    """Bars side by side per bucket (one per series, in `series` order) over a value axis."""
    count = max(len(labels), 1)
    plot_width = WIDTH - LEFT - 8
    plot_height = HEIGHT - BOTTOM - TOP
    baseline = float(TOP + plot_height)
    top, step = nice_top(max((max(v, default=0) for v in series.values()), default=0))
    slot = plot_width / count
    bar_width = slot * 0.8 / max(len(series), 1)
    bars = []
    for s_index, (name, values) in enumerate(series.items()):
        for i, value in enumerate(values):
            height = plot_height * value / top
            x = LEFT + slot * i + slot * 0.1 + bar_width * s_index
            bars.append(
                Bar(
                    name,
                    round(x, 2),
                    round(baseline - height, 2),
                    round(bar_width, 2),
                    round(height, 2),
                    value,
                    labels[i],
                )
            )
    ticks = tuple(
        Tick(v, round(baseline - plot_height * v / top, 2)) for v in range(0, top + 1, step)
    )
    every = -(-count // MOST_LABELS)
    shown = tuple(
        Label(text, round(LEFT + slot * (i + 0.5), 2))
        for i, text in enumerate(labels)
        if i % every == 0
    )
    return Chart(WIDTH, HEIGHT, LEFT, baseline, tuple(bars), ticks, shown)
