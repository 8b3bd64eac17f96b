"""`linktrack workspace`: create and list workspaces, replace their API keys, rotate
their signing keys."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from linktrack.entrypoints.cli.common import CliError, add_service_options, config_from_args


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[Any]:
    """The store's engine, migrated; store errors a user can fix become CliErrors."""
    from linktrack.adapters import store
    from linktrack.core.errors import StoreError

    engine = store.make_engine(config_from_args(args).db_url)
    try:
        store.migrate(engine)
        yield engine
    except StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        engine.dispose()


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
    _print(data, args.json)
    return 0


def cmd_workspace_list(args: argparse.Namespace) -> int:
    """Every workspace: id, name, site id, live signing keys (never an API key)."""
    from linktrack.adapters import store

    with _store(args) as engine:
        found = store.list_workspaces(engine)
        live = store.list_active_signing_keys(engine)
    rows: list[dict[str, Any]] = [
        {"id": ws.id, "name": ws.name, "site_id": ws.site_id, "created_at": ws.created_at,
         "signing_keys": [k.kid for k in live if k.workspace_id == ws.id]}
        for ws in found
    ]  # fmt: skip
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['id']}\t{row['name']}\tsite_id {row['site_id']}\t"
                  f"signing keys {', '.join(row['signing_keys'])}")  # fmt: skip
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """New API keys (shown once); the workspace's old ones stop working at once."""
    from linktrack.adapters import store

    kinds = ["track", "app"] if args.kind == "both" else [args.kind]
    with _store(args) as engine:
        new = store.replace_api_keys(engine, args.id, kinds)
    _print({f"{kind}_api_key": key for kind, key in new.items()}, args.json)
    return 0


def cmd_signing_key_rotate(args: argparse.Namespace) -> int:
    """A new signing key for new links; links signed before keep working until the old
    key is retired (DELETE /v1/workspace/signing_keys/{kid})."""
    from linktrack.adapters import store

    with _store(args) as engine:
        if store.get_workspace(engine, args.id) is None:
            raise CliError(f"no workspace {args.id}")
        kid = store.rotate_signing_key(engine, args.id)
    _print({"kid": kid}, args.json)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `workspace` command and its subcommands."""
    workspace = sub.add_parser("workspace", help="manage workspaces")
    ws_sub = workspace.add_subparsers(dest="workspace_command", required=True)

    def command(under: Any, name: str, help: str, func: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = under.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="print JSON")
        add_service_options(p)
        p.set_defaults(func=func)
        return p

    create = command(ws_sub, "create", "create a workspace; prints its API keys",
                     cmd_workspace_create)  # fmt: skip
    create.add_argument("name")
    command(ws_sub, "list", "list workspaces (no keys)", cmd_workspace_list)
    keys = ws_sub.add_parser("keys", help="the workspace's API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = command(keys_sub, "rotate", "new API keys, shown once; the old ones stop working",
                     cmd_keys_rotate)  # fmt: skip
    rotate.add_argument("id", type=int, help="the workspace id")
    rotate.add_argument("--kind", choices=["app", "track", "both"], default="both",
                        help="which keys to replace (both)")  # fmt: skip
    signing = ws_sub.add_parser("signing-key", help="the keys that sign tracked links")
    signing_sub = signing.add_subparsers(dest="signing_command", required=True)
    new = command(signing_sub, "rotate", "a new key signs new links; old links still work",
                  cmd_signing_key_rotate)  # fmt: skip
    new.add_argument("id", type=int, help="the workspace id")
