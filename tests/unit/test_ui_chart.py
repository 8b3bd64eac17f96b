"""The report chart's geometry: a round value axis, bars in proportion, few time labels."""

from __future__ import annotations

import datetime as dt

import pytest

from linktrack.entrypoints.ui.chart import (
    HEIGHT,
    LEFT,
    MOST_LABELS,
    TOP,
    WIDTH,
    bar_chart,
    bucket_label,
    nice_top,
)  # fmt: skip


@pytest.mark.parametrize(
    ("most", "top", "step"),
    [(0, 4, 1), (1, 1, 1), (3, 3, 1), (4, 4, 1), (5, 6, 2), (7, 8, 2), (9, 10, 5),
     (20, 20, 5), (21, 30, 10), (1234, 1500, 500), (10**6, 10**6, 500_000)],
)  # fmt: skip
def test_the_axis_top_is_a_round_number_of_few_steps(most: int, top: int, step: int) -> None:
    assert nice_top(most) == (top, step)
    assert top >= most and top // step <= 4 and top % step == 0


def test_bars_stand_on_the_baseline_in_proportion_side_by_side() -> None:
    labels = [f"d{i}" for i in range(45)]
    human = [0] * 45
    machine = [0] * 45
    human[-1], machine[-1], human[0] = 8, 2, 4
    chart = bar_chart(labels, {"human": human, "machine": machine})
    assert chart.ticks[0].value == 0 and chart.ticks[-1].value == 8
    assert chart.ticks[0].y == chart.bottom and chart.ticks[-1].y == TOP
    bars = {(b.series, b.label): b for b in chart.bars}
    tall, short, left = bars[("human", "d44")], bars[("machine", "d44")], bars[("human", "d0")]
    assert tall.height == pytest.approx(4 * short.height) and left.height == tall.height / 2
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.bottom)
        assert bar.x >= LEFT and bar.x + bar.width <= WIDTH
    assert short.x == pytest.approx(tall.x + tall.width)  # machine beside human
    assert bars[("human", "d3")].height == 0
    assert len(chart.bars) == 90 and chart.height == HEIGHT
    assert 1 < len(chart.labels) <= MOST_LABELS and chart.labels[0].text == "d0"
    xs = [label.x for label in chart.labels]
    assert xs == sorted(xs) and xs[-1] < WIDTH


def test_no_clicks_still_draws_an_axis() -> None:
    chart = bar_chart(["a", "b"], {"human": [0, 0], "machine": [0, 0]})
    assert [t.value for t in chart.ticks] == [0, 1, 2, 3, 4]
    assert all(b.height == 0 for b in chart.bars)


def test_bucket_labels_are_utc() -> None:
    start = int(dt.datetime(2026, 3, 2, 13, tzinfo=dt.UTC).timestamp())
    assert bucket_label(start, "hours") == "13:00"
    assert bucket_label(start, "days") == "Mar 02"
    assert bucket_label(start, "months") == "Mar 2026"
