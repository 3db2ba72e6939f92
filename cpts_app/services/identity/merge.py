"""Merging two records of the same person into one, for coordinators.

Why every foreign key is found in the metadata rather than listed: any table that references a
patient (appointments, waiting list, referrals today; care teams or threads tomorrow) must follow
the kept record, or the delete of the merged one would fail — or worse, orphan history. The kept
record's empty traits are filled from the merged one; its own traits and identity status win
(pick as "kept" the record with the best identity status).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, SQLModel

from cpts_app.models.patient import Patient
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import DomainError, NotFound, ValidationFailed
from cpts_app.services.identity.form import REQUIRED
from cpts_app.services.identity.records import PATIENT_NOT_FOUND, patient_search_name
from cpts_app.services.permissions import Actor, Permission, require

SAME_PATIENT = "Impossible de fusionner un patient avec lui-même."
DIFFERENT_NIRS = "Ces deux patients ont des matricules INS différents : ce sont deux personnes distinctes."
FILLABLE = (
    "used_name",
    "birthplace_insee",
    "ins_nir",
    "phone",
    "email",
    "commune_id",
    "address",
    "attending_doctor_id",
)
"""Traits copied from the merged record when the kept one has none."""
FLAGS = ("ald", "css", "ame", "handicap")
"""Coverage and situation flags: true on either record means true for the person."""


def _referencing_columns() -> list[tuple[str, object]]:
    """(table name, column) of every column with a foreign key to ``patient.id``."""
    patient_table = Patient.__table__  # type: ignore[attr-defined]
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is patient_table:
                found.append((table.name, fk.parent))
    return found


def merge_patients(session: Session, actor: Actor, *, keep_id: int, merge_id: int, reason: str) -> None:
    """Move everything of ``merge_id`` onto ``keep_id``, fill the kept traits, delete ``merge_id``.

    One transaction (the caller's); the audit event records both ids, the reason, the rows moved
    per table and the names of the traits filled.
    """
    require(actor, Permission.SEE_ALL_PATIENT_NAMES)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed({"reason": REQUIRED})
    if keep_id == merge_id:
        raise DomainError(SAME_PATIENT)
    kept = session.get(Patient, keep_id)
    merged = session.get(Patient, merge_id)
    if kept is None or merged is None:
        raise NotFound(PATIENT_NOT_FOUND)
    if kept.ins_nir and merged.ins_nir and kept.ins_nir != merged.ins_nir:
        raise DomainError(DIFFERENT_NIRS)

    filled = [field for field in FILLABLE if not getattr(kept, field) and getattr(merged, field)]
    for field in filled:
        setattr(kept, field, getattr(merged, field))
    filled += [field for field in FLAGS if getattr(merged, field) and not getattr(kept, field)]
    for field in FLAGS:
        setattr(kept, field, getattr(kept, field) or getattr(merged, field))
    kept.without_attending_doctor = kept.attending_doctor_id is None and (
        kept.without_attending_doctor or merged.without_attending_doctor
    )
    kept.search_name = patient_search_name(kept.birth_name, kept.used_name, kept.first_names)
    kept.updated_at = utcnow()
    session.add(kept)
    session.flush()

    moved: dict[str, int] = {}
    for table_name, column in _referencing_columns():
        result = session.execute(
            update(column.table).where(column == merge_id).values({column.name: keep_id})  # type: ignore[attr-defined]
        )
        if result.rowcount:
            key = table_name if table_name not in moved else f"{table_name}.{column.name}"  # type: ignore[attr-defined]
            moved[key] = result.rowcount
    session.delete(merged)
    session.flush()
    session.expire_all()  # rows moved by the bulk updates are stale in the identity map
    audit.record(
        session,
        "patient.merge",
        actor=actor,
        target_type="patient",
        target_id=keep_id,
        detail={
            "kept_id": keep_id,
            "merged_id": merge_id,
            "reason": reason,
            "moved": moved,
            "filled": filled,
        },
    )
