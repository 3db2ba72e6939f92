"""Identity matching: the patients who may already be the person being created or signalled.

Why scores and reasons: the user decides, so each candidate says why it was proposed ("même
matricule INS", "même nom de naissance et date de naissance"…). Names are compared on their
accent- and case-free search keys (``identifiers.search_key``), so "Lefèvre" finds "LEFEVRE".
Only patients with the same birth date or the same matricule are read (one indexed query), which
keeps the check cheap on every creation; a typo in the birth date is left to the search page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, select

from cpts_app.models.directory import Commune
from cpts_app.models.patient import Patient
from cpts_app.services import audit
from cpts_app.services.identifiers import search_key
from cpts_app.services.identity.nir import compact_nir
from cpts_app.services.patients import display_name
from cpts_app.services.permissions import Actor, Permission, require

CERTAIN = 100
"""Same matricule INS: the same person."""
MAX_ROWS = 500
"""Guard on the patients sharing one birth date read in one check."""
SAME_NIR = "même matricule INS"
SAME_BIRTH_NAME = "même nom de naissance et date de naissance"
BIRTH_NAME_IS_USED_NAME = "nom de naissance et nom d'usage identiques, même date de naissance"
SWAPPED = "nom et prénom inversés, même date de naissance"
SIMILAR_NAME = "nom proche et même date de naissance"
SAME_FIRST_NAME = "même premier prénom"


@dataclass(frozen=True)
class DuplicateCandidate:
    """A patient who may be the same person, with the reasons shown to the user."""

    patient_id: int
    display_name: str
    birth_date: str
    """dd/mm/yyyy."""
    commune_name: str
    reasons: list[str]
    score: int
    """100 certain (same matricule); 70–90 probable; 40–60 possible."""


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance between ``a`` and ``b``, or ``limit + 1`` as soon as it exceeds ``limit``.

    Hand-written (a dozen lines) rather than a new dependency: names are short.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


def _similar(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return edit_distance(a, b) <= 2 or (len(a) >= 4 and a[:4] == b[:4])


def _name_reason(name: str, first: str, patient: Patient) -> tuple[int, str] | None:
    """How the typed birth name relates to ``patient``'s names (same birth date assumed)."""
    birth = search_key(patient.birth_name)
    used = search_key(patient.used_name or "")
    firsts = search_key(patient.first_names).split()
    if name == birth:
        return 60, SAME_BIRTH_NAME
    if used and name == used:
        return 50, BIRTH_NAME_IS_USED_NAME
    if first and firsts and name == firsts[0] and first == birth:
        return 50, SWAPPED
    if _similar(name, birth) or _similar(name, used):
        return 30, SIMILAR_NAME
    return None


def _score(
    name: str, first: str, nir: str, born: date | None, patient: Patient
) -> tuple[int, list[str]] | None:
    if nir and patient.ins_nir == nir:
        return CERTAIN, [SAME_NIR]
    if nir and patient.ins_nir:
        return None  # two different matricules: two different people
    if born is None or patient.birth_date != born:
        return None
    relation = _name_reason(name, first, patient)
    if relation is None:
        return None
    score, reason = relation
    reasons = [reason]
    firsts = search_key(patient.first_names).split()
    if reason != SWAPPED and first and first in firsts:
        score, reasons = score + 30, [reason, SAME_FIRST_NAME]
    return score, reasons


def find_probable_duplicates(
    session: Session,
    actor: Actor,
    *,
    birth_name: str,
    first_names: str,
    birth_date: date | None,
    ins_nir: str = "",
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[DuplicateCandidate]:
    """Patients who may be this person, best first; the audit event keeps counts only."""
    require(actor, Permission.READ_PATIENT)
    name = search_key(birth_name)
    first = (search_key(first_names).split() or [""])[0]
    nir = compact_nir(ins_nir)
    conditions = []
    if birth_date is not None and name:
        conditions.append(col(Patient.birth_date) == birth_date)
    if nir:
        conditions.append(col(Patient.ins_nir) == nir)
    if not conditions:
        return []
    query = (
        select(Patient, Commune.name)
        .outerjoin(Commune, col(Commune.id) == Patient.commune_id)
        .where(or_(*conditions))
        .order_by(col(Patient.id))
        .limit(MAX_ROWS)
    )
    if exclude_id is not None:
        query = query.where(col(Patient.id) != exclude_id)
    candidates: list[DuplicateCandidate] = []
    for patient, commune_name in session.exec(query).all():
        scored = _score(name, first, nir, birth_date, patient)
        if scored is None or patient.id is None:
            continue
        candidates.append(
            DuplicateCandidate(
                patient_id=patient.id,
                display_name=display_name(patient.birth_name, patient.first_names, patient.used_name),
                birth_date=f"{patient.birth_date:%d/%m/%Y}",
                commune_name=commune_name or "",
                reasons=scored[1],
                score=scored[0],
            )
        )
    candidates.sort(key=lambda c: (-c.score, c.display_name, c.patient_id))
    candidates = candidates[: max(1, limit)]
    audit.record(
        session,
        "patient.identity_match",
        actor=actor,
        target_type="patient",
        detail={"candidates": len(candidates), "certain": sum(c.score >= CERTAIN for c in candidates)},
    )
    return candidates
