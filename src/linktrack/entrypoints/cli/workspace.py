"""`linktrack workspace create`: a workspace and its API keys."""

from __future__ import annotations

import argparse
import json

from linktrack.entrypoints.cli.common import add_service_options, config_from_args


def cmd_workspace_create(args: argparse.Namespace) -> int:
    """Create a workspace and print its keys (the only time they are shown)."""
    from linktrack.bootstrap import create_workspace

    created = create_workspace(config_from_args(args), args.name)
    data = {
        "id": created.id,
        "site_id": created.site_id,
        "track_api_key": created.track_api_key,
        "app_api_key": created.app_api_key,
    }
    if args.json:
        print(json.dumps(data))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `workspace` command and its subcommands."""
    workspace = sub.add_parser("workspace", help="manage workspaces")
    ws_sub = workspace.add_subparsers(dest="workspace_command", required=True)
    ws_create = ws_sub.add_parser("create", help="create a workspace; prints its API keys")
    ws_create.add_argument("name")
    ws_create.add_argument("--json", action="store_true")
    add_service_options(ws_create)
    ws_create.set_defaults(func=cmd_workspace_create)
