"""Schedules, weekly rules, closures and ad-hoc slots: validation, permissions, idempotent generation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, col, func, select

from cpts_app.models.access import Role
from cpts_app.models.agenda import (
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    Schedule,
    Slot,
    SlotKind,
    SlotStatus,
)
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Profession
from cpts_app.models.patient import Patient, Sex
from cpts_app.services.agenda import availability
from cpts_app.services.agenda.availability import RuleForm, SlotForm
from cpts_app.services.agenda.recurrence import to_paris
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from cpts_app.services.permissions import Actor
from tests.services import factories

# Monday 16 March 2026, 10:00 Paris: two weeks before the clock change.
NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


class World:
    def __init__(self, session: Session) -> None:
        town = factories.commune(session, "Beaucaire", "30032", "30300")
        self.commune = town
        self.msp = factories.structure(session, "MSP de Beaucaire", town)
        self.doctor = factories.professional(session, "Antoine", "Lefèvre", structures=[self.msp])
        self.colleague = factories.professional(session, "Julie", "Roux", structures=[self.msp])
        self.nurse = factories.professional(session, "Léa", "Pons", Profession.NURSE, structures=[self.msp])
        self.doctor_actor = self._actor(session, Role.PROFESSIONAL, self.doctor.id)
        self.coordinator = self._actor(session, Role.COORDINATOR, None)
        self.schedule_id = availability.create_schedule(
            session,
            self.doctor_actor,
            professional_id=self.doctor.id,
            structure_id=self.msp.id,
            commune_id=None,
        )
        self.colleague_schedule_id = availability.create_schedule(
            session,
            self.coordinator,
            professional_id=self.colleague.id,
            structure_id=self.msp.id,
            commune_id=None,
        )

    @staticmethod
    def _actor(session: Session, role: Role, professional_id: int | None) -> Actor:
        base = factories.actor(session, role)
        return replace(base, professional_id=professional_id)


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def monday_rule(**changes: object) -> RuleForm:
    form = RuleForm(weekday="0", start_time="08:00", end_time="12:00", valid_from="2026-03-16")
    return replace(form, **changes)  # type: ignore[arg-type]


def count(session: Session, model: type, *where: object) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def slots_of(session: Session, schedule_id: int) -> list[Slot]:
    return list(session.exec(select(Slot).where(Slot.schedule_id == schedule_id).order_by(col(Slot.start))))


def test_schedule_takes_the_structure_commune(session: Session, world: World) -> None:
    schedule = session.get(Schedule, world.schedule_id)
    assert schedule is not None and schedule.commune_id == world.commune.id
    with pytest.raises(ValidationFailed) as info:
        availability.create_schedule(
            session, world.coordinator, professional_id=world.doctor.id, structure_id=None, commune_id=None
        )
    assert "commune_id" in info.value.errors
    views = availability.schedules_of(session, world.doctor_actor, world.doctor.id)
    assert [(v.professional_name, v.structure_name, v.commune_name) for v in views] == [
        ("Antoine Lefèvre", "MSP de Beaucaire", "Beaucaire")
    ]


def test_professional_adds_a_rule_to_their_own_agenda_and_slots_appear(
    session: Session, world: World
) -> None:
    rule_id = availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(), now=NOW)
    slots = slots_of(session, world.schedule_id)
    # 8 weeks from Monday 16 March: 16 March after 10:00 Paris (10:15…11:45), then 7 Mondays with
    # Easter Monday (6 April) skipped: 7 + 6 × 16 slots.
    assert len(slots) == 7 + 6 * 16
    assert all(s.rule_id == rule_id and s.status == SlotStatus.FREE for s in slots)
    assert all(s.profession == Profession.GENERAL_PRACTITIONER.value for s in slots)
    assert all(s.commune_id == world.commune.id and s.structure_id == world.msp.id for s in slots)
    assert all(s.audience == "PRO,CPTS" and s.kind == SlotKind.CONSULTATION for s in slots)
    assert date(2026, 4, 6) not in {to_paris(s.start).date() for s in slots}
    assert {to_paris(s.start).strftime("%H:%M") for s in slots} >= {"08:00", "11:45"}
    assert all(s.start > NOW for s in slots)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "agenda.rule.create")).one()
    assert event.actor_user_id == world.doctor_actor.user_id and event.target_id == str(rule_id)


def test_professional_may_not_touch_a_colleague_agenda(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        availability.add_rule(
            session, world.doctor_actor, world.colleague_schedule_id, monday_rule(), now=NOW
        )
    with pytest.raises(PermissionDenied):
        availability.add_slot(
            session,
            world.doctor_actor,
            world.colleague_schedule_id,
            SlotForm(start="2026-03-20T09:00", end="2026-03-20T09:30"),
            now=NOW,
        )
    with pytest.raises(PermissionDenied):
        availability.create_schedule(
            session,
            world.doctor_actor,
            professional_id=world.colleague.id,
            structure_id=world.msp.id,
            commune_id=None,
        )
    assert count(session, AvailabilityRule) == 0 and count(session, Slot) == 0


def test_coordinator_manages_anyone(session: Session, world: World) -> None:
    availability.add_rule(session, world.coordinator, world.colleague_schedule_id, monday_rule(), now=NOW)
    assert slots_of(session, world.colleague_schedule_id)
    colleague = session.get(Schedule, world.colleague_schedule_id)
    assert colleague is not None
    assert availability.can_manage_schedule(world.coordinator, colleague)
    assert not availability.can_manage_schedule(world.doctor_actor, colleague)


@pytest.mark.parametrize(
    ("changes", "clash"),
    [
        ({"start_time": "11:00", "end_time": "13:00"}, True),
        ({"start_time": "07:00", "end_time": "08:15"}, True),
        ({"start_time": "09:00", "end_time": "10:00", "kind": "snp", "audience": ["SNP"]}, True),
        ({"start_time": "12:00", "end_time": "13:00"}, False),  # adjacent
        ({"weekday": "1"}, False),  # another day
        ({"valid_from": "2026-06-01"}, False),  # after the first rule ends
    ],
)
def test_overlapping_rules_are_refused_with_nothing_written(
    session: Session, world: World, changes: dict[str, object], clash: bool
) -> None:
    availability.add_rule(
        session, world.doctor_actor, world.schedule_id, monday_rule(valid_until="2026-05-31"), now=NOW
    )
    rules, slots, events = count(session, AvailabilityRule), count(session, Slot), count(session, AuditEvent)
    if not clash:
        availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(**changes), now=NOW)
        assert count(session, AvailabilityRule) == rules + 1
        return
    with pytest.raises(ValidationFailed) as info:
        availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(**changes), now=NOW)
    assert info.value.errors == {
        "start_time": "Ces horaires chevauchent une disponibilité existante (lundi 08:00–12:00)."
    }
    assert (count(session, AvailabilityRule), count(session, Slot), count(session, AuditEvent)) == (
        rules,
        slots,
        events,
    )


def test_every_invalid_field_is_reported_at_once(session: Session, world: World) -> None:
    form = RuleForm(
        weekday="7",
        start_time="10:00",
        end_time="09:00",
        slot_minutes="3",
        kind="massage",
        audience=[],
        valid_from="",
        valid_until="2026-13-01",
    )
    with pytest.raises(ValidationFailed) as info:
        availability.add_rule(session, world.doctor_actor, world.schedule_id, form, now=NOW)
    assert set(info.value.errors) == {
        "weekday",
        "end_time",
        "slot_minutes",
        "kind",
        "audience",
        "valid_from",
        "valid_until",
    }
    assert info.value.errors["end_time"] == "L'heure de fin doit être après l'heure de début."
    assert count(session, AvailabilityRule) == 0


def test_rule_ending_before_it_starts_is_refused(session: Session, world: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        availability.add_rule(
            session,
            world.doctor_actor,
            world.schedule_id,
            monday_rule(start_time="14:00", end_time="13:00"),
            now=NOW,
        )
    assert info.value.errors == {"end_time": "L'heure de fin doit être après l'heure de début."}
    with pytest.raises(ValidationFailed) as info:
        availability.add_rule(
            session,
            world.doctor_actor,
            world.schedule_id,
            monday_rule(valid_from="2026-05-01", valid_until="2026-04-01"),
            now=NOW,
        )
    assert set(info.value.errors) == {"valid_until"}
    assert count(session, AvailabilityRule) == 0 and count(session, Slot) == 0


def test_generate_slots_is_idempotent_and_skips_the_past(session: Session, world: World) -> None:
    availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(), now=NOW)
    before = count(session, Slot)
    assert (
        availability.generate_slots(session, world.schedule_id, date(2026, 3, 16), date(2026, 5, 10), now=NOW)
        == 0
    )
    assert count(session, Slot) == before
    # Extending the window creates only the new weeks.
    created = availability.generate_slots(
        session, world.schedule_id, date(2026, 3, 1), date(2026, 5, 17), now=NOW
    )
    assert created == 16
    starts = [s.start for s in slots_of(session, world.schedule_id)]
    assert len(starts) == len(set(starts))
    assert min(starts) > NOW


def test_an_exception_closes_free_slots_and_keeps_booked_ones(session: Session, world: World) -> None:
    availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(), now=NOW)
    monday = [
        s for s in slots_of(session, world.schedule_id) if to_paris(s.start).date() == date(2026, 3, 23)
    ]
    booked = monday[3]
    patient = Patient(birth_name="Durand", first_names="Paul", birth_date=date(1950, 2, 3), sex=Sex.MALE)
    session.add(patient)
    session.flush()
    session.add(
        Appointment(
            slot_id=booked.id,
            active_slot_id=booked.id,
            professional_id=world.doctor.id,
            patient_id=patient.id,
            start=booked.start,
            end=booked.end,
            booked_by_user_id=world.coordinator.user_id,
        )
    )
    booked.status = SlotStatus.BUSY
    session.add(booked)
    session.flush()
    start = datetime(2026, 3, 23, 7, 0, tzinfo=UTC)  # 08:00–12:00 Paris
    outcome = availability.add_exception(
        session, world.doctor_actor, world.schedule_id, start, start + timedelta(hours=4), "Formation"
    )
    assert outcome.removed_slots == 15 and outcome.kept_booked == [booked.start]
    remaining = [
        s for s in slots_of(session, world.schedule_id) if to_paris(s.start).date() == date(2026, 3, 23)
    ]
    assert [s.id for s in remaining] == [booked.id]
    # Regenerating does not reopen the closed morning.
    assert (
        availability.generate_slots(session, world.schedule_id, date(2026, 3, 16), date(2026, 5, 10), now=NOW)
        == 0
    )
    exception = session.get(AvailabilityException, outcome.id)
    assert exception is not None and exception.reason == "Formation"
    with pytest.raises(ValidationFailed):
        availability.add_exception(session, world.doctor_actor, world.schedule_id, start, start, "")


def test_holidays_and_exceptions_are_skipped_at_generation(session: Session, world: World) -> None:
    start = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # Monday 30 March, 08:00 CEST
    availability.add_exception(
        session, world.doctor_actor, world.schedule_id, start, start + timedelta(hours=4), "Congés"
    )
    availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(), now=NOW)
    days = {to_paris(s.start).date() for s in slots_of(session, world.schedule_id)}
    assert date(2026, 3, 23) in days and date(2026, 4, 13) in days
    assert date(2026, 3, 30) not in days  # closed
    assert date(2026, 4, 6) not in days  # Lundi de Pâques
    first_after_change = min(
        s.start for s in slots_of(session, world.schedule_id) if s.start.date() >= date(2026, 4, 13)
    )
    assert first_after_change == datetime(2026, 4, 13, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_remove_rule_deletes_future_free_slots_only(session: Session, world: World) -> None:
    rule_id = availability.add_rule(session, world.doctor_actor, world.schedule_id, monday_rule(), now=NOW)
    slots = slots_of(session, world.schedule_id)
    slots[5].status = SlotStatus.BUSY
    session.add(slots[5])
    session.flush()
    availability.remove_rule(session, world.doctor_actor, rule_id, now=NOW)
    remaining = slots_of(session, world.schedule_id)
    assert [s.id for s in remaining] == [slots[5].id]
    assert remaining[0].rule_id is None
    assert session.get(AvailabilityRule, rule_id) is None
    assert count(session, AuditEvent, AuditEvent.action == "agenda.rule.delete") == 1


def test_add_slot(session: Session, world: World) -> None:
    slot_id = availability.add_slot(
        session,
        world.doctor_actor,
        world.schedule_id,
        SlotForm(start="2026-03-30T19:00", end="2026-03-30T19:30", kind="snp", audience=["SNP", "CPTS"]),
        now=NOW,
    )
    slot = session.get(Slot, slot_id)
    assert slot is not None
    assert slot.start == datetime(2026, 3, 30, 17, 0, tzinfo=UTC)  # 19:00 CEST
    assert (slot.kind, slot.audience, slot.status) == (SlotKind.UNSCHEDULED, "SNP,CPTS", SlotStatus.FREE)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "agenda.slot.create")).one()
    assert json.loads(event.detail)["schedule_id"] == world.schedule_id


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            SlotForm(start="2026-03-16T09:30", end="2026-03-16T09:45"),
            "start",
            "Ce créneau est dans le passé.",
        ),
        (SlotForm(start="2026-03-20T10:00", end="2026-03-20T09:45"), "end", "La fin du créneau doit être"),
        (
            SlotForm(start="2026-03-20T10:15", end="2026-03-20T10:45"),
            "start",
            "chevauche un créneau existant",
        ),
        (SlotForm(start="2026-03-29T02:30", end="2026-03-29T03:30"), "start", "changement d'heure"),
        (SlotForm(start="20/03/2026 10:00", end="2026-03-20T10:45"), "start", "Date et heure invalides"),
        (SlotForm(start="2026-03-21T10:00", end="2026-03-21T10:30", audience=[]), "audience", "public"),
    ],
)
def test_add_slot_refusals(session: Session, world: World, form: SlotForm, field: str, message: str) -> None:
    availability.add_slot(
        session,
        world.doctor_actor,
        world.schedule_id,
        SlotForm(start="2026-03-20T10:00", end="2026-03-20T10:30"),
        now=NOW,
    )
    before = count(session, Slot)
    with pytest.raises(ValidationFailed) as info:
        availability.add_slot(session, world.doctor_actor, world.schedule_id, form, now=NOW)
    assert message in info.value.errors[field]
    assert count(session, Slot) == before


def test_publish_and_list_rules(session: Session, world: World) -> None:
    availability.add_rule(
        session,
        world.doctor_actor,
        world.schedule_id,
        monday_rule(
            weekday="2", kind="snp", audience=["SNP", "CPTS", "PRO"], start_time="18:30", end_time="19:30"
        ),
        now=NOW,
    )
    views = availability.list_rules(session, world.doctor_actor, world.schedule_id)
    assert len(views) == 1
    view = views[0]
    assert (view.weekday_label, view.start_time, view.end_time, view.kind_label) == (
        "mercredi",
        "18:30",
        "19:30",
        "Soins non programmés",
    )
    assert view.audience_labels == ["Professionnels", "SNP / SAS", "CPTS"]
    assert (view.valid_from, view.valid_until) == ("16/03/2026", "")
    later = NOW + timedelta(weeks=4)
    created = availability.publish(session, world.doctor_actor, world.schedule_id, weeks=8, now=later)
    assert created == 4 * 4  # four more Wednesdays of four slots
    with pytest.raises(PermissionDenied):
        availability.publish(session, world.doctor_actor, world.colleague_schedule_id, now=later)
