"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from linktrack.core import htmlscan
from linktrack.core.compose import Composed, MemoryLinkTable, Message, Tracking
from linktrack.core.settings import TrackingSettings
from linktrack.core.tokens import ClickToken, KeyRing, SigningKey, split_path

KEYS = KeyRing([SigningKey("t1", b"test-secret")])


def tracking(
    settings: TrackingSettings | None = None,
    *,
    delivery_id: str = "dlv1",
    links: MemoryLinkTable | None = None,
    cio_id: str | None = "cio123",
    scope: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Tracking:
    return Tracking(
        settings=settings or TrackingSettings(tracking_domain="t.example.com", add_cio_id=False),
        signer=KEYS.signer(),
        delivery_id=delivery_id,
        links=links if links is not None else MemoryLinkTable(),
        cio_id=cio_id,
        scope=scope or {},
        **kwargs,
    )


def compose(message: Message, **kwargs: Any) -> Composed:
    return message.compose(tracking(**kwargs))


def decode(url: str) -> ClickToken:
    """Verify a tracked click URL and return what it carries."""
    kind, payload, signature = split_path(urlsplit(url).path)
    assert kind == "c"
    return KEYS.verify_click(payload, signature)


def shared_dir() -> Path:
    """`shared/` beside the repository (as laid for developers and CI)."""
    env = os.environ.get("LINKTRACK_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


_LINK_TAGS = frozenset({"a", "v:roundrect", "v:rect", "v:oval", "v:shape"})


def href_spans(html: str) -> list[tuple[int, int, htmlscan.StartTag]]:
    """(start, end, tag) of every href value the scanner reads, comments' VML included."""
    found = []
    for item in htmlscan.scan(html, _LINK_TAGS):
        if isinstance(item, htmlscan.Comment):
            data = html[item.data_start : item.data_end]
            if data.lstrip().lower().startswith("[if"):
                for inner in htmlscan.scan(data, _LINK_TAGS):
                    if isinstance(inner, htmlscan.StartTag):
                        href = inner.get("href")
                        if href and href.value_start >= 0:
                            off = item.data_start
                            found.append((href.value_start + off, href.value_end + off, inner))
            continue
        href = item.get("href")
        if href and href.value_start >= 0:
            found.append((href.value_start, href.value_end, item))
    return found


@contextmanager
def generous_render_deadline() -> Iterator[None]:
    """The render time limit has its own tests (test_liquid_limits.py); a fuzz test on a
    loaded machine must not turn a slow render of a small template into a failure."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("linktrack.core.liquid.limits.RENDER_SECONDS", 30.0)
        yield


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A file system of `size` of its own at `where` (a volume that really fills up):
    skipped where it cannot be mounted, a failure under CI=true."""
    import subprocess

    import pytest

    where.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs: {mounted.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the full-disk tests must run)")
        pytest.skip(reason)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Write until the volume refuses a byte more."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
