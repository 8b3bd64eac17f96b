"""Every option and environment variable is described: in --help and in the README."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from linktrack.entrypoints.cli import build_parser
from linktrack.entrypoints.cli.common import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = {"LINKTRACK_PARENT_PIPE"}  # serve → its writer process, not for users


def _variables_read() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "linktrack").rglob("*.py"):
        found |= set(re.findall(r'"(LINKTRACK_[A-Z_]+)"', path.read_text(encoding="utf-8")))
    return found - INTERNAL


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                out += _parsers(child)
    return out


def test_every_option_has_help() -> None:
    missing = [
        f"{p.prog} {'/'.join(a.option_strings) or a.dest}"
        for p in _parsers(build_parser())
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)
        and a.option_strings
        and not a.help
    ]
    assert not missing, missing


def test_every_environment_variable_is_in_help_and_readme() -> None:
    variables = _variables_read()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(variables) >= 15
    assert not [v for v in variables if v not in ENVIRONMENT], "not in --help"
    assert not [v for v in variables if f"`{v}`" not in readme], "not in the README's table"
