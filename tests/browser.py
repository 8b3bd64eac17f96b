"""The dashboard tests' browser: Debian's chromium driven by Playwright, headless.

`dashboard_page` logs a fresh browser context in; `shoot` writes a page's
screenshot at desktop and phone width under `SCREENSHOTS`; `axe_violations`
runs axe-core (tests/node, from npm) in the page and returns what is serious
or critical. Without chromium the tests skip with the reason, except under
`CI=true`, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
# Where the run leaves its screenshots (one per page and width): the closing note lists them.
SCREENSHOTS = Path(os.environ.get("LINKTRACK_SCREENSHOTS", ROOT / "test-screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The flags the machine's notes give: no background connections on a closed network.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def need_browser() -> None:
    missing = [
        why
        for why, ok in (
            (f"no chromium at {CHROMIUM} (apt-get install chromium)", Path(CHROMIUM).exists()),
            (f"no axe-core at {AXE} (npm ci --prefix tests/node)", AXE.exists()),
        )
        if not ok
    ]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail("; ".join(missing))
        pytest.skip("; ".join(missing))


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium (Playwright's Browser), closed afterwards."""
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/ui/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def shoot(page: Any, name: str) -> list[Path]:
    """Screenshots of the page at desktop and phone width: SCREENSHOTS/<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    taken = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
    page.set_viewport_size(DESKTOP)
    return taken


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    # Evaluated over the DevTools protocol, which the page's CSP (scripts from /ui/static
    # only) does not govern, where a <script> tag would be refused.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page: Any, name: str) -> None:
    """Every dashboard page: screenshots at both widths, no serious accessibility issue."""
    shoot(page, name)
    assert axe_violations(page) == [], name
