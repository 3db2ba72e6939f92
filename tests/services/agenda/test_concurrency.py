"""100 concurrent attempts to book one slot: exactly one appointment, every round, on either database."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from cpts_app import db
from cpts_app.models.agenda import Appointment, Slot, SlotStatus
from cpts_app.models.types import utcnow
from cpts_app.services.agenda import booking
from cpts_app.services.agenda.booking import SlotTaken
from tests.services.agenda import factories as af

ATTEMPTS = 100
ROUNDS = 3


@pytest.fixture
def fresh_engines() -> Iterator[None]:
    db.get_engine.cache_clear()
    yield
    db.get_engine.cache_clear()


def _attempt(url: str, actor, slot_id: int, patient_id: int) -> str:  # type: ignore[no-untyped-def]
    try:
        db.run_in_transaction(lambda s: booking.book(s, actor, slot_id, patient_id), url, write=True)
    except SlotTaken:
        return "taken"
    return "booked"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_hundred_threads_one_appointment(
    session: Session, database_url: str, fresh_engines: None, round_number: int
) -> None:
    territory = af.build_territory(session)
    sched = af.schedule(session, territory.gp, territory.bordeaux, territory.msp)
    slot = af.slot(session, sched, utcnow() + timedelta(days=1, minutes=round_number))
    session.commit()
    actors = [territory.coordinator, territory.secretariat, territory.gp_actor]
    try:
        with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
            outcomes = list(
                pool.map(
                    lambda i: _attempt(database_url, actors[i % 3], slot.id, territory.patient.id),
                    range(ATTEMPTS),
                )
            )
    finally:
        db.get_engine(database_url).dispose()
    assert outcomes.count("booked") == 1
    assert outcomes.count("taken") == ATTEMPTS - 1
    session.expire_all()
    count = session.exec(
        select(func.count()).select_from(Appointment).where(col(Appointment.slot_id) == slot.id)
    ).one()
    assert count == 1
    assert session.get(Slot, slot.id).status == SlotStatus.BUSY  # type: ignore[union-attr]
