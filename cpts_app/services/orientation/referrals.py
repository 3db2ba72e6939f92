"""A professional's referral (« demande de prise en charge ») for a patient already in the records.

Why the patient first: the UI creates or finds the patient with ``identity.create_patient_checked``
(which proposes probable duplicates), then calls ``refer``; a referral from a professional is
therefore never « à qualifier ».
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from cpts_app.models.directory import Profession, Professional
from cpts_app.models.orientation import Referral, ReferralReason, ReferralSource, ReferralStatus, Urgency
from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.orientation.access import require_referrer
from cpts_app.services.orientation.events import add_event
from cpts_app.services.orientation.fields import (
    BAD_REASON,
    BAD_URGENCY,
    CONSENT_REQUIRED,
    REQUIRED,
    bounded_text,
    choice,
)
from cpts_app.services.orientation.priority import score_referral
from cpts_app.services.orientation.self_signal import SelfSignalForm, TooManySignals, self_signal
from cpts_app.services.permissions import Actor

__all__ = ["ReferralForm", "SelfSignalForm", "TooManySignals", "refer", "self_signal", "source_for"]

PATIENT_NOT_FOUND = "Ce patient n'existe pas."
FREE_TEXT_MAX = 4000


@dataclass
class ReferralForm:
    """A referral as typed by a professional (strings), before validation."""

    patient_id: str = ""
    reason: str = ""
    urgency: str = ""
    consent_to_contact: bool = False
    free_text: str = ""


def source_for(professional: Professional | None) -> ReferralSource:
    """The referral's source from the referrer's profession (urgentiste when the specialty says so)."""
    if professional is None:
        return ReferralSource.OTHER_PROFESSIONAL
    if professional.profession == Profession.PHARMACIST:
        return ReferralSource.PHARMACIST
    if professional.profession in (Profession.NURSE, Profession.ADVANCED_PRACTICE_NURSE):
        return ReferralSource.NURSE
    if professional.profession in (Profession.GENERAL_PRACTITIONER, Profession.SPECIALIST):
        if "urgen" in (professional.specialty or "").casefold():
            return ReferralSource.EMERGENCY_DOCTOR
        return ReferralSource.GENERAL_PRACTITIONER
    return ReferralSource.OTHER_PROFESSIONAL


def refer(session: Session, actor: Actor, form: ReferralForm, *, now: datetime | None = None) -> int:
    """Create a « reçue » referral for an existing patient; every invalid field is reported at once."""
    require_referrer(actor)
    now = now or utcnow()
    errors: dict[str, str] = {}
    patient: Patient | None = None
    raw_id = (form.patient_id or "").strip()
    if not raw_id:
        errors["patient_id"] = REQUIRED
    elif not raw_id.isdigit() or (patient := session.get(Patient, int(raw_id))) is None:
        errors["patient_id"] = PATIENT_NOT_FOUND
    reason = choice(errors, "reason", form.reason, ReferralReason, BAD_REASON)
    urgency = choice(errors, "urgency", form.urgency, Urgency, BAD_URGENCY)
    if not form.consent_to_contact:
        errors["consent_to_contact"] = CONSENT_REQUIRED
    free_text = bounded_text(errors, "free_text", form.free_text, FREE_TEXT_MAX)
    if errors or patient is None:
        raise ValidationFailed(errors)
    professional = session.get(Professional, actor.professional_id) if actor.professional_id else None
    referral = Referral(
        patient_id=patient.id,
        source=source_for(professional),
        reason=reason,
        urgency=urgency,
        consent_to_contact=True,
        free_text=free_text,
        status=ReferralStatus.RECEIVED,
        referrer_user_id=actor.user_id,
        referrer_professional_id=professional.id if professional else None,
        contact_phone=patient.phone,
        commune_id=patient.commune_id,
        received_at=now,
        updated_at=now,
    )
    referral.priority_score = score_referral(referral, patient, now=now).score
    session.add(referral)
    session.flush()
    assert referral.id is not None
    add_event(session, referral, ReferralStatus.RECEIVED, at=now, user_id=actor.user_id)
    audit.record(
        session,
        "referral.create",
        actor=actor,
        target_type="referral",
        target_id=referral.id,
        detail={"patient_id": patient.id, "source": str(referral.source), "reason": str(referral.reason)},
    )
    session.flush()
    return referral.id
