"""/terrain/patients and /terrain/patients/<id> — the patients held on the laptop.

Why the lists are cleared on leaving a page: state is kept in memory only, but patient data stay
in a var no longer than the screen that shows them (REFLEX_NOTES).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from cpts_app.state.field import FieldState, hlc_label, iso_label, on_store
from mobile_sync.schema import SchemaError
from mobile_sync.workspace import IDENTITY_FIELDS, NotFound, WorkspaceError

PATIENTS_PAGE = "/terrain/patients"


@dataclasses.dataclass
class ConsultationView:
    rid: str = ""
    date: str = ""
    professionnel: str = ""
    motif: str = ""
    notes: list[dict[str, str]] = dataclasses.field(default_factory=list)


def _identity_form(form_data: Any) -> dict[str, Any]:
    """Only the identity fields, as text (the checkbox as a boolean)."""
    data = form_data if isinstance(form_data, dict) else {}
    values: dict[str, Any] = {name: str(data.get(name) or "")[:300] for name in IDENTITY_FIELDS}
    values["sans_medecin_traitant"] = str(data.get("sans_medecin_traitant") or "").lower() in {"on", "true"}
    return values


def _blank_identity() -> dict[str, str]:
    return dict.fromkeys(IDENTITY_FIELDS, "") | {"sexe": "F", "sans_medecin_traitant": ""}


def _as_form(record: dict[str, Any]) -> dict[str, str]:
    values = {name: str(record.get(name) or "") for name in IDENTITY_FIELDS}
    values["sans_medecin_traitant"] = "on" if record.get("sans_medecin_traitant") else ""
    return values


class FieldPatientsState(FieldState):
    """The list (search accent-insensitive) and the creation form."""

    rows: list[dict[str, str]] = []
    search: str = ""
    create_error: str = ""
    create_key: int = 0

    @rx.event
    async def load(self):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        await self._show_status(ws)
        await self._list(ws)
        return None

    async def _list(self, ws) -> None:  # type: ignore[no-untyped-def]
        self.rows = await on_store(ws, ws.patients, self.search)

    @rx.event
    async def set_search(self, value: str):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        self.search = str(value or "")[:100]
        await self._list(ws)
        return None

    @rx.event
    async def create(self, form_data: dict[str, Any]):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        try:
            rid = await on_store(ws, ws.save_patient, None, _identity_form(form_data))
        except (SchemaError, WorkspaceError) as error:
            self.create_error = error.message
            return None
        self.create_error = ""
        self.create_key += 1
        await self._show_status(ws)
        return rx.redirect(f"{PATIENTS_PAGE}/{rid}")

    @rx.event
    def forget(self):
        self.rows, self.search, self.create_error = [], "", ""


class FieldPatientState(FieldState):
    """One patient: identity (editable), observations and consultation notes (append-only)."""

    found: bool = False
    title: str = ""
    identity: dict[str, str] = _blank_identity()
    observations: list[dict[str, str]] = []
    consultations: list[ConsultationView] = []
    message: str = ""
    error: str = ""
    form_key: int = 0
    _rid: str = ""

    def _patient_id(self) -> str:
        path = self.router.url.path.rstrip("/")
        prefix = PATIENTS_PAGE + "/"
        return path[len(prefix) :] if path.startswith(prefix) else ""

    @rx.event
    async def load(self):
        self.message = self.error = ""
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        self._rid = self._patient_id()
        await self._show_status(ws)
        await self._reload(ws)
        return None

    async def _reload(self, ws) -> None:  # type: ignore[no-untyped-def]
        record = await on_store(ws, ws.patient, self._rid)
        self.found = record is not None
        if record is None:
            self.title, self.identity, self.observations, self.consultations = "", _blank_identity(), [], []
            return
        self.title = f"{record.get('nom', '')} {record.get('prenoms', '')}".strip()
        self.identity = _as_form(record)
        self.observations = [_entry_view(e) for e in record.get("observations") or []]
        visits = await on_store(ws, ws.consultations, self._rid)
        self.consultations = [
            ConsultationView(
                rid=v["rid"],
                date=iso_label(str(v.get("date", ""))),
                professionnel=str(v.get("professionnel", "")),
                motif=str(v.get("motif") or ""),
                notes=[_entry_view(n) for n in v.get("notes") or []],
            )
            for v in visits
        ]
        self.form_key += 1

    async def _act(self, work, done: str):  # type: ignore[no-untyped-def]
        """Run one change, then reload the page's data and the header's pending count."""
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        try:
            await work(ws)
        except (SchemaError, WorkspaceError) as error:
            self.error, self.message = error.message, ""
            return None
        self.error, self.message = "", done
        await self._reload(ws)
        await self._show_status(ws)
        return None

    @rx.event
    async def save_identity(self, form_data: dict[str, Any]):
        values = _identity_form(form_data)
        return await self._act(
            lambda ws: on_store(ws, ws.save_patient, self._rid, values), "Identité enregistrée."
        )

    @rx.event
    async def add_observation(self, form_data: dict[str, Any]):
        text = str((form_data or {}).get("texte") or "")[:2000]
        author = (await self._root()).author
        return await self._act(
            lambda ws: on_store(ws, ws.add_observation, self._rid, text, author), "Observation ajoutée."
        )

    @rx.event
    async def start_consultation(self, form_data: dict[str, Any]):
        data = form_data or {}
        who = str(data.get("professionnel") or "")[:200] or (await self._root()).author
        motif = str(data.get("motif") or "")[:500]
        return await self._act(
            lambda ws: on_store(ws, ws.start_consultation, self._rid, who, motif), "Consultation ouverte."
        )

    @rx.event
    async def add_note(self, form_data: dict[str, Any]):
        data = form_data or {}
        visit = str(data.get("consultation") or "")
        if visit not in {c.rid for c in self.consultations}:
            self.error = NotFound.default_message
            return None
        text = str(data.get("texte") or "")[:2000]
        author = (await self._root()).author
        return await self._act(lambda ws: on_store(ws, ws.add_note, visit, text, author), "Note ajoutée.")

    @rx.event
    def forget(self):
        self.found, self.title, self.identity = False, "", _blank_identity()
        self.observations, self.consultations, self._rid = [], [], ""


def _entry_view(entry: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(entry.get("id", "")),
        "texte": str(entry.get("texte", "")),
        "auteur": str(entry.get("auteur") or ""),
        "quand": hlc_label(str(entry.get("hlc") or "")),
    }
