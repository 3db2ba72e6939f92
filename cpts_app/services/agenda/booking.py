"""Booking, extra (surnuméraire) booking, cancelling, rescheduling and outcomes of appointments.

Why the constraint and not a check: two requests can both read a slot as free. The database's
UNIQUE ``uq_appointment_active_slot`` lets only one appointment hold a slot; the loser's insert
fails inside a SAVEPOINT and becomes ``SlotTaken``, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cpts_app.models.agenda import Appointment, AppointmentStatus, Slot, SlotStatus
from cpts_app.models.directory import Professional
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda import access, waiting_list
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.permissions import Actor, Permission, require

SLOT_NOT_FOUND = "Ce créneau n'existe pas."
PATIENT_NOT_FOUND = "Ce patient n'existe pas."
APPOINTMENT_NOT_FOUND = "Ce rendez-vous n'existe pas."
PROFESSIONAL_NOT_FOUND = "Ce professionnel n'existe pas."
SLOT_PAST = "Ce créneau est déjà passé."
SLOT_NOT_BOOKABLE = "Ce créneau n'est pas ouvert à la réservation pour votre rôle."
NOT_ACTIVE = "Ce rendez-vous n'est plus actif."
RESCHEDULED = "Reprogrammé"
OUTCOMES = frozenset({AppointmentStatus.FULFILLED.value, AppointmentStatus.NOSHOW.value})


class SlotTaken(DomainError):
    """Someone else booked the slot first (or it was never free)."""

    DEFAULT = "Ce créneau vient d'être réservé par quelqu'un d'autre. Choisissez-en un autre."

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)


def _bounded(errors: dict[str, str], field: str, value: str, max_length: int) -> str:
    text = (value or "").strip()
    if len(text) > max_length:
        errors[field] = f"Ce champ ne doit pas dépasser {max_length} caractères."
    return text


def book(
    session: Session,
    actor: Actor,
    slot_id: int,
    patient_id: int,
    *,
    reason: str = "",
    on_behalf_of: str = "",
    now: datetime | None = None,
) -> int:
    """Book a free future slot for a patient; ``SlotTaken`` if anyone holds it, even concurrently."""
    require(actor, Permission.BOOK_APPOINTMENT)
    now = now or utcnow()
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(SLOT_NOT_FOUND)
    if not access.can_book(actor, slot):
        raise PermissionDenied(SLOT_NOT_BOOKABLE)
    if slot.start <= now:
        raise ValidationFailed({"slot": SLOT_PAST})
    if slot.status != SlotStatus.FREE:
        raise SlotTaken()
    errors: dict[str, str] = {}
    if session.get(Patient, patient_id) is None:
        errors["patient_id"] = PATIENT_NOT_FOUND
    reason = _bounded(errors, "reason", reason, 500)
    on_behalf_of = _bounded(errors, "on_behalf_of", on_behalf_of, 200)
    if errors:
        raise ValidationFailed(errors)
    appointment = Appointment(
        slot_id=slot_id,
        active_slot_id=slot_id,
        professional_id=slot.professional_id,
        patient_id=patient_id,
        start=slot.start,
        end=slot.end,
        status=AppointmentStatus.BOOKED,
        reason=reason,
        booked_by_user_id=actor.user_id,
        on_behalf_of=on_behalf_of,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError as exc:
        raise SlotTaken() from exc
    slot.status = SlotStatus.BUSY
    session.add(slot)
    session.flush()
    assert appointment.id is not None
    audit.record(
        session,
        "agenda.appointment.book",
        actor=actor,
        target_type="appointment",
        target_id=appointment.id,
        detail={"slot_id": slot_id, "patient_id": patient_id},
    )
    return appointment.id


def book_extra(
    session: Session,
    actor: Actor,
    *,
    professional_id: int,
    patient_id: int,
    start: datetime,
    end: datetime,
    reason: str,
    extra_reason: str,
    now: datetime | None = None,
) -> int:
    """A surnuméraire appointment outside the published slots (coordination only, reason audited)."""
    require(actor, Permission.BOOK_EXTRA)
    now = now or utcnow()
    errors: dict[str, str] = {}
    if session.get(Professional, professional_id) is None:
        errors["professional_id"] = PROFESSIONAL_NOT_FOUND
    if session.get(Patient, patient_id) is None:
        errors["patient_id"] = PATIENT_NOT_FOUND
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime refused: pass aware UTC datetimes")
    if start <= now:
        errors["start"] = "Le rendez-vous doit être dans le futur."
    if end <= start:
        errors["end"] = "La fin doit suivre le début."
    reason = _bounded(errors, "reason", reason, 500)
    extra_reason = _bounded(errors, "extra_reason", extra_reason, 500)
    if not extra_reason:
        errors["extra_reason"] = "Indiquez le motif du rendez-vous surnuméraire."
    if errors:
        raise ValidationFailed(errors)
    appointment = Appointment(
        professional_id=professional_id,
        patient_id=patient_id,
        start=start,
        end=end,
        status=AppointmentStatus.BOOKED,
        reason=reason,
        extra=True,
        extra_reason=extra_reason,
        booked_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    session.flush()
    assert appointment.id is not None
    audit.record(
        session,
        "agenda.appointment.book_extra",
        actor=actor,
        target_type="appointment",
        target_id=appointment.id,
        detail={"professional_id": professional_id, "patient_id": patient_id, "extra_reason": extra_reason},
    )
    return appointment.id


def _active_appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(APPOINTMENT_NOT_FOUND)
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationFailed({"appointment": NOT_ACTIVE})
    return appointment


def _release(session: Session, appointment: Appointment, reason: str, now: datetime) -> list[int]:
    """Cancel ``appointment``, free its slot if still ahead, and offer it to the waiting list."""
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = now
    appointment.cancel_reason = reason
    appointment.active_slot_id = None
    appointment.updated_at = now
    session.add(appointment)
    session.flush()
    if appointment.slot_id is None:
        return []
    slot = session.get(Slot, appointment.slot_id)
    if slot is None or slot.start <= now:
        return []
    slot.status = SlotStatus.FREE
    session.add(slot)
    session.flush()
    return waiting_list.offer_freed_slot(session, slot, now=now)


def cancel(
    session: Session, actor: Actor, appointment_id: int, reason: str, *, now: datetime | None = None
) -> list[int]:
    """Cancel an appointment; returns the waiting-list entries the freed slot was offered to."""
    require(actor, Permission.BOOK_APPOINTMENT)
    now = now or utcnow()
    appointment = _active_appointment(session, appointment_id)
    if not access.can_cancel(actor, appointment):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    reason = _bounded(errors, "reason", reason, 500)
    if not reason:
        errors["reason"] = "Indiquez le motif de l'annulation."
    if errors:
        raise ValidationFailed(errors)
    offered = _release(session, appointment, reason, now)
    audit.record(
        session,
        "agenda.appointment.cancel",
        actor=actor,
        target_type="appointment",
        target_id=appointment_id,
        detail={"slot_id": appointment.slot_id, "offered": offered},
    )
    return offered


def reschedule(
    session: Session, actor: Actor, appointment_id: int, new_slot_id: int, *, now: datetime | None = None
) -> int:
    """Move an appointment to another slot: the new one is booked first, then the old one freed."""
    require(actor, Permission.BOOK_APPOINTMENT)
    now = now or utcnow()
    old = _active_appointment(session, appointment_id)
    if not access.can_cancel(actor, old):
        raise PermissionDenied()
    new_id = book(
        session,
        actor,
        new_slot_id,
        old.patient_id,
        reason=old.reason,
        on_behalf_of=old.on_behalf_of,
        now=now,
    )
    old.rescheduled_to_id = new_id
    offered = _release(session, old, RESCHEDULED, now)
    audit.record(
        session,
        "agenda.appointment.reschedule",
        actor=actor,
        target_type="appointment",
        target_id=appointment_id,
        detail={"new_appointment_id": new_id, "new_slot_id": new_slot_id, "offered": offered},
    )
    return new_id


def set_outcome(
    session: Session, actor: Actor, appointment_id: int, status: str, *, now: datetime | None = None
) -> None:
    """Record that the patient came (fulfilled) or not (noshow), once the appointment has begun."""
    require(actor, Permission.VIEW_AGENDA)
    now = now or utcnow()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(APPOINTMENT_NOT_FOUND)
    if not access.can_set_outcome(actor, appointment):
        raise PermissionDenied()
    if status not in OUTCOMES:
        raise ValidationFailed({"status": "Choisissez « honoré » ou « absent »."})
    if appointment.status == AppointmentStatus.CANCELLED:
        raise ValidationFailed({"appointment": NOT_ACTIVE})
    if appointment.start > now:
        raise ValidationFailed({"status": "Le rendez-vous n'a pas encore commencé."})
    appointment.status = AppointmentStatus(status)
    appointment.updated_at = now
    session.add(appointment)
    session.flush()
    audit.record(
        session,
        "agenda.appointment.outcome",
        actor=actor,
        target_type="appointment",
        target_id=appointment_id,
        detail={"status": status},
    )
