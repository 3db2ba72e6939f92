"""The roles of a care team (« Médecin traitant », « Infirmier(e) »…) and how one is suggested.

Why a closed vocabulary: the role is shown next to each member and sorts the team; free text
would give « IDE », « infirmière », « Inf. » for the same role, and nobody could rely on it.
"""

from __future__ import annotations

from sqlmodel import Session

from cpts_app.models.access import User
from cpts_app.models.directory import Profession, Professional
from cpts_app.models.patient import Patient
from cpts_app.services.errors import ValidationFailed

ATTENDING_DOCTOR = "Médecin traitant"
DOCTOR = "Médecin"
NURSE = "Infirmier(e)"
PHARMACIST = "Pharmacien(ne)"
PHYSIOTHERAPIST = "Masseur-kinésithérapeute"
MIDWIFE = "Sage-femme"
COORDINATION = "Coordination"
SECRETARIAT = "Secrétariat"
OTHER = "Autre"

ROLE_LABELS: tuple[str, ...] = (
    ATTENDING_DOCTOR,
    DOCTOR,
    NURSE,
    PHARMACIST,
    PHYSIOTHERAPIST,
    MIDWIFE,
    COORDINATION,
    SECRETARIAT,
    OTHER,
)
"""Every role a member may hold, in the order the team is shown and the picker offers them."""

PROFESSION_ROLES: dict[Profession, str] = {
    Profession.GENERAL_PRACTITIONER: DOCTOR,
    Profession.SPECIALIST: DOCTOR,
    Profession.NURSE: NURSE,
    Profession.ADVANCED_PRACTICE_NURSE: NURSE,
    Profession.PHARMACIST: PHARMACIST,
    Profession.PHYSIOTHERAPIST: PHYSIOTHERAPIST,
    Profession.MIDWIFE: MIDWIFE,
    Profession.MEDICAL_SECRETARY: SECRETARIAT,
    Profession.MEDICAL_ASSISTANT: SECRETARIAT,
    Profession.CARE_COORDINATOR: COORDINATION,
}
"""The role a profession usually holds in a team; the others default to « Autre »."""

BAD_ROLE = "Choisissez un rôle de la liste : " + ", ".join(ROLE_LABELS) + "."


def validate_role_label(role_label: str) -> str:
    """The trimmed label if it belongs to the vocabulary, else ``ValidationFailed`` (``role_label``)."""
    label = (role_label or "").strip()
    if label not in ROLE_LABELS:
        raise ValidationFailed({"role_label": BAD_ROLE})
    return label


def role_rank(role_label: str) -> int:
    """Position of a label in the vocabulary (unknown labels last), to sort a team by role."""
    return ROLE_LABELS.index(role_label) if role_label in ROLE_LABELS else len(ROLE_LABELS)


def suggested_role_label(session: Session, user_id: int, *, patient_id: int | None = None) -> str:
    """The role to preselect for ``user_id``: from their profession, « Médecin traitant » when they
    are the attending doctor of ``patient_id``, « Autre » for users who are not professionals."""
    user = session.get(User, user_id)
    if user is None or user.professional_id is None:
        return OTHER
    professional = session.get(Professional, user.professional_id)
    if professional is None:
        return OTHER
    if patient_id is not None:
        patient = session.get(Patient, patient_id)
        if patient is not None and patient.attending_doctor_id == professional.id:
            return ATTENDING_DOCTOR
    return PROFESSION_ROLES.get(Profession(professional.profession), OTHER)
