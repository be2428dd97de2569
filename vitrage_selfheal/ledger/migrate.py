"""Alembic, driven from code.

Only the services (on start) and `vitrage-selfheal db upgrade` migrate, and
always through `upgrade_safely`: a lock that spans processes, then the
revision read again under that lock, so replicas starting together on an
empty database create the schema once. Commands that only read or steer the
ledger call `require_head` and never migrate.
"""

from __future__ import annotations

import contextlib
import fcntl
import pathlib
from collections.abc import Iterator
from typing import Optional

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")

# Every replica, of every version, must take the same advisory lock; the
# value is arbitrary but must never change.
PG_MIGRATION_LOCK = 0x5E1F_4EA1
MIGRATION_LOCK_NAME = "vitrage_selfheal.ledger.migrate"
# MySQL's GET_LOCK needs a bound (MariaDB takes no "forever"); a migration
# takes seconds, so a holder this slow is stuck.
MYSQL_LOCK_TIMEOUT = 600

UPGRADE_COMMAND = "vitrage-selfheal db upgrade"


class SchemaNotCurrent(RuntimeError):
    """The ledger is not at the revision this code expects."""

    def __init__(self, url: str, current: Optional[str],
                 expected: str) -> None:
        self.url, self.current, self.expected = url, current, expected
        super().__init__(
            f"the ledger {url} is at schema revision "
            f"{current or 'none (not initialised)'}, this vitrage-selfheal "
            f"expects {expected}; run `{UPGRADE_COMMAND}` (the services "
            f"also upgrade it when they start)")


def alembic_config(connection: sa.engine.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "no migrations shipped"
    return revision


def upgrade_safely(engine: sa.engine.Engine, revision: str = "head") -> str:
    """Migrate under a cross-process lock; returns the revision reached."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        # READ COMMITTED so the revision read after the lock sees what the
        # replica that held it before us committed.
        with engine.connect().execution_options(
                isolation_level="READ COMMITTED") as connection:
            with connection.begin():
                # A transaction-scoped lock: released by the commit of the
                # migration itself, or by the server if this process dies.
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
                    PG_MIGRATION_LOCK)))
                return _upgrade_locked(connection, revision)
    if backend == "sqlite":
        with _file_lock(_sqlite_file(engine.url)):
            with engine.begin() as connection:
                return _upgrade_locked(connection, revision)
    if backend == "mysql":
        return _upgrade_mysql(engine, revision)
    raise NotImplementedError(
        f"no migration lock for {backend} ledgers; use PostgreSQL, MySQL "
        f"or SQLite")


def _upgrade_mysql(engine: sa.engine.Engine, revision: str) -> str:
    # MySQL commits DDL implicitly, so the lock must outlive transactions:
    # a named session lock, which the server drops if this process dies.
    with engine.connect().execution_options(
            isolation_level="READ COMMITTED") as connection:
        got = connection.execute(sa.select(sa.func.get_lock(
            MIGRATION_LOCK_NAME, MYSQL_LOCK_TIMEOUT))).scalar()
        connection.commit()
        if got != 1:
            raise RuntimeError(f"could not take the MySQL lock "
                               f"{MIGRATION_LOCK_NAME!r} within "
                               f"{MYSQL_LOCK_TIMEOUT}s")
        try:
            with connection.begin():
                return _upgrade_locked(connection, revision)
        finally:
            connection.execute(sa.select(sa.func.release_lock(
                MIGRATION_LOCK_NAME)))
            connection.commit()


# Existing callers (Ledger.upgrade) get the lock too.
upgrade = upgrade_safely


def _upgrade_locked(connection: sa.engine.Connection, revision: str) -> str:
    target = head() if revision == "head" else revision
    if _current(connection) != target:
        command.upgrade(alembic_config(connection), target)
    return _current(connection) or ""


def _sqlite_file(url: sa.engine.URL) -> Optional[pathlib.Path]:
    if url.database in (None, "", ":memory:"):
        return None
    return pathlib.Path(url.database)


@contextlib.contextmanager
def _file_lock(db_file: Optional[pathlib.Path]) -> Iterator[None]:
    # SQLite's own locks do not cover pysqlite's DDL (it opens no
    # transaction for CREATE TABLE), so a flock next to the file serializes
    # the migrators; the kernel drops it when a holder dies.
    if db_file is None:  # in memory: one process only
        yield
        return
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db_file}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current(engine: sa.engine.Engine) -> Optional[str]:
    with engine.connect() as connection:
        return _current(connection)


def _current(connection: sa.engine.Connection) -> Optional[str]:
    return MigrationContext.configure(connection).get_current_revision()


def require_head(url: str) -> None:
    """Raise SchemaNotCurrent unless the ledger at `url` is at head.

    Creates nothing: no tables, and no file for an SQLite ledger that does
    not exist yet.
    """
    parsed = sa.engine.make_url(url)
    masked = parsed.render_as_string(hide_password=True)
    expected = head()
    db_file = (_sqlite_file(parsed)
               if parsed.get_backend_name() == "sqlite" else None)
    if db_file is not None and not db_file.exists():
        raise SchemaNotCurrent(masked, None, expected)
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    try:
        revision = current(engine)
    finally:
        engine.dispose()
    if revision != expected:
        raise SchemaNotCurrent(masked, revision, expected)
