"""The booking dialog: the patient (``PatientPickerState``), reason, confirmation — one
transaction in services.

Shared by "Trouver un créneau" and the agenda views. The slot id comes from the browser: the
service re-checks everything (slot free, actor allowed, patient exists) inside the transaction.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services.agenda import booking
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.agenda_channel import announce_agenda_change
from cpts_app.state.patient_picker import PatientPickerState
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

MAX_TEXT = 500


class BookingState(SessionState):
    """What the dialog shows."""

    open: bool = False
    slot_id: int = 0
    slot_summary: str = ""
    patient_error: str = ""
    error: str = ""
    confirmation: str = ""

    @rx.event
    async def open_for(self, slot_id: int, summary: str):
        """Open the dialog for one slot (the summary is display text only)."""
        if not isinstance(slot_id, int) or slot_id <= 0:
            return None
        self.slot_id, self.slot_summary = slot_id, str(summary)[:300]
        self.patient_error, self.error, self.confirmation = "", "", ""
        picker = await self.get_state(PatientPickerState)
        picker._reset()
        self.open = True
        return None

    @rx.event
    def set_open(self, value: bool):
        self.open = bool(value)

    @rx.event
    async def confirm(self, form_data: dict[str, Any]):
        """The confirmation: book the slot for the chosen patient."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        picker = await self.get_state(PatientPickerState)
        if not picker.patient_id:
            self.patient_error = "Choisissez ou créez le patient."
            return None
        self.patient_error = ""
        reason = str(form_data.get("motif") or "").strip()[:MAX_TEXT]
        on_behalf = str(form_data.get("pour_le_compte_de") or "").strip()[:200]
        slot_id, patient_id, label = self.slot_id, picker.patient_id, picker.patient_label
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
        self.confirmation = f"Rendez-vous réservé pour {label} — {self.slot_summary}."
        picker._reset()
        await announce_agenda_change(self)
        return rx.toast.success(self.confirmation, duration=6000)
