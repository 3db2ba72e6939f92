"""Shared fixtures: a migrated database per test, on SQLite or on the PostgreSQL of CPTS_TEST_DATABASE_URL.

The database tests run twice in CI: once on a temporary SQLite file, once against a real
PostgreSQL server started by ``scripts/with_postgres.sh`` (which sets CPTS_TEST_DATABASE_URL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import cpts_app.models  # noqa: F401
from cpts_app.db import make_engine, migrate

POSTGRES_URL = os.environ.get("CPTS_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session", autouse=True)
def _secrets_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Master keys made by tests go to a temporary folder, never to the project's ``secrets/``."""
    from cpts_app.settings import get_settings

    previous = os.environ.get("CPTS_SECRETS_DIR")
    os.environ["CPTS_SECRETS_DIR"] = str(tmp_path_factory.mktemp("secrets"))
    get_settings.cache_clear()
    yield
    if previous is None:
        os.environ.pop("CPTS_SECRETS_DIR", None)
    else:
        os.environ["CPTS_SECRETS_DIR"] = previous
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate(POSTGRES_URL)
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, _postgres_engine: Engine | None) -> str:
    """The URL of a freshly migrated, empty database for this test."""
    if _postgres_engine is not None:
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with _postgres_engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return POSTGRES_URL
    url = f"sqlite:///{tmp_path / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; tests commit explicitly like the services' callers do."""
    with Session(engine, expire_on_commit=False) as s:
        yield s
