"""The dashboard benchmark at a tiny size: it logs in over a real serve and times each page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "ui_bench.py"
TIMED = re.compile(r"^median (\d+\.\d) ms, p95 (\d+\.\d) ms \(200, 3 requests(, OVER .*)?\)$")


def test_ui_bench_times_every_page_it_finds() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--clicks", "2000", "--deliveries", "200", "--requests", "3"],
        capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "store: sqlite, 2,000 clicks of 200 deliveries" in out.stdout, out.stdout
    lines = dict(re.findall(r"^ui: (\S+) 2,000 clicks: (.*)$", out.stdout, re.M))
    assert list(lines)[:2] == ["/ui/messages", "/ui/messages?machine=1"], out.stdout
    assert len(lines) == 12, out.stdout
    for path, result in lines.items():
        timed = TIMED.match(result)  # every page is built and answers 200
        assert timed, (path, result)
        assert float(timed[1]) <= float(timed[2]), (path, result)
