"""Orientation of patients without a médecin traitant: referrals, their steps, contact attempts,
and the messages that arrive by e-mail (data only)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, String
from sqlmodel import Field, SQLModel

from cpts_app.models.types import UTCDateTime, utcnow


class ReferralSource(StrEnum):
    """Who signalled the patient."""

    PHARMACIST = "pharmacien"
    NURSE = "infirmier"
    EMERGENCY_DOCTOR = "urgentiste"
    GENERAL_PRACTITIONER = "medecin"
    OTHER_PROFESSIONAL = "autre_professionnel"
    PATIENT_FORM = "patient_formulaire"
    PATIENT_EMAIL = "patient_courriel"


class ReferralReason(StrEnum):
    CHRONIC_ALD = "maladie_chronique_ald"
    HOSPITAL_DISCHARGE = "sortie_hospitalisation"
    TREATMENT_RENEWAL = "renouvellement_traitement"
    FOLLOW_UP = "suivi_apres_urgence"
    """Suivi après maison médicale de garde, urgences ou téléconsultation."""
    UNSCHEDULED_CARE = "soins_non_programmes"
    FIND_ATTENDING_DOCTOR = "recherche_medecin_traitant"


class Urgency(StrEnum):
    HALF_DAY = "demi_journee"
    WITHIN_48H = "sous_48h"
    SCHEDULED = "programme"


class ReferralStatus(StrEnum):
    """reçue → à qualifier → en cours de contact → orientée → clôturée / injoignable / refusée."""

    RECEIVED = "recue"
    TO_QUALIFY = "a_qualifier"
    CONTACTING = "en_cours_de_contact"
    ORIENTED = "orientee"
    CLOSED = "cloturee"
    UNREACHABLE = "injoignable"
    REFUSED = "refusee"


class Referral(SQLModel, table=True):
    """A demande de prise en charge, from a professional or from the patient."""

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    """None while an e-mail or a self-signal is not yet matched to a patient (« à qualifier »)."""
    source: ReferralSource = Field(sa_column=Column(String(24), nullable=False, index=True))
    reason: ReferralReason = Field(sa_column=Column(String(32), nullable=False, index=True))
    urgency: Urgency = Field(sa_column=Column(String(16), nullable=False))
    consent_to_contact: bool = False
    free_text: str = Field(default="", max_length=4000)
    status: ReferralStatus = Field(
        default=ReferralStatus.RECEIVED, sa_column=Column(String(24), nullable=False, index=True)
    )
    status_reason: str = Field(default="", max_length=500)
    priority_score: int = Field(default=0, index=True)
    referrer_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    referrer_professional_id: int | None = Field(default=None, foreign_key="professional.id")
    contact_name: str = Field(default="", max_length=200)
    """As given by a self-signal or an e-mail, before qualification."""
    contact_phone: str | None = Field(default=None, max_length=20)
    commune_id: int | None = Field(default=None, foreign_key="commune.id", index=True)
    inbound_message_id: int | None = Field(default=None, foreign_key="inboundmessage.id")
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    new_attending_doctor_id: int | None = Field(default=None, foreign_key="professional.id")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    qualified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_contact_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    oriented_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferralEvent(SQLModel, table=True):
    """Every change of status, timestamped: the indicators are computed from these rows."""

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    from_status: str = Field(default="", max_length=24)
    to_status: str = Field(max_length=24)
    reason: str = Field(default="", max_length=500)
    user_id: int | None = Field(default=None, foreign_key="user.id")


class ContactAttempt(SQLModel, table=True):
    """A call, an SMS or an e-mail to the patient, and what came of it."""

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    channel: str = Field(max_length=12)
    """``appel``, ``sms`` or ``courriel``."""
    outcome: str = Field(max_length=20)
    """``joint``, ``pas_de_reponse``, ``message_laisse``, ``numero_errone``."""
    note: str = Field(default="", max_length=1000)
    user_id: int = Field(foreign_key="user.id")


class InboundMessage(SQLModel, table=True):
    """An e-mail received by the intake, kept encrypted (sealed by ``services.crypto``)."""

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dedup_key: str = Field(max_length=64, unique=True, index=True)
    """SHA-256 of the Message-ID (or of the raw bytes): the same message never lands twice."""
    source: str = Field(default="", max_length=20)
    """``imap`` or ``dossier``."""
    sealed_raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    parsed: bool = False


class OrientationSettings(SQLModel, table=True):
    """Per-territory settings of the pôle's intake (one row)."""

    id: int | None = Field(default=None, primary_key=True)
    monthly_capacity: int = Field(default=150, ge=0)
    """New patients the pôle can take in each month (seed 000: 150)."""


class SelfSignalThrottle(SQLModel, table=True):
    """Self-signals per client address (hashed) and window, to slow floods down."""

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    window_started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    count: int = 0
