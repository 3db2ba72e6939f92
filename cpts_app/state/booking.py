"""The booking dialog: choose or create the patient, confirm, book — one transaction in services.

Shared by "Trouver un créneau" and the agenda views. The slot id comes from the browser: the
service re-checks everything (slot free, actor allowed, patient exists) inside the transaction.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import patients
from cpts_app.services.agenda import booking
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.agenda_channel import announce_agenda_change
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

PATIENT_FIELDS = ["birth_name", "first_names", "birth_date", "sex", "phone", "commune_id"]
MAX_TEXT = 500


def _blank_errors() -> dict[str, str]:
    return dict.fromkeys([*PATIENT_FIELDS, "patient", "reason", "slot"], "")


class BookingState(SessionState):
    """What the dialog shows; no patient list beyond the current search results."""

    open: bool = False
    slot_id: int = 0
    slot_summary: str = ""
    patient_results: list[dict[str, str]] = []
    searched: bool = False
    patient_id: int = 0
    patient_label: str = ""
    creating_patient: bool = False
    errors: dict[str, str] = _blank_errors()
    error: str = ""
    confirmation: str = ""
    commune_options: list[list[str]] = []

    @rx.event
    async def open_for(self, slot_id: int, summary: str):
        """Open the dialog for one slot (the summary is display text only)."""
        if not isinstance(slot_id, int) or slot_id <= 0:
            return None
        self.slot_id, self.slot_summary = slot_id, str(summary)[:300]
        self.patient_results, self.searched = [], False
        self.patient_id, self.patient_label = 0, ""
        self.creating_patient = False
        self.errors, self.error, self.confirmation = _blank_errors(), "", ""
        if not self.commune_options:
            from cpts_app.services import directory

            communes = await run_service(directory.commune_options)
            self.commune_options = [[str(c.id), c.name] for c in communes]
        self.open = True
        return None

    @rx.event
    def close(self):
        self.open = False
        self.patient_results = []

    @rx.event
    def set_open(self, value: bool):
        self.open = bool(value)
        if not self.open:
            self.patient_results = []

    @rx.event
    async def search_patient(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        text = str(form_data.get("recherche_patient") or "").strip()[:100]
        try:
            found = await run_service(lambda s: patients.search_patients(s, actor, text), write=True)
        except DomainError as error:
            self.error = error.message
            return None
        self.patient_results = [
            {"id": str(p.id), "label": p.display_name, "birth_date": p.birth_date, "commune": p.commune_name}
            for p in found
        ]
        self.searched = True
        return None

    @rx.event
    def choose_patient(self, patient_id: str, label: str):
        if not str(patient_id).isdigit():
            return
        self.patient_id = int(patient_id)
        self.patient_label = str(label)[:200]
        self.errors = _blank_errors()
        self.creating_patient = False

    @rx.event
    def show_patient_form(self):
        self.creating_patient = True
        self.patient_id, self.patient_label = 0, ""

    @rx.event
    async def create_patient(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        form = patients.PatientForm(**{f: str(form_data.get(f) or "")[:200] for f in PATIENT_FIELDS})
        try:
            new_id = await run_service(lambda s: patients.create_patient(s, actor, form), write=True)
        except ValidationFailed as failure:
            self.errors = _blank_errors() | failure.errors
            return None
        except DomainError as error:
            self.error = error.message
            return None
        self.patient_id = new_id
        self.patient_label = f"{form.birth_name.strip().upper()} {form.first_names.strip()}"
        self.creating_patient = False
        self.errors = _blank_errors()
        return None

    @rx.event
    async def confirm(self, form_data: dict[str, Any]):
        """The confirmation: book the slot for the chosen patient."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if not self.patient_id:
            self.errors = _blank_errors() | {"patient": "Choisissez ou créez le patient."}
            return None
        reason = str(form_data.get("motif") or "").strip()[:MAX_TEXT]
        on_behalf = str(form_data.get("pour_le_compte_de") or "").strip()[:200]
        slot_id, patient_id = self.slot_id, self.patient_id
        try:
            await run_service(
                lambda s: booking.book(s, actor, slot_id, patient_id, reason=reason, on_behalf_of=on_behalf),
                write=True,
            )
        except ValidationFailed as failure:
            self.error = " ".join(m for m in failure.errors.values() if m) or failure.message
            return None
        except DomainError as error:
            self.error = error.message
            await announce_agenda_change(self)
            return None
        self.open = False
        self.patient_results = []
        self.confirmation = f"Rendez-vous réservé pour {self.patient_label} — {self.slot_summary}."
        await announce_agenda_change(self)
        return rx.toast.success(self.confirmation, duration=6000)
