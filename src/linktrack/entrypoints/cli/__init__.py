"""The `linktrack` command: rewrite, render, decode (and, with the service, serve)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from linktrack.entrypoints.cli import (
    backup,
    compose,
    migrate,
    newsletter,
    serve,
    user,
    workspace,
)
from linktrack.entrypoints.cli.common import CliError, configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linktrack", description=__doc__)
    parser.add_argument("--version", action="version", version=f"linktrack {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    compose.add_parser(sub)
    serve.add_parser(sub)
    newsletter.add_parser(sub)
    workspace.add_parser(sub)
    migrate.add_parser(sub)
    backup.add_parser(sub)
    user.add_parser(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("linktrack")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure_logging(args)
        return int(args.func(args))
    except CliError as exc:
        print(f"linktrack: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
