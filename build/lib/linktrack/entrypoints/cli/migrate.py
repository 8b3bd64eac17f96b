"""`linktrack migrate`: bring a store's schema up to this version, or print the SQL."""

from __future__ import annotations

import argparse

from linktrack.entrypoints.cli.common import CliError, config_from_args


def cmd_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from linktrack.adapters.store import make_engine, migrate, migration_sql

    config = config_from_args(args)
    engine = make_engine(config.db_url)
    try:
        current, sql = migration_sql(engine)
        at = ", ".join(current) or "an empty store"
        if args.dry_run:
            print(sql.rstrip() or f"-- {at}: current, nothing to run", flush=True)
            return 0
        if not sql:
            print(f"linktrack: the store is current ({at})")
            return 0
        migrate(engine)
        print(f"linktrack: migrated the store from {at} to {', '.join(migration_sql(engine)[0])}")
        return 0
    except (SQLAlchemyError, ValueError) as exc:
        raise CliError(f"cannot migrate {config.db_url}: {exc}") from None
    finally:
        engine.dispose()


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "migrate",
        help="bring the store's schema up to this version (serve also does it at start)",
    )
    p.add_argument("--db", help="store URL (default: LINKTRACK_DB or sqlite:///linktrack.db)")
    p.add_argument("--dry-run", action="store_true", help="print the SQL; change nothing")
    p.set_defaults(func=cmd_migrate)
