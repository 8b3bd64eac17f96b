"""`linktrack user create`: a dashboard login for one workspace."""

from __future__ import annotations

import argparse
import getpass
import sys

from linktrack.entrypoints.cli.common import CliError, add_service_options, config_from_args


def read_password(prompt: str = "Password: ") -> str:
    """The password: asked for without echo on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise CliError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user_create(args: argparse.Namespace) -> int:
    """Create a dashboard user of a workspace; the password comes from stdin."""
    from linktrack.adapters import store
    from linktrack.core.errors import InputError, StoreError
    from linktrack.service.accounts import Accounts

    password = read_password()
    engine = store.make_engine(config_from_args(args).db_url)
    try:
        store.migrate(engine)
        user = Accounts(engine).create(args.workspace, args.email, password)
    except (StoreError, InputError) as exc:
        raise CliError(str(exc)) from None
    finally:
        engine.dispose()
    print(f"dashboard user {user.email} (id {user.id}) of workspace {user.workspace_id} created")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="dashboard users")
    commands = user.add_subparsers(dest="user_command", required=True)
    create = commands.add_parser(
        "create",
        help="create a dashboard login; the password is read from stdin "
        "(asked for, without echo, on a terminal)",
    )
    create.add_argument("email", help="what the user logs in with")
    create.add_argument("--workspace", type=int, required=True, help="the workspace's id")
    add_service_options(create)
    create.set_defaults(func=cmd_user_create)
