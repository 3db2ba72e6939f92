"""The coordinator's steps on a referral: qualify, contact, orient (appointment or médecin
traitant), close — each with its timestamp, a ``ReferralEvent`` and an audit event.

Why a transition table: an impossible step (closing a closed referral, orienting one that is not
qualified) must be refused with a French message, never silently applied; the table below is the
single statement of what may follow what.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from cpts_app.models.agenda import Appointment, AppointmentStatus
from cpts_app.models.directory import Profession, Professional
from cpts_app.models.orientation import ContactAttempt, Referral, ReferralStatus
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda import booking
from cpts_app.services.errors import NotFound, ValidationFailed
from cpts_app.services.orientation.access import require_coordinator
from cpts_app.services.orientation.events import add_event
from cpts_app.services.orientation.fields import REQUIRED
from cpts_app.services.orientation.labels import (
    CONTACT_CHANNEL_LABELS,
    CONTACT_OUTCOME_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    TERMINAL_STATUSES,
    label,
)
from cpts_app.services.orientation.priority import score_referral
from cpts_app.services.permissions import Actor

REFERRAL_NOT_FOUND = "Cette demande n'existe pas."
PATIENT_NOT_FOUND = "Ce patient n'existe pas."
NOT_QUALIFIED = "Rattachez d'abord la demande à un patient (demande à qualifier)."
BAD_CHANNEL = "Choisissez le moyen de contact : appel, SMS ou courriel."
BAD_OUTCOME = "Choisissez le résultat : joint, pas de réponse, message laissé ou numéro erroné."
NOTE_MAX = 1000
REASON_MAX = 500

S = ReferralStatus
ALLOWED: dict[str, frozenset[ReferralStatus]] = {
    "qualify": frozenset({S.TO_QUALIFY}),
    "contact": frozenset({S.RECEIVED, S.TO_QUALIFY, S.CONTACTING, S.ORIENTED}),
    "appointment": frozenset({S.RECEIVED, S.CONTACTING, S.ORIENTED}),
    "attending_doctor": frozenset({S.RECEIVED, S.CONTACTING, S.ORIENTED}),
    "close": frozenset({S.RECEIVED, S.TO_QUALIFY, S.CONTACTING, S.ORIENTED}),
}
"""Statuses from which each step may start (the destination is fixed by the step)."""

CLOSING = frozenset({S.CLOSED, S.UNREACHABLE, S.REFUSED})


def _load(session: Session, referral_id: int) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(REFERRAL_NOT_FOUND)
    return referral


def _check_step(referral: Referral, step: str) -> None:
    """``ValidationFailed`` (field ``status``) when ``step`` cannot start from the current status."""
    current = ReferralStatus(referral.status)
    if current in ALLOWED[step]:
        return
    if current in TERMINAL_STATUSES:
        message = f"Cette demande est déjà « {label(STATUS_LABELS, current)} » : elle ne peut plus changer."
    elif step == "qualify":
        message = "Cette demande est déjà rattachée à un patient."
    elif current == S.TO_QUALIFY:
        message = NOT_QUALIFIED
    else:
        message = f"Action impossible pour une demande « {label(STATUS_LABELS, current)} »."
    raise ValidationFailed({"status": message})


def _move(
    session: Session,
    actor: Actor,
    referral: Referral,
    to_status: ReferralStatus,
    now: datetime,
    *,
    action: str,
    reason: str = "",
    detail: dict | None = None,  # type: ignore[type-arg]
) -> None:
    """Apply ``to_status`` (an event even when unchanged: the step itself is timestamped) and audit."""
    from_status = str(referral.status)
    referral.status = to_status
    referral.updated_at = now
    session.add(referral)
    session.flush()
    add_event(
        session, referral, to_status, at=now, from_status=from_status, reason=reason, user_id=actor.user_id
    )
    audit.record(
        session,
        action,
        actor=actor,
        target_type="referral",
        target_id=referral.id,
        detail={"from": from_status, "to": to_status.value, **(detail or {})},
    )
    session.flush()


def qualify(
    session: Session, actor: Actor, referral_id: int, patient_id: int, *, now: datetime | None = None
) -> None:
    """Attach an existing (or just created) patient to an « à qualifier » referral."""
    require_coordinator(actor)
    now = now or utcnow()
    referral = _load(session, referral_id)
    _check_step(referral, "qualify")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise ValidationFailed({"patient_id": PATIENT_NOT_FOUND})
    referral.patient_id = patient.id
    referral.qualified_at = now
    if patient.commune_id is not None:
        referral.commune_id = patient.commune_id
    if not referral.contact_phone and patient.phone:
        referral.contact_phone = patient.phone
    referral.priority_score = score_referral(referral, patient, now=now).score
    to_status = S.CONTACTING if referral.first_contact_at is not None else S.RECEIVED
    _move(
        session,
        actor,
        referral,
        to_status,
        now,
        action="referral.qualify",
        reason="Demande rattachée au dossier patient",
        detail={"patient_id": patient.id},
    )


def record_contact_attempt(
    session: Session,
    actor: Actor,
    referral_id: int,
    *,
    channel: str,
    outcome: str,
    note: str = "",
    now: datetime | None = None,
) -> int:
    """Log a call, SMS or e-mail; the first one sets ``first_contact_at`` (« reçue » → en cours)."""
    require_coordinator(actor)
    now = now or utcnow()
    referral = _load(session, referral_id)
    _check_step(referral, "contact")
    errors: dict[str, str] = {}
    if channel not in CONTACT_CHANNEL_LABELS:
        errors["channel"] = BAD_CHANNEL
    if outcome not in CONTACT_OUTCOME_LABELS:
        errors["outcome"] = BAD_OUTCOME
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"Ce champ ne doit pas dépasser {NOTE_MAX} caractères."
    if errors:
        raise ValidationFailed(errors)
    attempt = ContactAttempt(
        referral_id=referral_id, at=now, channel=channel, outcome=outcome, note=note, user_id=actor.user_id
    )
    session.add(attempt)
    if referral.first_contact_at is None:
        referral.first_contact_at = now
    to_status = S.CONTACTING if referral.status == S.RECEIVED else ReferralStatus(referral.status)
    worded = f"{CONTACT_CHANNEL_LABELS[channel]} : {CONTACT_OUTCOME_LABELS[outcome]}"
    _move(
        session,
        actor,
        referral,
        to_status,
        now,
        action="referral.contact_attempt",
        reason=worded,
        detail={"channel": channel, "outcome": outcome},
    )
    assert attempt.id is not None
    return attempt.id


def _orient(referral: Referral, now: datetime) -> None:
    referral.oriented_at = referral.oriented_at or now
    # Booking or finding a doctor means the patient was reached, even without a logged attempt.
    referral.first_contact_at = referral.first_contact_at or now


def orient_to_appointment(
    session: Session, actor: Actor, referral_id: int, appointment_id: int, *, now: datetime | None = None
) -> None:
    """Mark the referral « orientée » on an appointment booked for its patient (same transaction)."""
    require_coordinator(actor)
    now = now or utcnow()
    referral = _load(session, referral_id)
    _check_step(referral, "appointment")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != AppointmentStatus.BOOKED:
        raise ValidationFailed({"appointment_id": "Ce rendez-vous n'existe pas ou n'est plus actif."})
    if appointment.patient_id != referral.patient_id:
        raise ValidationFailed({"appointment_id": "Ce rendez-vous concerne un autre patient."})
    referral.appointment_id = appointment_id
    _orient(referral, now)
    _move(
        session,
        actor,
        referral,
        S.ORIENTED,
        now,
        action="referral.orient.appointment",
        reason="Rendez-vous pris",
        detail={"appointment_id": appointment_id},
    )


def book_for_referral(
    session: Session, actor: Actor, referral_id: int, slot_id: int, *, now: datetime | None = None
) -> int:
    """Book ``slot_id`` for the referral's patient and orient the referral, in one transaction."""
    require_coordinator(actor)
    now = now or utcnow()
    referral = _load(session, referral_id)
    _check_step(referral, "appointment")
    assert referral.patient_id is not None
    appointment_id = booking.book(
        session,
        actor,
        slot_id,
        referral.patient_id,
        reason=label(REASON_LABELS, referral.reason),
        on_behalf_of=f"Orientation n° {referral_id}",
        now=now,
    )
    orient_to_appointment(session, actor, referral_id, appointment_id, now=now)
    return appointment_id


