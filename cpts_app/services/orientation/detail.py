"""One referral in full for the coordinator: its line, contact log, steps, the original e-mail and,
while « à qualifier », the patients it may be.

Why the e-mail is opened here only: the raw message is sealed at rest; it is decrypted for the
coordinator on this screen, after the permission check and with an audit event, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from cpts_app.models.access import User
from cpts_app.models.agenda import Appointment
from cpts_app.models.directory import Professional
from cpts_app.models.orientation import (
    ContactAttempt,
    InboundMessage,
    Referral,
    ReferralEvent,
    ReferralStatus,
)
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit, crypto
from cpts_app.services.agenda.clock import moment_label
from cpts_app.services.errors import NotFound
from cpts_app.services.identifiers import format_phone
from cpts_app.services.identity import DuplicateCandidate, find_probable_duplicates
from cpts_app.services.orientation.access import require_coordinator
from cpts_app.services.orientation.contact_traits import parse_traits
from cpts_app.services.orientation.email_intake import RAW_PURPOSE
from cpts_app.services.orientation.email_parsing import parse_signal_email
from cpts_app.services.orientation.items import QueueItem, build_items
from cpts_app.services.orientation.labels import (
    CONTACT_CHANNEL_LABELS,
    CONTACT_OUTCOME_LABELS,
    STATUS_LABELS,
    label,
)
from cpts_app.services.permissions import Actor

REFERRAL_NOT_FOUND = "Cette demande n'existe pas."
EMAIL_UNREADABLE = "Le message d'origine ne peut pas être déchiffré sur cette installation."


@dataclass(frozen=True)
class AttemptView:
    at: str
    """Paris "dd/mm/yyyy HH:MM"."""
    channel_label: str
    outcome_label: str
    note: str
    by: str


@dataclass(frozen=True)
class EventView:
    at: str
    from_label: str
    to_label: str
    reason: str
    by: str


@dataclass(frozen=True)
class ReferralDetail:
    item: QueueItem
    patient_id: int | None
    contact_name: str
    contact_phone: str
    """As French people read it."""
    consent_to_contact: bool
    free_text: str
    status_reason: str
    appointment_label: str
    attending_doctor_name: str
    attempts: list[AttemptView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    email_text: str = ""
    """The message's readable text (plain part, or HTML converted)."""
    email_raw: str = ""
    """The message as received (RFC 5322 source), for the rare case the text misses something."""
    email_attachments: list[str] = field(default_factory=list)
    email_error: str = ""
    duplicates: list[DuplicateCandidate] = field(default_factory=list)


def _users(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.display_name).where(col(User.id).in_(ids))).all())  # type: ignore[arg-type]


def get_referral(
    session: Session, actor: Actor, referral_id: int, *, now: datetime | None = None
) -> ReferralDetail:
    """The referral ``referral_id`` in full (read audited; the e-mail opened only here)."""
    require_coordinator(actor)
    now = now or utcnow()
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(REFERRAL_NOT_FOUND)
    patient = session.get(Patient, referral.patient_id) if referral.patient_id is not None else None
    item = build_items(session, [(referral, patient)], now)[0]
    attempts = list(
        session.exec(
            select(ContactAttempt)
            .where(col(ContactAttempt.referral_id) == referral_id)
            .order_by(col(ContactAttempt.at), col(ContactAttempt.id))
        ).all()
    )
    events = list(
        session.exec(
            select(ReferralEvent)
            .where(col(ReferralEvent.referral_id) == referral_id)
            .order_by(col(ReferralEvent.at), col(ReferralEvent.id))
        ).all()
    )
    users = _users(
        session, {a.user_id for a in attempts} | {e.user_id for e in events if e.user_id is not None}
    )
    email_text = email_raw = email_error = ""
    attachments: list[str] = []
    if referral.inbound_message_id is not None:
        message = session.get(InboundMessage, referral.inbound_message_id)
        if message is not None:
            try:
                raw = crypto.open_sealed(message.sealed_raw, purpose=RAW_PURPOSE, record_id=str(message.id))
            except crypto.CryptoError:
                email_error = EMAIL_UNREADABLE
            else:
                parsed = parse_signal_email(raw)
                email_text, attachments = parsed.text, parsed.attachments
                email_raw = raw.decode("utf-8", errors="replace")
    duplicates: list[DuplicateCandidate] = []
    traits = parse_traits(referral.free_text)
    if referral.patient_id is None and referral.status == ReferralStatus.TO_QUALIFY and traits.birth_name:
        duplicates = find_probable_duplicates(
            session,
            actor,
            birth_name=traits.birth_name,
            first_names=traits.first_names,
            birth_date=traits.birth_date,
        )
    appointment_label = ""
    if referral.appointment_id is not None:
        appointment = session.get(Appointment, referral.appointment_id)
        if appointment is not None:
            doctor = session.get(Professional, appointment.professional_id)
            who = f" — {doctor.first_name} {doctor.last_name.upper()}" if doctor else ""
            appointment_label = f"{moment_label(appointment.start)}{who}"
    doctor_name = ""
    if referral.new_attending_doctor_id is not None:
        doctor = session.get(Professional, referral.new_attending_doctor_id)
        doctor_name = f"Dr {doctor.first_name} {doctor.last_name.upper()}" if doctor else ""
    audit.record(
        session,
        "referral.read",
        actor=actor,
        target_type="referral",
        target_id=referral_id,
        detail={"patient_id": referral.patient_id, "email_opened": bool(email_raw)},
    )
    return ReferralDetail(
        item=item,
        patient_id=referral.patient_id,
        contact_name=referral.contact_name,
        contact_phone=format_phone(referral.contact_phone),
        consent_to_contact=referral.consent_to_contact,
        free_text=referral.free_text,
        status_reason=referral.status_reason,
        appointment_label=appointment_label,
        attending_doctor_name=doctor_name,
        attempts=[
            AttemptView(
                at=moment_label(a.at),
                channel_label=label(CONTACT_CHANNEL_LABELS, a.channel),
                outcome_label=label(CONTACT_OUTCOME_LABELS, a.outcome),
                note=a.note,
                by=users.get(a.user_id, ""),
            )
            for a in attempts
        ],
        events=[
            EventView(
                at=moment_label(e.at),
                from_label=label(STATUS_LABELS, e.from_status) if e.from_status else "",
                to_label=label(STATUS_LABELS, e.to_status),
                reason=e.reason,
                by=users.get(e.user_id, "") if e.user_id is not None else "",
            )
            for e in events
        ],
        email_text=email_text,
        email_raw=email_raw,
        email_attachments=attachments,
        email_error=email_error,
        duplicates=duplicates,
    )
