"""The INS identity form: every trait checked at once, French message per field.

Why one validator for creation and update: the same traits must be accepted whether a secretary
creates a patient, a coordinator corrects one or a referral brings one in; it returns the
normalised values ready to be set on a ``Patient``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from cpts_app.models.directory import Commune
from cpts_app.models.patient import IdentityStatus, Sex
from cpts_app.models.types import utcnow
from cpts_app.services.agenda.clock import paris_day
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.identifiers import normalize_email, normalize_phone
from cpts_app.services.identity.nir import nir_mismatches, validate_nir

REQUIRED = "Ce champ est obligatoire."
IMPOSSIBLE_BIRTH_DATE = "Date de naissance impossible."
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
NAME_CHARACTERS = "Seuls les lettres, espaces, tirets et apostrophes sont acceptés."
SEX_CHOICE = "Choisissez le sexe : F, M ou I (indéterminé)."
BIRTHPLACE_FORMAT = (
    "Le lieu de naissance doit être un code INSEE de 5 caractères (2A ou 2B pour la Corse, "
    "99 suivi du code du pays pour une naissance à l'étranger)."
)
UNKNOWN_STATUS = "Statut d'identité inconnu."
QUALIFIED_WITHOUT_NIR = "Une identité ne peut être qualifiée sans matricule INS récupéré."
RECOVERED_WITHOUT_NIR = "Une identité ne peut être récupérée sans matricule INS."
UNKNOWN_COMMUNE = "Cette commune n'existe pas."
_BIRTHPLACE = re.compile(r"^(?:\d{2}|2[AB])\d{3}$")
_NAME_PUNCTUATION = frozenset(" -'’")

IDENTITY_STATUS_LABELS: dict[IdentityStatus, str] = {
    IdentityStatus.PROVISIONAL: "Identité provisoire",
    IdentityStatus.RECOVERED: "Identité récupérée",
    IdentityStatus.VALIDATED: "Identité validée",
    IdentityStatus.QUALIFIED: "Identité qualifiée",
}


def identity_status_label(status: IdentityStatus | str) -> str:
    """The French label of an identity status ("Identité qualifiée"); unknown codes as they are."""
    try:
        return IDENTITY_STATUS_LABELS[IdentityStatus(status)]
    except ValueError:
        return str(status)


@dataclass
class IdentityForm:
    """A patient's identity as typed (strings and check boxes), before validation."""

    birth_name: str = ""
    first_names: str = ""
    used_name: str = ""
    birth_date: str = ""
    """YYYY-MM-DD (the HTML date input's value)."""
    sex: str = ""
    """F, M or I."""
    birthplace_insee: str = ""
    ins_nir: str = ""
    identity_status: str = "provisoire"
    phone: str = ""
    email: str = ""
    commune_id: str = ""
    address: str = ""
    ald: bool = False
    css: bool = False
    ame: bool = False
    handicap: bool = False
    without_attending_doctor: bool = False


def _name(errors: dict[str, str], field: str, raw: str, max_length: int, *, required: bool) -> str:
    value = " ".join((raw or "").split())
    if not value:
        if required:
            errors[field] = REQUIRED
    elif len(value) > max_length:
        errors[field] = f"Ce champ ne doit pas dépasser {max_length} caractères."
    elif not all(ch.isalpha() or ch in _NAME_PUNCTUATION for ch in value):
        errors[field] = NAME_CHARACTERS
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
    if born < EARLIEST_BIRTH_DATE or born > paris_day(utcnow()):
        errors["birth_date"] = IMPOSSIBLE_BIRTH_DATE
        return None
    return born


def _optional(errors: dict[str, str], field: str, raw: str, check: Callable[[str], str]) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    try:
        return check(value)
    except ValueError as exc:
        errors[field] = str(exc)
        return None


def _birthplace(value: str) -> str:
    code = "".join(value.split()).upper()
    if not _BIRTHPLACE.match(code):
        raise ValueError(BIRTHPLACE_FORMAT)
    return code


def _commune_id(session: Session, errors: dict[str, str], raw: str) -> int | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not value.isdigit() or session.get(Commune, int(value)) is None:
        errors["commune_id"] = UNKNOWN_COMMUNE
        return None
    return int(value)


def _status(errors: dict[str, str], raw: str, nir: str | None, nir_typed: bool) -> IdentityStatus:
    try:
        status = IdentityStatus((raw or "").strip() or IdentityStatus.PROVISIONAL)
    except ValueError:
        errors["identity_status"] = UNKNOWN_STATUS
        return IdentityStatus.PROVISIONAL
    # Qualifiée = validée (checked on an ID document) + récupérée (INS from the national
    # teleservice): neither récupérée nor qualifiée can exist without the retrieved matricule.
    if nir is None and not nir_typed:
        if status == IdentityStatus.QUALIFIED:
            errors["identity_status"] = QUALIFIED_WITHOUT_NIR
        elif status == IdentityStatus.RECOVERED:
            errors["identity_status"] = RECOVERED_WITHOUT_NIR
    return status


def validate_identity(session: Session, form: IdentityForm) -> dict[str, object]:
    """The normalised values of ``form`` keyed by ``Patient`` column, or ``ValidationFailed``.

    Empty optional fields become ``None`` (``address`` becomes ``""``).
    """
    errors: dict[str, str] = {}
    birth_name = _name(errors, "birth_name", form.birth_name, 100, required=True)
    first_names = _name(errors, "first_names", form.first_names, 150, required=True)
    used_name = _name(errors, "used_name", form.used_name, 100, required=False) or None
    born = _birth_date(errors, form.birth_date)
    sex = (form.sex or "").strip().upper()
    if not sex:
        errors["sex"] = REQUIRED
    elif sex not in {member.value for member in Sex}:
        errors["sex"] = SEX_CHOICE
    birthplace = _optional(errors, "birthplace_insee", form.birthplace_insee, _birthplace)
    nir = _optional(errors, "ins_nir", form.ins_nir, validate_nir)
    if nir is not None:
        mismatches = nir_mismatches(nir, sex=sex or None, birth_date=born)
        if mismatches == ["sex"]:
            errors["ins_nir"] = "Le matricule INS ne correspond pas au sexe."
        elif mismatches == ["birth_date"]:
            errors["ins_nir"] = "Le matricule INS ne correspond pas à la date de naissance."
        elif mismatches:
            errors["ins_nir"] = "Le matricule INS ne correspond ni au sexe ni à la date de naissance."
    status = _status(errors, form.identity_status, nir, bool((form.ins_nir or "").strip()))
    phone = _optional(errors, "phone", form.phone, normalize_phone)
    email = _optional(errors, "email", form.email, normalize_email)
    commune_id = _commune_id(session, errors, form.commune_id)
    address = " ".join((form.address or "").split())
    if len(address) > 300:
        errors["address"] = "Ce champ ne doit pas dépasser 300 caractères."
    if errors:
        raise ValidationFailed(errors)
    return {
        "birth_name": birth_name,
        "first_names": first_names,
        "used_name": used_name,
        "birth_date": born,
        "sex": Sex(sex),
        "birthplace_insee": birthplace,
        "ins_nir": nir,
        "identity_status": status,
        "phone": phone,
        "email": email,
        "commune_id": commune_id,
        "address": address,
        "ald": bool(form.ald),
        "css": bool(form.css),
        "ame": bool(form.ame),
        "handicap": bool(form.handicap),
        "without_attending_doctor": bool(form.without_attending_doctor),
    }
