"""Reviewing the values that lost a field-level merge between laptops and the server.

Why a coordinator decides: when the same field of a record was changed on a laptop and elsewhere,
the merge keeps the later change by hybrid logical clock and seals the other one in a
``SyncConflict`` row. Nothing is dropped silently: a coordinator either keeps the merged value
(« Garder ») or writes the other one back (« Rétablir l'autre valeur »). Restoring is an ordinary
server-side change of the record — next number of the change feed, version + 1, the server's own
clock — so every laptop of the record's scope receives it at its next pull.

Listing opens sealed values and patient names: each listing is audited, like every resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpts_app.models.access import User
from cpts_app.models.sync import SyncConflict, SyncDevice, SyncRecord
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.agenda.clock import PARIS, moment_label
from cpts_app.services.crypto import CryptoError
from cpts_app.services.errors import DomainError, NotFound
from cpts_app.services.permissions import Actor, Permission, require
from cpts_app.services.sync import records
from mobile_sync.merge import DELETION, POLICIES, IncomingChange, merge
from mobile_sync.schema import SchemaError, check_fields

MAX_LIMIT = 200
SHORT_TEXT = 80
SHOWN_ENTRIES = 3

CONFLICT_NOT_FOUND = "Ce conflit de synchronisation n'existe pas."
ALREADY_RESOLVED = "Ce conflit a déjà été arbitré."
DELETION_NOT_RESTORABLE = (
    "Une suppression refusée ne se rétablit pas ici : la fiche a été gardée, "
    "supprimez-la depuis un portable si nécessaire."
)
RECORD_DELETED = "L'enregistrement a été supprimé depuis : l'autre valeur ne peut plus être rétablie."
SET_ONCE = "Valeur fixée à la création : l'autre valeur ne peut pas être rétablie."
UNREADABLE = "(illisible)"
NOT_RESTORABLE = "L'autre valeur ne peut pas être rétablie : "

TABLE_LABELS = {
    "patient": "Patient",
    "consultation": "Consultation",
    "slot_booking": "Réservation de créneau",
    "appointment": "Créneau",
}

FIELD_LABELS: dict[str, dict[str, str]] = {
    "patient": {
        "nom": "Nom",
        "prenoms": "Prénoms",
        "date_naissance": "Date de naissance",
        "sexe": "Sexe",
        "telephone": "Téléphone",
        "commune_insee": "Commune (code INSEE)",
        "adresse": "Adresse",
        "sans_medecin_traitant": "Sans médecin traitant",
        "observations": "Observations",
    },
    "consultation": {
        "patient": "Patient",
        "date": "Date",
        "professionnel": "Professionnel",
        "motif": "Motif",
        "notes": "Notes",
    },
    "slot_booking": {"creneau": "Créneau", "patient": "Patient", "motif": "Motif"},
    "appointment": {
        "debut": "Début",
        "fin": "Fin",
        "commune": "Commune",
        "lieu": "Lieu",
        "statut": "Statut",
        "patient": "Patient",
        "professionnel": "Professionnel",
    },
}
DELETION_LABEL = "Suppression de la fiche"
SEX_LABELS = {"F": "Féminin", "M": "Masculin", "I": "Indéterminé"}
STATUS_LABELS = {"libre": "Libre", "reserve": "Réservé", "bloque": "Bloqué", "annule": "Annulé"}
RESOLUTION_LABELS = {"": "à arbitrer", "kept": "valeur gardée", "restored": "autre valeur rétablie"}
ENTRY_NOUNS = {"notes": ("note", "notes"), "observations": ("observation", "observations")}


@dataclass(frozen=True)
class ConflictView:
    """One conflict as a coordinator reads it: French labels and short texts only."""

    id: int
    table: str
    table_label: str
    record_id: str
    concerns: str
    """« NOM Prénoms » of the patient the record is about (« — » when unknown)."""
    field: str
    field_label: str
    kept: str
    discarded: str
    reason: str
    device_label: str
    created_at: datetime
    """Europe/Paris."""
    created_label: str
    resolution: str
    """``""`` (open), ``kept`` or ``restored``."""
    resolution_label: str
    resolved_at: datetime | None
    resolved_by: str
    can_restore: bool
    """False for a refused deletion, a set-once field or a record deleted since."""


@dataclass(frozen=True)
class Resolution:
    conflict_id: int
    resolution: str
    version: int | None
    """The record's version after a restore (None when kept or already holding the value)."""


# --- rendering --------------------------------------------------------------------------------


