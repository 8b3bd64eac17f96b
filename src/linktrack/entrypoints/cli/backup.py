"""`linktrack backup DIR` and `linktrack restore DIR`: a live SQLite store and its click
log, copied consistently, and laid out again in a fresh place."""

from __future__ import annotations

import argparse
from pathlib import Path

from linktrack.entrypoints.cli.common import CliError, add_service_options, config_from_args

STORE_FILE = "linktrack.db"
LOG_DIR = "events"


def _sqlite_path(db_url: str) -> Path:
    if not db_url.startswith("sqlite:///"):
        raise CliError("backup and restore are for SQLite stores; for PostgreSQL use pg_dump "
                       "and pg_restore (README, \"Backup and restore\")")  # fmt: skip
    return Path(db_url.removeprefix("sqlite:///"))


def cmd_backup(args: argparse.Namespace) -> int:
    """The click log first, then the store (see adapters.eventlog.backup)."""
    from linktrack.adapters.eventlog.backup import copy_segments
    from linktrack.adapters.store import backup_sqlite, make_engine

    config = config_from_args(args)
    _sqlite_path(config.db_url)
    target = Path(args.dir)
    if target.exists() and any(target.iterdir()):
        raise CliError(f"{target} is not empty: back up into a new directory")
    target.mkdir(parents=True, exist_ok=True)
    segments = copy_segments(config.data_dir / "events", target / LOG_DIR)
    engine = make_engine(config.db_url)
    try:
        backup_sqlite(engine, target / STORE_FILE)
    except Exception as exc:
        raise CliError(f"cannot copy the store {config.db_url}: {exc}") from None
    finally:
        engine.dispose()
    print(f"linktrack: backed up the store and {segments} click-log segment(s) to {target}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Into a store file and data directory that do not exist yet: nothing is overwritten."""
    import shutil

    from linktrack.adapters.eventlog.backup import restore_segments

    config = config_from_args(args)
    db = _sqlite_path(config.db_url)
    source = Path(args.dir)
    if not (source / STORE_FILE).is_file():
        raise CliError(f"{source} holds no backup ({STORE_FILE} is missing)")
    events = config.data_dir / "events"
    if db.exists() or (events.exists() and any(events.iterdir())):
        raise CliError(f"{db} or {events} already exists: restore into a fresh place")
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / STORE_FILE, db)
    segments = restore_segments(source / LOG_DIR, events)
    print(f"linktrack: restored the store to {db} and {segments} click-log segment(s) to "
          f"{events}; start serve on them: the writer stores what the log holds past the "
          "store's checkpoint")  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help="copy a live SQLite store and its click log to DIR")
    backup.add_argument("dir", help="a new or empty directory")
    add_service_options(backup)
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="lay a backup out as a store and click log again")
    restore.add_argument("dir", help="a directory `linktrack backup` wrote")
    add_service_options(restore)
    restore.set_defaults(func=cmd_restore)
