"""What the médicobus team works on offline: patients, consultations, the tour's agenda.

Why a domain layer between the Reflex pages and ``LocalStore``: the pages stay thin (no store, no
cipher, no schema in a state), and the rules — validation by ``schema``, append-only clinical
entries, field-level edits (only the fields that changed go to the outbox, so a stale value never
overwrites a newer one at the merge), one local booking per slot — are tested without Reflex.

The store is opened, used and closed in one worker thread (``store_thread.py``); async callers
await ``FieldWorkspace.call``. Pages reach a workspace by token (``workspace_registry.py``).
"""

from __future__ import annotations

import concurrent.futures
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from mobile_sync import field
from mobile_sync import sync as engine
from mobile_sync.client import SyncClient, SyncRefused
from mobile_sync.field_format import (
    PARIS,
    EmptyEntry,
    clean_text,
    entry,
    fold,
    slot_day,
    slot_hours,
)
from mobile_sync.schema import SchemaError, check_fields
from mobile_sync.store import LocalStore
from mobile_sync.store_thread import StoreThread, ThreadStopped

BOOKED_OFFLINE = "réservé (hors ligne)"
SLOT_LABELS = {"libre": "libre", "reserve": "réservé", "bloque": "bloqué", "annule": "annulé"}
IDENTITY_FIELDS = (
    "nom",
    "prenoms",
    "date_naissance",
    "sexe",
    "telephone",
    "commune_insee",
    "adresse",
    "sans_medecin_traitant",
)
OPTIONAL_TEXT = frozenset({"telephone", "commune_insee", "adresse"})

P = ParamSpec("P")
R = TypeVar("R")


class WorkspaceError(Exception):
    """A refusal for the screen; ``message`` is French."""

    default_message = "Action impossible sur ce portable."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class WorkspaceLocked(WorkspaceError):
    default_message = "Portable verrouillé : saisissez la phrase de passe."


class NotFound(WorkspaceError):
    default_message = "Enregistrement introuvable sur ce portable."


@dataclass(frozen=True)
class WorkspaceStatus:
    label: str
    device_id: str
    server_url: str
    pending: int
    last_sync_ms: int
    lease_days: int
    lease_ends_ms: int
    sync_only: bool
    """The lease is over: only synchronisation is allowed until it succeeds."""


def _on_store(*, data: bool = True) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the method in the store's thread, refused once locked (and, for data, in sync-only mode)."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            self = args[0]
            assert isinstance(self, FieldWorkspace)

            def guarded() -> R:
                self._check_open(data=data)
                return method(*args, **kwargs)

            try:
                return self._thread.run(guarded)
            except ThreadStopped:
                raise WorkspaceLocked() from None

        return wrapper

    return decorate


