"""The bot evaluation harness: a short replay against a real server, its table checked
against the trace it replayed (not the verdicts' accuracy, which issue 17 is to raise)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bot_eval  # noqa: E402
import bot_traces  # noqa: E402

DELIVERIES, SEED = 24, 5
CATEGORY_ROW = re.compile(r"^(\w+)\s+\| (human|machine)\s+\|\s+(\d+) \|\s+(\d+) \| (.*)$", re.M)
MESSAGE_ROW = re.compile(r"^(\w+)\s+\|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \| (.*)$", re.M)
TOTALS = re.compile(
    r"^clicks (\d+): TP (\d+), FP (\d+), FN (\d+), TN (\d+); human clicked (\d+) of truth (\d+)$",
    re.M,
)
OVERALL = re.compile(
    r"^machine precision ([\d.]+|n/a) recall ([\d.]+|n/a); human clicked series error (.+) "
    r"\(messages over: \+(\d+), under: -(\d+)\)$",
    re.M,
)


def test_the_trace_is_seeded_and_holds_every_category() -> None:
    a = bot_traces.generate(DELIVERIES, SEED)
    assert a == bot_traces.generate(DELIVERIES, SEED)
    assert a != bot_traces.generate(DELIVERIES, SEED + 1)
    assert {c.category for c in a.clicks} == set(bot_traces.CATEGORIES)
    for c in a.clicks:
        assert c.label == bot_traces.CATEGORIES[c.category]
        assert 0 <= c.link < a.deliveries[c.delivery].links
        assert c.method == ("HEAD" if c.category == "head_probe" else "GET")


def test_replay_keeps_early_ages_and_short_gaps() -> None:
    ages = [0.5, 0.7, 9.0, 14.0, 3600.0, 3601.5, 90000.0]
    r = bot_eval.replay_offsets(ages)
    assert r[:4] == ages[:4]  # inside the horizon: real time
    assert r[4] == 14.0 + bot_eval.GAP  # a long gap becomes GAP
    assert r[5] - r[4] == 1.5  # a short gap is kept
    assert r[6] - r[5] == bot_eval.GAP
    assert bot_eval.replay_offsets([7200.0, 7201.0]) == [7200.0, 7201.0]  # first age exact
    assert bot_eval.replay_offsets([5.0, 600.0]) == [5.0, bot_eval.HORIZON]  # never too fast


def test_a_short_evaluation_prints_the_trace_it_replayed() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bot_eval.py"), "--deliveries", str(DELIVERIES),
         "--seed", str(SEED), "--spread", "2"],
        capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    trace = bot_traces.generate(DELIVERIES, SEED)

    rows = {m[1]: m for m in CATEGORY_ROW.finditer(out.stdout)}
    assert list(rows) == list(bot_traces.CATEGORIES), out.stdout
    clicks = Counter(c.category for c in trace.clicks)
    for category, m in rows.items():
        assert m[2] == bot_traces.CATEGORIES[category]
        assert int(m[3]) == clicks[category] > 0
        assert 0 <= int(m[4]) <= int(m[3])
    head = rows["head_probe"]
    assert int(head[4]) == int(head[3])  # every HEAD is judged machine

    totals = TOTALS.search(out.stdout)
    assert totals, out.stdout
    n, tp, fp, fn, tn, counted, truth = map(int, totals.groups())
    assert n == len(trace.clicks) == tp + fp + fn + tn
    judged = {k: int(m[4]) for k, m in rows.items()}
    human = [k for k, label in bot_traces.CATEGORIES.items() if label == bot_traces.HUMAN]
    assert fp == sum(judged[k] for k in human)
    assert tp == sum(judged.values()) - fp
    assert tp + fn == sum(1 for c in trace.clicks if c.label == bot_traces.MACHINE)

    messages = {m[1]: m for m in MESSAGE_ROW.finditer(out.stdout)}
    assert list(messages) == list(bot_traces.SCENARIOS)
    per_scenario = Counter(d.scenario for d in trace.deliveries)
    expected = bot_eval.human_truth(trace)
    for scenario, m in messages.items():
        assert int(m[2]) == per_scenario[scenario]
        assert int(m[3]) == expected[scenario]
    assert truth == sum(expected.values())
    assert counted == sum(int(m[4]) for m in messages.values())
    overall = OVERALL.search(out.stdout)
    assert overall, out.stdout
    over, under = int(overall[4]), int(overall[5])
    assert counted - truth == over - under