def record_attending_doctor(
    session: Session, actor: Actor, referral_id: int, professional_id: int, *, now: datetime | None = None
) -> None:
    """Record the patient's new médecin traitant: one place of the GP's capacity is taken."""
    require_coordinator(actor)
    now = now or utcnow()
    referral = _load(session, referral_id)
    _check_step(referral, "attending_doctor")
    doctor = session.get(Professional, professional_id)
    if (
        doctor is None
        or not doctor.active
        or doctor.profession != Profession.GENERAL_PRACTITIONER
        or not doctor.accepts_new_patients
    ):
        raise ValidationFailed(
            {"professional_id": "Ce médecin n'est pas un médecin généraliste acceptant de nouveaux patients."}
        )
    # Atomic decrement: two coordinators cannot both take the last place.
    taken = session.execute(
        update(Professional)
        .where(col(Professional.id) == professional_id, col(Professional.new_patient_capacity) > 0)
        .values(new_patient_capacity=col(Professional.new_patient_capacity) - 1, updated_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise ValidationFailed({"professional_id": "Ce médecin n'a plus de place pour de nouveaux patients."})
    session.refresh(doctor)
    patient = session.get(Patient, referral.patient_id)
    assert patient is not None
    patient.attending_doctor_id = professional_id
    patient.without_attending_doctor = False
    patient.updated_at = now
    session.add(patient)
    referral.new_attending_doctor_id = professional_id
    _orient(referral, now)
    _move(
        session,
        actor,
        referral,
        S.ORIENTED,
        now,
        action="referral.orient.attending_doctor",
        reason=f"Médecin traitant trouvé : Dr {doctor.first_name} {doctor.last_name.upper()}",
        detail={"professional_id": professional_id, "patient_id": patient.id},
    )


def close(
    session: Session, actor: Actor, referral_id: int, status: str, reason: str, *, now: datetime | None = None
) -> None:
    """Close the referral as « clôturée », « injoignable » or « refusée », with its reason."""
    require_coordinator(actor)
    now = now or utcnow()
    errors: dict[str, str] = {}
    if status not in {s.value for s in CLOSING}:
        errors["status"] = "Choisissez : clôturée, injoignable ou refusée."
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = REQUIRED
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Ce champ ne doit pas dépasser {REASON_MAX} caractères."
    referral = _load(session, referral_id)
    if errors:
        raise ValidationFailed(errors)
    _check_step(referral, "close")
    referral.status_reason = reason
    referral.closed_at = now
    _move(session, actor, referral, ReferralStatus(status), now, action="referral.close", reason=reason)