class FieldWorkspace:
    """The unlocked laptop. Build with ``FieldWorkspace.open``; every method is thread-safe."""

    def __init__(self, folder: Path, thread: StoreThread, store: LocalStore, *, sync_only: bool) -> None:
        self.folder = folder
        self._thread = thread
        self._store: LocalStore | None = store
        self.sync_only = sync_only
        self.revoked = False
        self.syncing = False
        """True while the sync engine holds the store's thread (callers may skip cheap reads)."""
        self._on_close: Callable[[FieldWorkspace], None] | None = None
        self._lease_message = ""
        self.server_url = thread.run(lambda: self._meta("server_url"))

    @classmethod
    def open(cls, folder: Path, passphrase: str, *, sync_only: bool = False) -> FieldWorkspace:
        """``field.unlock`` in the new worker thread: wrong passphrase, corruption, lease over raise."""
        thread = StoreThread()
        try:
            store = thread.run(functools.partial(field.unlock, folder, passphrase, for_sync=sync_only))
        except BaseException:
            thread.shutdown()
            raise
        workspace = cls(folder, thread, store, sync_only=sync_only)
        if sync_only:
            workspace._lease_message = (
                "Délai hors ligne dépassé : synchronisez ce portable pour rouvrir les dossiers."
            )
        return workspace

    # --- plumbing --------------------------------------------------------------------------------

    def _entry(self, texte: Any, auteur: Any) -> dict[str, str]:
        try:
            return entry(texte, auteur, self._hlc())
        except EmptyEntry as empty:
            raise WorkspaceError(str(empty)) from None

    @property
    def closed(self) -> bool:
        return self._store is None

    def _check_open(self, *, data: bool) -> None:
        if self._store is None:
            raise WorkspaceLocked()
        if data and self.sync_only:
            raise field.LeaseExpired(self._lease_message)

    @property
    def _db(self) -> LocalStore:
        if self._store is None:
            raise WorkspaceLocked()
        return self._store

    def call(self, fn: Callable[..., R], *args: Any) -> concurrent.futures.Future[R]:
        """For async callers: ``await asyncio.wrap_future(ws.call(ws.patients, "dupont"))``."""
        try:
            return self._thread.submit(fn, *args)
        except ThreadStopped:
            raise WorkspaceLocked() from None

    def verify(self, passphrase: str) -> None:
        """Check a passphrase (and the lease, unless sync-only) without a second open workspace."""

        def check() -> None:
            field.unlock(self.folder, passphrase, for_sync=self.sync_only).close()

        self._thread.run(check)

    def close(self) -> None:
        """Close the store in its thread (the key leaves memory), then stop the thread."""

        def shut() -> None:
            if self._store is not None:
                self._store.close()
            self._store = None

        try:
            self._thread.run(shut)
        finally:
            self._thread.shutdown()
            if self._on_close is not None:
                self._on_close(self)

    def _meta(self, key: str) -> str:
        value = self._db.get_meta(key, secret=False)
        return value.decode() if value else ""

    def _secret_int(self, key: str) -> int:
        value = self._db.get_meta(key, secret=True)
        return int(value.decode()) if value else 0

    def _hlc(self) -> str:
        """Next HLC stamp, remembered before the write so no later clock can issue a lower one."""
        clock = field.clock_for(self._db)
        stamp = clock.now().encode()
        field.remember_clock(self._db, clock)
        return stamp

    def _write(self, table: str, rid: str, fields: dict[str, Any], *, creating: bool) -> None:
        check_fields(table, fields, creating=creating)
        self._db.write(table, rid, fields, self._hlc())

    def _require(self, table: str, rid: Any) -> dict[str, Any]:
        record = self._db.read(table, rid) if isinstance(rid, str) and rid else None
        if record is None:
            raise NotFound()
        return record

    # --- status ----------------------------------------------------------------------------------

    @_on_store(data=False)
    def status(self) -> WorkspaceStatus:
        lease_days = int(self._meta("lease_days") or 0)
        last_sync = self._secret_int("last_sync_ms")
        return WorkspaceStatus(
            label=self._meta("label"),
            device_id=self._meta("device_id"),
            server_url=self._meta("server_url"),
            pending=self._db.pending_count(),
            last_sync_ms=last_sync,
            lease_days=lease_days,
            lease_ends_ms=last_sync + lease_days * field.DAY_MS,
            sync_only=self.sync_only,
        )

    @_on_store(data=False)
    def pending_count(self) -> int:
        return self._db.pending_count()

    # --- patients --------------------------------------------------------------------------------

    @_on_store()
    def patients(self, search: str = "") -> list[dict[str, str]]:
        """Small rows sorted by name; every word of ``search`` must match nom or prénoms."""
        words = fold(str(search or "")[:100]).split()
        rows = []
        for rid in self._db.record_ids("patient"):
            record = self._db.read("patient", rid) or {}
            nom, prenoms = str(record.get("nom", "")), str(record.get("prenoms", ""))
            haystack = fold(f"{nom} {prenoms}")
            if all(word in haystack for word in words):
                rows.append(
                    {
                        "rid": rid,
                        "nom": nom,
                        "prenoms": prenoms,
                        "date_naissance": str(record.get("date_naissance", "")),
                        "commune_insee": str(record.get("commune_insee") or ""),
                    }
                )
        rows.sort(key=lambda r: (fold(r["nom"]), fold(r["prenoms"]), r["rid"]))
        return rows

    @_on_store()
    def patient(self, rid: str) -> dict[str, Any] | None:
        record = self._db.read("patient", rid) if isinstance(rid, str) and rid else None
        if record is None:
            return None
        record["observations"] = sorted(record.get("observations") or [], key=lambda e: e.get("hlc", ""))
        return record

    @staticmethod
    def _identity(fields: dict[str, Any]) -> dict[str, Any]:
        """Form values → schema values: trimmed text, empty optional text → None, known names only."""
        unknown = sorted(set(fields) - set(IDENTITY_FIELDS))
        if unknown:
            raise SchemaError(f"Champ inconnu pour cette table : « {unknown[0]} ».")
        clean: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "sans_medecin_traitant":
                clean[name] = (
                    value if isinstance(value, bool) else str(value).lower() in {"on", "true", "oui"}
                )
            elif isinstance(value, str):
                text = " ".join(value.split())
                clean[name] = None if (name in OPTIONAL_TEXT and not text) else text
            else:
                clean[name] = value
        if isinstance(clean.get("nom"), str):
            clean["nom"] = clean["nom"].upper()
        return clean

    @_on_store()
    def save_patient(self, rid: str | None, fields: dict[str, Any]) -> str:
        """Create (``rid`` None) or edit; an edit writes only the fields whose value changed."""
        values = self._identity(fields)
        if rid is None:
            rid = uuid.uuid4().hex
            values = {k: v for k, v in values.items() if v is not None}
            values.setdefault("sans_medecin_traitant", False)
            values["observations"] = []
            self._write("patient", rid, values, creating=True)
            return rid
        current = self._require("patient", rid)
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        if changed:
            self._write("patient", rid, changed, creating=False)
        return rid

    @_on_store()
    def add_observation(self, rid: str, texte: str, auteur: str) -> str:
        """Append-only: the whole list is written, with the new entry last."""
        current = self._require("patient", rid)
        new_entry = self._entry(texte, auteur)
        self._write(
            "patient",
            rid,
            {"observations": [*(current.get("observations") or []), new_entry]},
            creating=False,
        )
        return new_entry["id"]

    # --- consultations ---------------------------------------------------------------------------

    @_on_store()
    def consultations(self, patient_rid: str) -> list[dict[str, Any]]:
        """The patient's consultations, newest first, each with its notes in order."""
        found = []
        for rid in self._db.record_ids("consultation"):
            record = self._db.read("consultation", rid) or {}
            if record.get("patient") == patient_rid:
                notes = sorted(record.get("notes") or [], key=lambda e: e.get("hlc", ""))
                found.append({**record, "rid": rid, "notes": notes})
        found.sort(key=lambda c: str(c.get("date", "")), reverse=True)
        return found

    @_on_store()
    def start_consultation(self, patient_rid: str, professionnel: str, motif: str) -> str:
        self._require("patient", patient_rid)
        rid = uuid.uuid4().hex
        fields: dict[str, Any] = {
            "patient": patient_rid,
            "date": datetime.now(PARIS).isoformat(timespec="seconds"),
            "professionnel": clean_text(professionnel, 200),
            "notes": [],
        }
        if clean_text(motif, 500):
            fields["motif"] = clean_text(motif, 500)
        self._write("consultation", rid, fields, creating=True)
        return rid

    @_on_store()
    def add_note(self, consultation_rid: str, texte: str, auteur: str) -> str:
        """Append-only: notes are never edited nor deleted."""
        current = self._require("consultation", consultation_rid)
        new_entry = self._entry(texte, auteur)
        self._write(
            "consultation",
            consultation_rid,
            {"notes": [*(current.get("notes") or []), new_entry]},
            creating=False,
        )
        return new_entry["id"]

    # --- agenda ----------------------------------------------------------------------------------

    def _bookings(self) -> dict[str, dict[str, Any]]:
        """Local slot bookings by slot id (the first one made wins)."""
        found: dict[str, dict[str, Any]] = {}
        for rid in self._db.record_ids("slot_booking"):
            record = self._db.read("slot_booking", rid) or {}
            slot = record.get("creneau")
            if isinstance(slot, str):
                found.setdefault(slot, {**record, "rid": rid})
        return found

    @_on_store()
    def agenda_days(self) -> list[str]:
        days = {
            slot_day(str((self._db.read("appointment", rid) or {}).get("debut", "")))
            for rid in self._db.record_ids("appointment")
        }
        return sorted(d for d in days if d)

    @_on_store()
    def agenda(self, day: str | None = None) -> list[dict[str, str]]:
        """The tour's slots of ``day`` (ISO date, all days when None), with local bookings shown."""
        bookings = self._bookings()
        names: dict[str, str] = {}
        rows = []
        for rid in self._db.record_ids("appointment"):
            slot = self._db.read("appointment", rid) or {}
            debut, fin = str(slot.get("debut", "")), str(slot.get("fin", ""))
            if day and slot_day(debut) != day:
                continue
            status = str(slot.get("statut", ""))
            booking = bookings.get(rid)
            who = ""
            if booking is not None:
                patient_rid = str(booking.get("patient", ""))
                if patient_rid not in names:
                    person = self._db.read("patient", patient_rid) or {}
                    names[patient_rid] = f"{person.get('nom', '')} {person.get('prenoms', '')}".strip()
                who = names[patient_rid]
            label = (
                BOOKED_OFFLINE
                if booking is not None and status == "libre"
                else SLOT_LABELS.get(status, status)
            )
            rows.append(
                {
                    "rid": rid,
                    "day": slot_day(debut),
                    "debut": debut,
                    "heures": slot_hours(debut, fin),
                    "commune": str(slot.get("commune") or ""),
                    "lieu": str(slot.get("lieu") or ""),
                    "professionnel": str(slot.get("professionnel") or ""),
                    "statut": label,
                    "libre": "oui" if status == "libre" and booking is None else "",
                    "patient": who,
                }
            )
        rows.sort(key=lambda r: (r["debut"], r["rid"]))
        return rows

    @_on_store()
    def book_slot(self, slot_rid: str, patient_rid: str, motif: str = "") -> str:
        """Request a slot for a patient; the server books it at the next sync (or rejects it)."""
        slot = self._db.read("appointment", slot_rid) if isinstance(slot_rid, str) and slot_rid else None
        if slot is None:
            raise NotFound("Créneau introuvable sur ce portable.")
        if slot.get("statut") != "libre":
            raise WorkspaceError("Ce créneau n'est pas libre.")
        if slot_rid in self._bookings():
            raise WorkspaceError(
                "Ce créneau est déjà réservé sur ce portable (en attente de synchronisation)."
            )
        self._require("patient", patient_rid)
        rid = uuid.uuid4().hex
        fields: dict[str, Any] = {"creneau": slot_rid, "patient": patient_rid}
        if clean_text(motif, 500):
            fields["motif"] = clean_text(motif, 500)
        self._write("slot_booking", rid, fields, creating=True)
        return rid

    # --- synchronisation -------------------------------------------------------------------------

    @_on_store(data=False)
    def synchronise(self, progress: Callable[[Any], None] | None = None) -> Any:
        """Run the sync engine on the store; a revoked laptop is erased and this workspace closed."""
        client = SyncClient.connect(self.server_url)
        self.syncing = True
        try:
            report = engine.synchronise(self._db, client, progress=progress)
        except SyncRefused as refused:
            if refused.revoked:
                self._revoke()
            raise
        finally:
            self.syncing = False
            client.close()
        if getattr(report, "revoked", False):
            self._revoke()
            return report
        if self.sync_only:
            now = field.now_ms()
            lease_days = int(self._meta("lease_days") or 0)
            self.sync_only = now > self._secret_int("last_sync_ms") + lease_days * field.DAY_MS
        return report

    def _revoke(self) -> None:
        """In the store thread: close, erase what is left, and let the registry drop the tokens."""
        self.revoked = True  # the registry finishes closing at the next ``get`` (never from this thread)
        if self._store is not None:
            self._store.close()
        self._store = None
        field.wipe(self.folder)

    @_on_store(data=False)
    def rejections(self) -> list[dict[str, Any]]:
        return list(engine.rejections(self._db))

    @_on_store(data=False)
    def dismiss_rejection(self, op_id: str) -> None:
        """« C'est noté » under « À reprogrammer »: the notice leaves the list."""
        engine.dismiss_rejection(self._db, op_id)

    @_on_store(data=False)
    def conflicts(self) -> list[dict[str, Any]]:
        return list(engine.conflicts(self._db))
