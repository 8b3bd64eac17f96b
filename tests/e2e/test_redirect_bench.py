"""The redirect benchmark runs end to end: both servers measured, no click lost."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "redirect_bench.py"
NUMBER = r"([\d,]+(?:\.\d+)?)"


def _have(name: str) -> bool:
    return bool(shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin"))


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_redirect_bench_short_run() -> None:
    # CI installs them (the script runs apt-get); elsewhere a missing tool is a skip.
    if not (_have("wrk") and _have("nginx")) and os.environ.get("CI") != "true":
        pytest.skip("wrk and nginx are not installed (apt-get install -y wrk nginx-light)")
    out = subprocess.run(
        [sys.executable, str(BENCH), "--duration", "2", "--passes", "1", "--connections", "8"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}"

    for name in (r"nginx return 302", r"linktrack redirect \(durable capture\)"):
        line = re.search(
            rf"^{name}: {NUMBER} req/s  p50 {NUMBER} ms  p99 {NUMBER} ms$", out.stdout, re.M
        )
        assert line, report
        rate, p50, p99 = (_number(g) for g in line.groups())
        assert rate > 0 and p50 > 0 and p99 >= p50, report

    ratio = re.search(rf"^ratio: linktrack / nginx = {NUMBER}$", out.stdout, re.M)
    assert ratio and _number(ratio.group(1)) > 0, report

    half = re.search(
        rf"^linktrack at {NUMBER} req/s \(half of max\): p50 {NUMBER} ms  p99 {NUMBER} ms"
        rf"  \(achieved {NUMBER} req/s\)$",
        out.stdout,
        re.M,
    )
    assert half and all(_number(g) > 0 for g in half.groups()), report

    clicks = re.search(r"^clicks recorded: (\d+) of (\d+) redirects$", out.stdout, re.M)
    assert clicks, report
    recorded, redirects = int(clicks.group(1)), int(clicks.group(2))
    assert redirects > 0 and recorded == redirects, report
    assert out.returncode == 0, report
