"""Patients the agenda books for: creation with the INS traits, search and a short reference card.

Why a reference card: pages and other services receive a frozen ``PatientRef`` of display strings,
never the ORM row, so that a patient's data leaves this module only through a permission check and
an audit event. Identity matching and statuses (INS qualification, merges) come later; the seam is
``probable_duplicates``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from cpts_app.models.directory import Commune
from cpts_app.models.patient import IdentityStatus, Patient, Sex
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import NotFound, ValidationFailed
from cpts_app.services.identifiers import format_phone, normalize_phone, search_key
from cpts_app.services.permissions import Actor, Permission, require

REQUIRED = "Ce champ est obligatoire."
PATIENT_NOT_FOUND = "Ce patient n'existe pas."
IMPOSSIBLE_BIRTH_DATE = "Date de naissance impossible."
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
_FRENCH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
MAX_SEARCH_LIMIT = 50


@dataclass
class PatientForm:
    """A patient as typed by a user (strings), before validation."""

    birth_name: str = ""
    first_names: str = ""
    birth_date: str = ""
    """YYYY-MM-DD (the HTML date input's value)."""
    sex: str = ""
    """F, M or I."""
    phone: str = ""
    commune_id: str = ""


@dataclass(frozen=True)
class PatientRef:
    id: int
    display_name: str
    """"NOM Prénoms"."""
    birth_date: str
    """dd/mm/yyyy."""
    commune_name: str
    phone: str
    """As French people read it."""


def display_name(birth_name: str, first_names: str, used_name: str | None = None) -> str:
    """ "NOM Prénoms", with the used name in brackets when it differs ("DUPONT (MARTIN) Anne")."""
    name = birth_name.upper()
    if used_name and used_name.strip() and used_name.strip().upper() != name:
        name = f"{name} ({used_name.strip().upper()})"
    return f"{name} {first_names}".strip()


def _ref(patient: Patient, commune_name: str | None) -> PatientRef:
    assert patient.id is not None
    return PatientRef(
        id=patient.id,
        display_name=display_name(patient.birth_name, patient.first_names, patient.used_name),
        birth_date=f"{patient.birth_date:%d/%m/%Y}",
        commune_name=commune_name or "",
        phone=format_phone(patient.phone),
    )


def _name(errors: dict[str, str], field: str, raw: str, max_length: int) -> str:
    value = " ".join((raw or "").split())
    if not value:
        errors[field] = REQUIRED
    elif len(value) > max_length:
        errors[field] = f"Ce champ ne doit pas dépasser {max_length} caractères."
    return value


def _birth_date(errors: dict[str, str], raw: str) -> date | None:
    value = (raw or "").strip()
    if not value:
        errors["birth_date"] = REQUIRED
        return None
    try:
        born = date.fromisoformat(value)
    except ValueError:
        errors["birth_date"] = IMPOSSIBLE_BIRTH_DATE
        return None
    if born < EARLIEST_BIRTH_DATE or born > utcnow().date():
        errors["birth_date"] = IMPOSSIBLE_BIRTH_DATE
        return None
    return born


def _commune_id(session: Session, errors: dict[str, str], raw: str) -> int | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not value.isdigit() or session.get(Commune, int(value)) is None:
        errors["commune_id"] = "Cette commune n'existe pas."
        return None
    return int(value)


def create_patient(session: Session, actor: Actor, form: PatientForm) -> int:
    """Create a patient with a provisional identity; every invalid field is reported at once."""
    require(actor, Permission.CREATE_PATIENT)
    errors: dict[str, str] = {}
    birth_name = _name(errors, "birth_name", form.birth_name, 100)
    first_names = _name(errors, "first_names", form.first_names, 150)
    born = _birth_date(errors, form.birth_date)
    sex = (form.sex or "").strip().upper()
    if sex not in {member.value for member in Sex}:
        errors["sex"] = "Choisissez le sexe : F, M ou I (indéterminé)."
    phone: str | None = None
    if (form.phone or "").strip():
        try:
            phone = normalize_phone(form.phone)
        except ValueError as exc:
            errors["phone"] = str(exc)
    commune_id = _commune_id(session, errors, form.commune_id)
    if errors or born is None:
        raise ValidationFailed(errors)
    patient = Patient(
        birth_name=birth_name,
        first_names=first_names,
        birth_date=born,
        sex=Sex(sex),
        phone=phone,
        commune_id=commune_id,
        search_name=search_key(f"{birth_name} {first_names}"),
        identity_status=IdentityStatus.PROVISIONAL,
        created_by_user_id=actor.user_id,
    )
    session.add(patient)
    session.flush()
    assert patient.id is not None
    audit.record(session, "patient.create", actor=actor, target_type="patient", target_id=patient.id)
    return patient.id


def probable_duplicates(session: Session, form: PatientForm) -> list[int]:
    """Patients with the same birth date and the same accent-free birth name and first first name.

    The seam for identity matching (a later issue replaces it with INS trait scoring); callers must
    have checked READ_PATIENT and audit what they show.
    """
    try:
        born = date.fromisoformat((form.birth_date or "").strip())
    except ValueError:
        return []
    name = search_key(form.birth_name)
    first = (search_key(form.first_names).split() or [""])[0]
    if not name:
        return []
    rows = session.exec(
        select(Patient.id, Patient.search_name).where(
            col(Patient.birth_date) == born, col(Patient.search_name).startswith(name, autoescape=True)
        )
    ).all()
    return sorted(pid for pid, key in rows if pid is not None and first in key.split())


def _parse_date(word: str) -> date | None:
    match = _FRENCH_DATE.match(word)
    if not match:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def search_patients(session: Session, actor: Actor, text: str, limit: int = 10) -> list[PatientRef]:
    """Patients whose accent-free name holds every word typed (and born on a dd/mm/yyyy typed).

    The audit event keeps the number of words and of results, never the text (it may be a name).
    """
    require(actor, Permission.READ_PATIENT)
    conditions: list[Any] = []
    words: list[str] = []
    for raw in (text or "").split():
        born = _parse_date(raw)
        if born is not None:
            conditions.append(col(Patient.birth_date) == born)
        else:
            words.extend(search_key(raw).split())
    conditions.extend(col(Patient.search_name).contains(word, autoescape=True) for word in words)
    if not conditions:
        return []
    rows = session.exec(
        select(Patient, Commune.name)
        .outerjoin(Commune, col(Commune.id) == Patient.commune_id)
        .where(*conditions)
        .order_by(col(Patient.search_name), col(Patient.birth_date), col(Patient.id))
        .limit(max(1, min(limit, MAX_SEARCH_LIMIT)))
    ).all()
    refs = [_ref(patient, commune_name) for patient, commune_name in rows]
    audit.record(
        session,
        "patient.search",
        actor=actor,
        target_type="patient",
        detail={"terms": len(conditions), "results": len(refs)},
    )
    return refs


def get_patient_ref(session: Session, actor: Actor, patient_id: int) -> PatientRef:
    """The reference card of one patient (read audited)."""
    require(actor, Permission.READ_PATIENT)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(PATIENT_NOT_FOUND)
    commune = session.get(Commune, patient.commune_id) if patient.commune_id is not None else None
    audit.record(session, "patient.read", actor=actor, target_type="patient", target_id=patient_id)
    return _ref(patient, commune.name if commune else None)
