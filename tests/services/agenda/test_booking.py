"""Booking, extra booking, cancelling, rescheduling, outcomes: rules, permissions and audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from cpts_app.models.agenda import (
    Appointment,
    AppointmentStatus,
    Slot,
    SlotStatus,
    WaitingListEntry,
    WaitingStatus,
)
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Profession
from cpts_app.services.agenda import booking, waiting_list
from cpts_app.services.agenda.booking import SlotTaken
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from tests.services.agenda import factories as af
from tests.services.agenda.factories import NOW, Territory


@pytest.fixture
def territory(session: Session) -> Territory:
    return af.build_territory(session)


def _active(session: Session, slot_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(Appointment).where(col(Appointment.active_slot_id) == slot_id)
    ).one()


def _slot(session: Session, t: Territory, hours: float = 2, **kwargs) -> Slot:  # type: ignore[no-untyped-def]
    sched = af.schedule(session, kwargs.pop("pro", t.gp), kwargs.pop("commune", t.bordeaux), t.msp)
    row = af.slot(session, sched, NOW + timedelta(hours=hours), **kwargs)
    session.commit()
    return row


def test_book_inserts_appointment_busies_slot_and_audits(session: Session, territory: Territory) -> None:
    slot = _slot(session, territory)
    appointment_id = booking.book(
        session,
        territory.coordinator,
        slot.id,
        territory.patient.id,
        reason="Fièvre",
        on_behalf_of="Pharmacie",
        now=NOW,
    )
    session.commit()
    appointment = session.get(Appointment, appointment_id)
    assert appointment is not None
    assert (appointment.slot_id, appointment.active_slot_id) == (slot.id, slot.id)
    assert appointment.professional_id == territory.gp.id
    assert (appointment.start, appointment.end) == (slot.start, slot.end)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.booked_by_user_id == territory.coordinator.user_id
    assert (appointment.reason, appointment.on_behalf_of) == ("Fièvre", "Pharmacie")
    session.refresh(slot)
    assert slot.status == SlotStatus.BUSY
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "agenda.appointment.book")).one()
    assert event.target_id == str(appointment_id)
    assert event.actor_user_id == territory.coordinator.user_id
    assert json.loads(event.detail) == {"slot_id": slot.id, "patient_id": territory.patient.id}


def test_second_booking_of_same_slot_is_refused(session: Session, territory: Territory) -> None:
    slot = _slot(session, territory)
    booking.book(session, territory.coordinator, slot.id, territory.patient.id, now=NOW)
    session.commit()
    with pytest.raises(SlotTaken) as caught:
        booking.book(session, territory.secretariat, slot.id, territory.patient.id, now=NOW)
    session.rollback()
    assert "vient d'être réservé" in caught.value.message
    assert _active(session, slot.id) == 1


def test_unique_constraint_refuses_even_when_the_slot_looks_free(
    session: Session, territory: Territory
) -> None:
    """The database, not the status check, is the guarantee: a stale 'free' status still loses."""
    slot = _slot(session, territory)
    session.add(
        Appointment(
            slot_id=slot.id,
            active_slot_id=slot.id,
            professional_id=territory.gp.id,
            patient_id=territory.patient.id,
            start=slot.start,
            end=slot.end,
            booked_by_user_id=territory.coordinator.user_id,
        )
    )
    session.commit()
    assert session.get(Slot, slot.id).status == SlotStatus.FREE  # type: ignore[union-attr]
    with pytest.raises(SlotTaken):
        booking.book(session, territory.coordinator, slot.id, territory.patient.id, now=NOW)
    session.rollback()
    assert _active(session, slot.id) == 1
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == 0


def test_past_busy_unknown_slot_and_unknown_patient(session: Session, territory: Territory) -> None:
    past = _slot(session, territory, hours=-1)
    busy = _slot(session, territory, hours=3, status=SlotStatus.BUSY)
    free = _slot(session, territory, hours=4)
    with pytest.raises(ValidationFailed) as caught:
        booking.book(session, territory.coordinator, past.id, territory.patient.id, now=NOW)
    assert caught.value.errors == {"slot": "Ce créneau est déjà passé."}
    with pytest.raises(SlotTaken):
        booking.book(session, territory.coordinator, busy.id, territory.patient.id, now=NOW)
    with pytest.raises(NotFound):
        booking.book(session, territory.coordinator, 999_999, territory.patient.id, now=NOW)
    with pytest.raises(ValidationFailed) as caught:
        booking.book(session, territory.coordinator, free.id, 999_999, now=NOW)
    assert "patient_id" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        booking.book(session, territory.coordinator, free.id, territory.patient.id, reason="x" * 501, now=NOW)
    assert "reason" in caught.value.errors
    session.rollback()
    assert session.exec(select(func.count()).select_from(Appointment)).one() == 0
    assert session.get(Slot, free.id).status == SlotStatus.FREE  # type: ignore[union-attr]


def test_professional_books_colleague_pro_slot_but_not_public_only(
    session: Session, territory: Territory
) -> None:
    pro_slot = _slot(session, territory, pro=territory.colleague, audience="PRO")
    public_slot = _slot(session, territory, hours=3, pro=territory.colleague, audience="PUBLIC")
    snp_slot = _slot(session, territory, hours=4, pro=territory.colleague, audience="SNP")
    own_public = _slot(session, territory, hours=5, audience="PUBLIC")
    assert booking.book(session, territory.gp_actor, pro_slot.id, territory.patient.id, now=NOW)
    with pytest.raises(PermissionDenied):
        booking.book(session, territory.gp_actor, public_slot.id, territory.patient.id, now=NOW)
    with pytest.raises(PermissionDenied):
        booking.book(session, territory.gp_actor, snp_slot.id, territory.patient.id, now=NOW)
    assert booking.book(session, territory.gp_actor, own_public.id, territory.patient.id, now=NOW)
    assert booking.book(session, territory.secretariat, snp_slot.id, territory.patient.id, now=NOW)
    with pytest.raises(PermissionDenied):
        booking.book(session, territory.secretariat, public_slot.id, territory.patient.id, now=NOW)


def test_cancel_frees_slot_and_offers_it_to_waiting_list(session: Session, territory: Territory) -> None:
    slot = _slot(session, territory, hours=24)
    appointment_id = booking.book(session, territory.gp_actor, slot.id, territory.patient.id, now=NOW)
    other = af.patient(session, "Bernard", "Luc")
    ids = [
        waiting_list.add_to_waiting_list(
            session,
            territory.coordinator,
            patient_id=p.id,
            profession=Profession.GENERAL_PRACTITIONER.value,
            commune_id=c.id,
        )
        for p, c in [
            (territory.patient, territory.begles),  # neighbour commune: offered
            (other, territory.far),  # not a neighbour: not offered
            (other, territory.bordeaux),  # same commune: offered
        ]
    ]
    nurse_entry = waiting_list.add_to_waiting_list(
        session,
        territory.coordinator,
        patient_id=other.id,
        profession=Profession.NURSE.value,
        commune_id=territory.bordeaux.id,
    )
    session.commit()
    with pytest.raises(ValidationFailed) as caught:
        booking.cancel(session, territory.gp_actor, appointment_id, "  ", now=NOW)
    assert "reason" in caught.value.errors
    offered = booking.cancel(session, territory.gp_actor, appointment_id, "Patient indisponible", now=NOW)
    session.commit()
    assert offered == [ids[0], ids[2]]
    appointment = session.get(Appointment, appointment_id)
    assert appointment is not None
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.active_slot_id is None and appointment.cancelled_at == NOW
    assert appointment.cancel_reason == "Patient indisponible"
    assert session.get(Slot, slot.id).status == SlotStatus.FREE  # type: ignore[union-attr]
    entries = {e.id: e for e in session.exec(select(WaitingListEntry)).all()}
    assert entries[ids[0]].status == WaitingStatus.OFFERED and entries[ids[0]].offered_slot_id == slot.id
    assert entries[ids[1]].status == WaitingStatus.WAITING
    assert entries[nurse_entry].status == WaitingStatus.WAITING
    # The slot can be booked again once freed.
    assert booking.book(session, territory.coordinator, slot.id, territory.patient.id, now=NOW)
    with pytest.raises(ValidationFailed):
        booking.cancel(session, territory.gp_actor, appointment_id, "Encore", now=NOW)


def test_offer_goes_to_the_three_oldest(session: Session, territory: Territory) -> None:
    slot = _slot(session, territory, hours=24)
    ids = [
        waiting_list.add_to_waiting_list(
            session,
            territory.coordinator,
            patient_id=territory.patient.id,
            profession=Profession.GENERAL_PRACTITIONER.value,
            commune_id=territory.bordeaux.id,
        )
        for _ in range(5)
    ]
    for index, entry_id in enumerate(ids):
        entry = session.get(WaitingListEntry, entry_id)
        entry.created_at = NOW - timedelta(days=10 - index)  # type: ignore[union-attr]
    session.flush()
    assert waiting_list.offer_freed_slot(session, slot, now=NOW) == ids[:3]
    assert waiting_list.offer_freed_slot(session, slot, now=slot.start) == []


def test_who_may_cancel(session: Session, territory: Territory) -> None:
    slot = _slot(session, territory, audience="PRO")
    appointment_id = booking.book(session, territory.colleague_actor, slot.id, territory.patient.id, now=NOW)
    session.commit()
    with pytest.raises(PermissionDenied):
        booking.cancel(session, territory.nurse_actor, appointment_id, "Non", now=NOW)
    booking.cancel(session, territory.gp_actor, appointment_id, "Absent", now=NOW)  # the slot's professional


def test_reschedule_books_new_then_frees_old(session: Session, territory: Territory) -> None:
    old_slot = _slot(session, territory, hours=2)
    new_slot = _slot(session, territory, hours=26)
    taken = _slot(session, territory, hours=27, status=SlotStatus.BUSY)
    old_id = booking.book(
        session, territory.coordinator, old_slot.id, territory.patient.id, reason="Suivi", now=NOW
    )
    session.commit()
    with pytest.raises(SlotTaken):
        booking.reschedule(session, territory.coordinator, old_id, taken.id, now=NOW)
    session.rollback()
    assert session.get(Appointment, old_id).status == AppointmentStatus.BOOKED  # type: ignore[union-attr]
    new_id = booking.reschedule(session, territory.coordinator, old_id, new_slot.id, now=NOW)
    session.commit()
    old, new = session.get(Appointment, old_id), session.get(Appointment, new_id)
    assert old is not None and new is not None
    assert old.status == AppointmentStatus.CANCELLED and old.cancel_reason == "Reprogrammé"
    assert old.rescheduled_to_id == new_id and new.reason == "Suivi" and new.active_slot_id == new_slot.id
    assert session.get(Slot, old_slot.id).status == SlotStatus.FREE  # type: ignore[union-attr]
    assert session.get(Slot, new_slot.id).status == SlotStatus.BUSY  # type: ignore[union-attr]


def test_book_extra_requires_reason_and_coordination(session: Session, territory: Territory) -> None:
    start = NOW + timedelta(hours=5)
    kwargs = {"professional_id": territory.gp.id, "patient_id": territory.patient.id, "reason": "Plaie"}
    with pytest.raises(PermissionDenied):
        booking.book_extra(
            session,
            territory.gp_actor,
            start=start,
            end=start + timedelta(minutes=15),
            extra_reason="Urgence",
            now=NOW,
            **kwargs,
        )
    with pytest.raises(ValidationFailed) as caught:
        booking.book_extra(
            session, territory.coordinator, start=start, end=start, extra_reason=" ", now=NOW, **kwargs
        )
    assert caught.value.errors["extra_reason"] == "Indiquez le motif du rendez-vous surnuméraire."
    assert "end" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        booking.book_extra(
            session,
            territory.coordinator,
            start=NOW - timedelta(hours=1),
            end=NOW,
            extra_reason="Urgence",
            now=NOW,
            **kwargs,
        )
    assert "start" in caught.value.errors
    appointment_id = booking.book_extra(
        session,
        territory.coordinator,
        start=start,
        end=start + timedelta(minutes=15),
        extra_reason="Sortie d'hospitalisation",
        now=NOW,
        **kwargs,
    )
    session.commit()
    appointment = session.get(Appointment, appointment_id)
    assert appointment is not None and appointment.extra and appointment.slot_id is None
    assert appointment.active_slot_id is None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "agenda.appointment.book_extra")).one()
    assert json.loads(event.detail)["extra_reason"] == "Sortie d'hospitalisation"


def test_set_outcome(session: Session, territory: Territory) -> None:
    slot = _slot(session, territory, hours=1)
    appointment_id = booking.book(session, territory.coordinator, slot.id, territory.patient.id, now=NOW)
    with pytest.raises(ValidationFailed):
        booking.set_outcome(session, territory.gp_actor, appointment_id, "fulfilled", now=NOW)
    later = slot.start + timedelta(minutes=5)
    with pytest.raises(PermissionDenied):
        booking.set_outcome(session, territory.colleague_actor, appointment_id, "noshow", now=later)
    with pytest.raises(ValidationFailed):
        booking.set_outcome(session, territory.gp_actor, appointment_id, "cancelled", now=later)
    booking.set_outcome(session, territory.gp_actor, appointment_id, "noshow", now=later)
    assert session.get(Appointment, appointment_id).status == AppointmentStatus.NOSHOW  # type: ignore[union-attr]
