"""One transaction per unit of work, retried when SQLite is busy, never half-written."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from cpts_app import db
from cpts_app.models.directory import Territory


def test_a_failing_unit_of_work_leaves_nothing(database_url: str, engine) -> None:
    def work(session: Session) -> None:
        session.add(Territory(name="CPTS à moitié"))
        session.flush()
        raise ValueError("refus après écriture")

    with pytest.raises(ValueError):
        db.run_in_transaction(work, database_url)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Territory)).one() == 0


def test_busy_database_is_retried_and_the_first_attempt_rolled_back(database_url: str, engine) -> None:
    attempts: list[int] = []

    def work(session: Session) -> int:
        attempts.append(1)
        session.add(Territory(name=f"CPTS essai {len(attempts)}"))
        session.flush()
        if len(attempts) == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return len(attempts)

    assert db.run_in_transaction(work, database_url) == 2
    with Session(engine) as s:
        names = s.exec(select(Territory.name)).all()
    assert names == ["CPTS essai 2"]


def test_other_database_errors_are_not_retried(database_url: str) -> None:
    attempts: list[int] = []

    def work(session: Session) -> None:
        attempts.append(1)
        raise OperationalError("SELECT", {}, Exception("no such table: nulle_part"))

    with pytest.raises(OperationalError):
        db.run_in_transaction(work, database_url)
    assert len(attempts) == 1


def test_concurrent_read_then_write_transactions_all_commit_when_declared_writes(
    database_url: str, engine
) -> None:
    errors: list[BaseException] = []
    db.get_engine.cache_clear()

    def work(index: int) -> None:
        def unit(session: Session) -> None:
            session.exec(select(func.count()).select_from(Territory)).one()  # read first…
            time.sleep(0.02)
            session.add(Territory(name=f"CPTS {index}"))  # …then write

        try:
            db.run_in_transaction(unit, database_url, write=True)
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.get_engine.cache_clear()
    assert errors == []
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Territory)).one() == 8
