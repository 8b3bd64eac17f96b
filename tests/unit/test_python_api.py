"""The Python API the README shows: the example runs as written, and says what it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import linktrack

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs_as_written() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(1), "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert lines[0] == "Hi Ada"
    assert 'href="https://links.example.com/e/c/' in lines[1] and "/e/o/" in lines[1]
    assert lines[2] == "https://shop.example/sale?utm_source=email&_cio_id=c1"
    assert lines[3] == "order-42-shipped https://shop.example/sale?utm_source=email&_cio_id=c1"
    # Each line of the example that says what it prints says it truly.
    for comment in re.findall(r"print\(([\w.]+)\)\s+# (https?://\S+|Hi \w+)", code.group(1)):
        assert comment[1] in lines


def test_every_exported_name_resolves_and_documents_itself() -> None:
    for name in linktrack.__all__:
        thing = getattr(linktrack, name)
        assert thing.__name__ == name and (thing.__doc__ or "").strip(), name
    with pytest.raises(AttributeError):
        _ = linktrack.NoSuchThing  # type: ignore[attr-defined]