def _short(text: str, limit: int = SHORT_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date_label(text: str) -> str | None:
    try:
        if len(text) == 10:
            return f"{date.fromisoformat(text):%d/%m/%Y}"
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(PARIS)
    return f"{moment:%d/%m/%Y %H:%M}"


def _entries_label(field: str, value: list[Any]) -> str:
    one, many = ENTRY_NOUNS.get(field, ("entrée", "entrées"))
    if not value:
        return f"aucune {one}"
    texts = [
        f"« {_short(str(item.get('texte', '')), 60)} »"
        for item in value[:SHOWN_ENTRIES]
        if isinstance(item, dict)
    ]
    more = f" (+{len(value) - SHOWN_ENTRIES})" if len(value) > SHOWN_ENTRIES else ""
    return f"{len(value)} {one if len(value) == 1 else many} : " + " ; ".join(texts) + more


def render_value(field: str, value: Any) -> str:
    """A stored field value as short French text."""
    if value is None:
        return "(supprimé)"
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, list):
        return _entries_label(field, value)
    if isinstance(value, dict):
        return f"Fiche conservée ({len(value)} champ{'s' if len(value) > 1 else ''})"
    if isinstance(value, int | float):
        return str(value).replace(".", ",")
    text = str(value)
    if field == "sexe" and text in SEX_LABELS:
        return SEX_LABELS[text]
    if field == "statut" and text in STATUS_LABELS:
        return STATUS_LABELS[text]
    if field in ("date_naissance", "date", "debut", "fin"):
        label = _date_label(text)
        if label is not None:
            return label
    return _short(text) if text.strip() else "(vide)"


def field_label(tbl: str, field: str) -> str:
    if field == DELETION:
        return DELETION_LABEL
    return FIELD_LABELS.get(tbl, {}).get(field, field)


def _person(values: dict[str, Any]) -> str:
    nom = str(values.get("nom") or "").strip().upper()
    prenoms = str(values.get("prenoms") or "").strip()
    return " ".join(part for part in (nom, prenoms) if part) or "—"


# --- reading ----------------------------------------------------------------------------------


class _Records:
    """The records a page of conflicts refers to, opened once each."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._rows: dict[tuple[str, str], SyncRecord | None] = {}
        self._values: dict[tuple[str, str], dict[str, Any] | None] = {}

    def load(self, keys: set[tuple[str, str]]) -> None:
        wanted = keys - set(self._rows)
        for tbl in {t for t, _ in wanted}:
            ids = [rid for t, rid in wanted if t == tbl]
            found = self._session.exec(
                select(SyncRecord).where(SyncRecord.tbl == tbl, col(SyncRecord.record_id).in_(ids))
            ).all()
            by_id = {row.record_id: row for row in found}
            for rid in ids:
                self._rows[(tbl, rid)] = by_id.get(rid)

    def row(self, tbl: str, rid: str) -> SyncRecord | None:
        if (tbl, rid) not in self._rows:
            self.load({(tbl, rid)})
        return self._rows[(tbl, rid)]

    def values(self, tbl: str, rid: str) -> dict[str, Any] | None:
        """The record's current values (None: unknown, deleted or unreadable)."""
        if (tbl, rid) not in self._values:
            row = self.row(tbl, rid)
            values = None
            if row is not None and not row.deleted:
                try:
                    values = records.open_state(row).values()
                except (CryptoError, ValueError):
                    values = None
            self._values[(tbl, rid)] = values
        return self._values[(tbl, rid)]

    def concerns(self, tbl: str, rid: str, kept: Any) -> str:
        if tbl == "patient":
            values = self.values(tbl, rid)
            if values is None and isinstance(kept, dict):
                values = kept  # a refused deletion: the record as it was kept
            if values is None:
                row = self.row(tbl, rid)
                return "(fiche supprimée)" if row is not None and row.deleted else "—"
            return _person(values)
        values = self.values(tbl, rid) or (kept if isinstance(kept, dict) else {})
        patient_id = values.get("patient")
        if not isinstance(patient_id, str) or not patient_id:
            return "—"
        patient = self.values("patient", patient_id)
        return _person(patient) if patient is not None else "—"


def _open(row: SyncConflict) -> dict[str, Any] | None:
    try:
        return records.open_conflict(row)
    except (CryptoError, ValueError):
        return None


def _restorable(row: SyncConflict, stored: SyncRecord | None) -> bool:
    policy = POLICIES.get(row.tbl)
    return (
        row.field != DELETION
        and policy is not None
        and row.field not in policy.set_once_fields
        and stored is not None
        and not stored.deleted
    )


