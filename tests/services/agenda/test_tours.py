"""Médicobus tours: stops in communes open médicobus slots there; where the bus is each day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, col, func, select

from cpts_app.models.access import Role
from cpts_app.models.agenda import Schedule, Slot, SlotKind, SlotStatus, TourStop
from cpts_app.models.directory import Profession, StructureKind
from cpts_app.services.agenda import tours
from cpts_app.services.agenda.recurrence import to_paris
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from cpts_app.services.permissions import Actor
from tests.services import factories

NOW = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)  # Monday 16 March 2026, 08:00 Paris


class Bus:
    def __init__(self, session: Session) -> None:
        self.home = factories.commune(session, "Jonquières-Saint-Vincent", "30135", "30300")
        self.comps = factories.commune(session, "Comps", "30089", "30300")
        self.fourques = factories.commune(session, "Fourques", "30117", "30300")
        self.bus = factories.structure(session, "Médicobus des Costières", self.home, StructureKind.MEDICOBUS)
        self.msp = factories.structure(session, "MSP de Beaucaire", self.home)
        self.doctor = factories.professional(session, "Pierre", "Roche", structures=[self.bus])
        self.assistant = factories.professional(
            session, "Zoé", "Marty", Profession.MEDICAL_ASSISTANT, structures=[self.bus]
        )
        self.outsider = factories.professional(session, "Marc", "Vidal", structures=[self.msp])
        self.team = factories.actor(session, Role.MEDICOBUS_TEAM)
        self.coordinator = factories.actor(session, Role.COORDINATOR)
        self.outsider_actor: Actor = replace(
            factories.actor(session, Role.PROFESSIONAL), professional_id=self.outsider.id
        )
        self.tour_id = tours.create_tour(session, self.team, self.bus.id, "Tournée de printemps")


@pytest.fixture
def bus(session: Session) -> Bus:
    return Bus(session)


def stop(session: Session, bus: Bus, day: date, commune_id: int, start: str, end: str) -> int:
    return tours.add_stop(
        session,
        bus.team,
        bus.tour_id,
        day=day,
        commune_id=commune_id,
        place="Place de la Mairie",
        start_time=start,
        end_time=end,
        now=NOW,
    )


def test_tour_generates_medicobus_slots_in_the_stop_communes(session: Session, bus: Bus) -> None:
    stop(session, bus, date(2026, 3, 17), bus.comps.id, "09:00", "12:00")
    stop(session, bus, date(2026, 3, 17), bus.comps.id, "13:30", "16:30")
    stop(session, bus, date(2026, 3, 31), bus.fourques.id, "09:00", "12:00")  # after the clock change
    created = tours.generate_tour_slots(session, bus.tour_id, now=NOW)
    assert created == 9 + 9 + 9  # the doctor only: the medical assistant is not a clinician
    slots = list(session.exec(select(Slot).order_by(col(Slot.start))))
    assert {s.professional_id for s in slots} == {bus.doctor.id}
    assert all(s.kind == SlotKind.MEDICOBUS and s.audience == "PRO,SNP,CPTS" for s in slots)
    assert all(s.tour_stop_id is not None and s.structure_id == bus.bus.id for s in slots)
    by_commune = {(to_paris(s.start).date(), s.commune_id) for s in slots}
    assert by_commune == {(date(2026, 3, 17), bus.comps.id), (date(2026, 3, 31), bus.fourques.id)}
    first_fourques = min(s.start for s in slots if s.commune_id == bus.fourques.id)
    assert first_fourques == datetime(2026, 3, 31, 7, 0, tzinfo=UTC)  # 09:00 CEST
    schedules = session.exec(select(Schedule).where(Schedule.professional_id == bus.doctor.id)).all()
    assert sorted(s.commune_id for s in schedules) == sorted([bus.comps.id, bus.fourques.id])
    # Idempotent.
    assert tours.generate_tour_slots(session, bus.tour_id, now=NOW) == 0
    assert session.exec(select(func.count()).select_from(Schedule)).one() == 2


def test_overlapping_stops_are_refused(session: Session, bus: Bus) -> None:
    stop(session, bus, date(2026, 3, 17), bus.comps.id, "09:00", "12:00")
    with pytest.raises(ValidationFailed) as info:
        stop(session, bus, date(2026, 3, 17), bus.fourques.id, "11:00", "14:00")
    assert info.value.errors == {"start_time": "Le médicobus est déjà à Comps ce jour-là de 09:00 à 12:00."}
    with pytest.raises(ValidationFailed) as info:
        stop(session, bus, date(2026, 3, 18), bus.fourques.id, "14:00", "11:00")
    assert set(info.value.errors) == {"end_time"}
    with pytest.raises(ValidationFailed) as info:
        stop(session, bus, date(2026, 3, 10), bus.fourques.id, "09:00", "11:00")
    assert set(info.value.errors) == {"day"}
    assert session.exec(select(func.count()).select_from(TourStop)).one() == 1


def test_only_the_bus_team_or_coordination_plans_tours(session: Session, bus: Bus) -> None:
    with pytest.raises(PermissionDenied):
        tours.create_tour(session, bus.outsider_actor, bus.bus.id, "Ma tournée")
    with pytest.raises(PermissionDenied):
        tours.add_stop(
            session,
            bus.outsider_actor,
            bus.tour_id,
            day=date(2026, 3, 17),
            commune_id=bus.comps.id,
            place="",
            start_time="09:00",
            end_time="12:00",
            now=NOW,
        )
    assert tours.create_tour(session, bus.coordinator, bus.bus.id, "Tournée d'été")
    with pytest.raises(ValidationFailed):
        tours.create_tour(session, bus.coordinator, bus.msp.id, "Pas un bus")


def test_where_is_the_bus(session: Session, bus: Bus) -> None:
    stop(session, bus, date(2026, 3, 17), bus.comps.id, "09:00", "12:00")
    stop(session, bus, date(2026, 3, 18), bus.fourques.id, "09:00", "10:00")
    tours.generate_tour_slots(session, bus.tour_id, now=NOW)
    taken = session.exec(select(Slot).where(Slot.commune_id == bus.fourques.id)).first()
    assert taken is not None
    taken.status = SlotStatus.BUSY
    session.add(taken)
    session.flush()
    days = tours.where_is_the_bus(session, bus.outsider_actor, bus.bus.id, date(2026, 3, 16), 7)
    assert [(d.day, d.commune_name, d.start_time, d.free_slots, d.booked_slots) for d in days] == [
        (date(2026, 3, 17), "Comps", "09:00", 9, 0),
        (date(2026, 3, 18), "Fourques", "09:00", 2, 1),
    ]
    assert tours.where_is_the_bus(session, bus.outsider_actor, bus.bus.id, date(2026, 3, 18), 1)[0].place == (
        "Place de la Mairie"
    )
