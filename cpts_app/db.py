"""Database engine, sessions and migrations.

Why here and not in Reflex's ``rx.session``: the services, the CLI, the sync server and the tests
all need the same engine without importing Reflex.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from cpts_app.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")
SQLITE_BUSY_ATTEMPTS = 5
WRITE_OPTION = "cpts_write_transaction"


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: SQLite in WAL mode with foreign keys, or any other URL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy, not the driver, open transactions: otherwise pysqlite starts one only at the
    # first write, and releasing a SAVEPOINT taken before it would commit everything.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    # Writers take the write lock up front (BEGIN IMMEDIATE waits on busy_timeout instead of
    # failing when another writer committed after our first read); readers stay concurrent.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' database)."""
    return make_engine(url or get_settings().effective_database_url)


@contextmanager
def session_scope(url: str | None = None, *, write: bool = False) -> Iterator[Session]:
    """One transaction per user action: commit on success, roll back on any error.

    ``write=True`` for actions that read and then write (sign-in, saves, bookings): on SQLite the
    transaction then starts with the write lock, so concurrent writers queue instead of failing.
    """
    engine = get_engine(url)
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def run_in_transaction(work: Callable[[Session], T], url: str | None = None, *, write: bool = False) -> T:
    """Run ``work(session)`` as one transaction, retried when SQLite reports a busy database.

    Why: in WAL mode a transaction that read first and writes later fails at once with
    SQLITE_BUSY if another connection committed in between; the whole unit of work was rolled
    back, so running it again is safe. Other errors propagate unchanged.
    """
    for attempt in range(1, SQLITE_BUSY_ATTEMPTS + 1):
        try:
            with session_scope(url, write=write) as session:
                return work(session)
        except OperationalError as error:
            busy = "database is locked" in str(error) or "database is busy" in str(error)
            if not busy or attempt == SQLITE_BUSY_ATTEMPTS:
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str | None = None) -> None:
    """Bring the schema to the newest revision (run at every start)."""
    target = url or get_settings().effective_database_url
    if target.startswith("sqlite"):
        path = target.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(target), "head")
