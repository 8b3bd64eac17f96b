"""Engines for SQLite (embedded) and PostgreSQL (scale-out), migrations, transactions.

Every store function takes a `Connection` (the caller owns the transaction and
must commit: `with engine.begin() as conn`) or an `Engine` (the function runs
in its own transaction). The services hold these two handles and nothing else
of SQLAlchemy: they are the store's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection as Connection
from sqlalchemy.engine import Engine as Engine

Db: TypeAlias = Connection | Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_CACHE_KIB = 64 * 1024


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for bare `postgresql://` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (reports) run while the writer commits; NORMAL skips the
    # fsync per commit, which is safe because the event log, not the database,
    # is the durable record of clicks (a lost commit is replayed from the log).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    # The default 2 MB page cache is small next to the click indexes the writer
    # inserts into at random (event ids); 64 MB is allocated only as used.
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for `url` (sqlite:///path or postgresql://...), tuned for linktrack."""
    url = normalize_url(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("postgresql"):
        options["pool_pre_ping"] = True
    options.update(kwargs)
    engine = sa.create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(target: str | Engine, revision: str = "heads") -> None:
    """Run Alembic migrations up to `revision` (no alembic.ini needed)."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(target) if isinstance(target, str) else target
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as conn:
            # env.py uses this connection: the URL never goes through ConfigParser,
            # whose %-interpolation would mangle URL-encoded options.
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if isinstance(target, str):
            engine.dispose()


def migration_sql(engine: Engine) -> tuple[list[str], str]:
    """(the store's current revisions, the SQL `migrate` would run on it as a script);
    nothing is changed. "" when the store is current."""
    import io

    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        current = sorted(MigrationContext.configure(conn).get_current_heads())
    heads = sorted(ScriptDirectory.from_config(cfg).get_heads())
    if current == heads:
        return current, ""
    if len(current) > 1:  # an offline script starts from one revision
        raise ValueError(f"the store is at revisions {', '.join(current)}: run migrate itself")
    cfg.output_buffer = io.StringIO()
    cfg.attributes["dialect"] = engine.dialect.name
    command.upgrade(cfg, f"{current[0]}:heads" if current else "heads", sql=True)
    return current, cfg.output_buffer.getvalue()


@contextmanager
def transaction(db: Db) -> Iterator[Connection]:
    """`db` itself when it is a connection (the caller's transaction), else a new one."""
    if isinstance(db, Engine):
        with db.begin() as conn:
            yield conn
    else:
        yield db


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def backup_sqlite(engine: Engine, dest: Path) -> None:
    """A consistent copy of a live SQLite store at `dest`, by SQLite's online backup API
    (writers go on; the copy is one point in time)."""
    import sqlite3

    if engine.dialect.name != "sqlite":
        raise ValueError("linktrack backup copies SQLite stores: back PostgreSQL up with pg_dump")
    source = engine.raw_connection()
    try:
        with sqlite3.connect(dest) as target:
            source.driver_connection.backup(target)  # type: ignore[union-attr]
        target.close()
    finally:
        source.close()