def list_conflicts(
    session: Session, actor: Actor, *, open_only: bool = True, offset: int = 0, limit: int = 50
) -> list[ConflictView]:
    """Conflicts, newest first (open ones only by default); one audit event per listing."""
    require(actor, Permission.REVIEW_SYNC_CONFLICTS)
    offset = max(0, int(offset))
    limit = max(1, min(int(limit), MAX_LIMIT))
    query = select(SyncConflict)
    if open_only:
        query = query.where(col(SyncConflict.resolved_at).is_(None))
    rows = session.exec(
        query.order_by(col(SyncConflict.created_at).desc(), col(SyncConflict.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    store = _Records(session)
    store.load({(r.tbl, r.record_id) for r in rows})
    device_ids = {r.device_id for r in rows if r.device_id}
    labels = (
        dict(
            session.exec(
                select(SyncDevice.device_id, SyncDevice.label).where(
                    col(SyncDevice.device_id).in_(device_ids)
                )
            ).all()
        )
        if device_ids
        else {}
    )
    user_ids = {r.resolved_by_user_id for r in rows if r.resolved_by_user_id}
    names = (
        dict(session.exec(select(User.id, User.display_name).where(col(User.id).in_(user_ids))).all())
        if user_ids
        else {}
    )
    views: list[ConflictView] = []
    for row in rows:
        assert row.id is not None
        body = _open(row)
        kept = body.get("kept") if body else None
        created = row.created_at.astimezone(PARIS)
        views.append(
            ConflictView(
                id=row.id,
                table=row.tbl,
                table_label=TABLE_LABELS.get(row.tbl, row.tbl),
                record_id=row.record_id,
                concerns=store.concerns(row.tbl, row.record_id, kept),
                field=row.field,
                field_label=field_label(row.tbl, row.field),
                kept=render_value(row.field, kept) if body else UNREADABLE,
                discarded=render_value(row.field, body.get("discarded")) if body else UNREADABLE,
                reason=row.reason,
                device_label=labels.get(row.device_id or "", row.device_id or "Serveur"),
                created_at=created,
                created_label=moment_label(created),
                resolution=row.resolution,
                resolution_label=RESOLUTION_LABELS.get(row.resolution, row.resolution),
                resolved_at=row.resolved_at.astimezone(PARIS) if row.resolved_at else None,
                resolved_by=names.get(row.resolved_by_user_id or 0, ""),
                can_restore=body is not None and _restorable(row, store.row(row.tbl, row.record_id)),
            )
        )
    audit.record(
        session,
        "sync.conflicts.listed",
        actor=actor,
        target_type="sync_conflict",
        detail={"open_only": open_only, "offset": offset, "shown": len(views)},
    )
    return views


def count_open(session: Session, actor: Actor) -> int:
    """How many conflicts wait for a decision (a count: no patient data, not audited)."""
    require(actor, Permission.REVIEW_SYNC_CONFLICTS)
    return session.exec(
        select(func.count()).select_from(SyncConflict).where(col(SyncConflict.resolved_at).is_(None))
    ).one()


# --- deciding ---------------------------------------------------------------------------------


def resolve(session: Session, actor: Actor, conflict_id: int, *, restore: bool) -> Resolution:
    """Keep the merged value, or write the discarded one back as a new server-side change."""
    require(actor, Permission.REVIEW_SYNC_CONFLICTS)
    # The feed's lock first: it serialises this decision with laptops' pushes and other reviewers.
    counter = records.lock_counter(session)
    conflict = session.get(SyncConflict, conflict_id) if isinstance(conflict_id, int) else None
    if conflict is None:
        raise NotFound(CONFLICT_NOT_FOUND)
    if conflict.resolved_at is not None:
        raise DomainError(ALREADY_RESOLVED)
    version = None
    if restore:
        version = _restore(session, counter, conflict)
    conflict.resolved_at = utcnow()
    conflict.resolved_by_user_id = actor.user_id
    conflict.resolution = "restored" if restore else "kept"
    session.add(conflict)
    audit.record(
        session,
        f"sync.conflict.{conflict.resolution}",
        actor=actor,
        target_type="sync_conflict",
        target_id=conflict.id,
        detail={
            "tbl": conflict.tbl,
            "record_id": conflict.record_id,
            "field": conflict.field,
            "version": version,
        },
    )
    return Resolution(conflict_id=conflict_id, resolution=conflict.resolution, version=version)


def _restore(session: Session, counter, conflict: SyncConflict) -> int | None:  # type: ignore[no-untyped-def]
    """Write the discarded value back; the record's new version (None: it already held it)."""
    tbl, rid, name = conflict.tbl, conflict.record_id, conflict.field
    if name == DELETION:
        raise DomainError(DELETION_NOT_RESTORABLE)
    policy = POLICIES.get(tbl)
    if policy is None:
        raise DomainError(NOT_RESTORABLE + "table inconnue.")
    if name in policy.set_once_fields:
        raise DomainError(SET_ONCE)
    row = records.find(session, tbl, rid)
    if row is None or row.deleted:
        raise DomainError(RECORD_DELETED)
    body = _open(conflict)
    if body is None:
        raise DomainError(NOT_RESTORABLE + "valeur illisible.")
    discarded = body.get("discarded")
    try:
        check_fields(tbl, {name: discarded}, creating=False)
    except SchemaError as error:
        raise DomainError(NOT_RESTORABLE + error.message) from error
    current = records.open_state(row)
    change = IncomingChange(
        base_version=current.version,
        fields={name: discarded},
        hlc=records.server_stamp(counter).encode(),
        origin=records.SERVER_NODE,
    )
    result = merge(current, change, policy)
    if result.status == "rejected" or result.conflicts:
        raise DomainError(NOT_RESTORABLE + (result.reason or "la fusion l'a refusée."))
    session.add(counter)
    if not result.changed:
        return None
    records.store_state(
        session,
        counter,
        tbl,
        rid,
        result.state,
        row=row,
        scope=records.Scope(row.tour_id, row.structure_id),
    )
    return result.state.version
