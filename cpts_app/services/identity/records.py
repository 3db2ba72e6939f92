"""Creating and correcting a patient's identity, with identity matching at every creation.

Why a refusal rather than a warning: a second record of the same person splits their history
(appointments, referrals) between two files; the user sees the candidates and either picks one or
confirms, knowingly, that the person is new. A matricule INS already held by another patient is
refused even when confirmed: one matricule is one person.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import DomainError, NotFound, ValidationFailed
from cpts_app.services.identifiers import search_key
from cpts_app.services.identity.form import IdentityForm, validate_identity
from cpts_app.services.identity.matching import DuplicateCandidate, find_probable_duplicates
from cpts_app.services.permissions import Actor, Permission, require

PATIENT_NOT_FOUND = "Ce patient n'existe pas."
NIR_TAKEN = "Ce matricule INS est déjà celui d'un autre patient : ouvrez sa fiche ou fusionnez."


class ProbableDuplicates(DomainError):
    """Creation paused: these patients may be the same person (``candidates``, best first)."""

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        super().__init__("Ce patient existe peut-être déjà : vérifiez avant d'en créer un nouveau.")
        self.candidates = candidates


def patient_search_name(birth_name: str, used_name: str | None, first_names: str) -> str:
    """The stored search key: accent-free "birth_name used_name first_names"."""
    return search_key(f"{birth_name} {used_name or ''} {first_names}")


def _refuse_taken_nir(session: Session, nir: object, exclude_id: int | None = None) -> None:
    if not nir:
        return
    query = select(Patient.id).where(col(Patient.ins_nir) == nir)
    if exclude_id is not None:
        query = query.where(col(Patient.id) != exclude_id)
    if session.exec(query.limit(1)).first() is not None:
        raise ValidationFailed({"ins_nir": NIR_TAKEN})


def create_patient_checked(
    session: Session, actor: Actor, form: IdentityForm, *, confirm_not_duplicate: bool = False
) -> int:
    """Create a patient after validation and identity matching; returns the new id.

    Raises ``ValidationFailed`` (every field at once), or ``ProbableDuplicates`` unless
    ``confirm_not_duplicate``. The caller's transaction rolls back on either.
    """
    require(actor, Permission.CREATE_PATIENT)
    values = validate_identity(session, form)
    _refuse_taken_nir(session, values["ins_nir"])
    born = values["birth_date"]
    assert isinstance(born, date)
    candidates = find_probable_duplicates(
        session,
        actor,
        birth_name=str(values["birth_name"]),
        first_names=str(values["first_names"]),
        birth_date=born,
        ins_nir=str(values["ins_nir"] or ""),
    )
    if candidates and not confirm_not_duplicate:
        raise ProbableDuplicates(candidates)
    patient = Patient(
        **values,
        search_name=patient_search_name(
            str(values["birth_name"]), form.used_name, str(values["first_names"])
        ),
        created_by_user_id=actor.user_id,
    )
    session.add(patient)
    session.flush()
    assert patient.id is not None
    audit.record(
        session,
        "patient.create",
        actor=actor,
        target_type="patient",
        target_id=patient.id,
        detail={"candidates": len(candidates), "confirmed_not_duplicate": bool(candidates)},
    )
    return patient.id


def _comparable(value: object) -> object:
    return getattr(value, "value", value)


def update_identity(session: Session, actor: Actor, patient_id: int, form: IdentityForm) -> None:
    """Correct a patient's identity; the audit event names the changed fields, never their values.

    Guarded by CREATE_PATIENT: whoever may create an identity may correct one (a finer permission
    can come with the INS teleservice).
    """
    require(actor, Permission.CREATE_PATIENT)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(PATIENT_NOT_FOUND)
    values = validate_identity(session, form)
    _refuse_taken_nir(session, values["ins_nir"], exclude_id=patient_id)
    changed = sorted(
        field for field, value in values.items() if _comparable(getattr(patient, field)) != _comparable(value)
    )
    for field in changed:
        setattr(patient, field, values[field])
    patient.search_name = patient_search_name(patient.birth_name, patient.used_name, patient.first_names)
    patient.updated_at = utcnow()
    session.add(patient)
    session.flush()
    audit.record(
        session,
        "patient.update",
        actor=actor,
        target_type="patient",
        target_id=patient_id,
        detail={"fields": changed},
    )
