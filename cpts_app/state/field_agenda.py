"""/terrain/agenda — the tour's slots by day, and booking a free one offline for a patient.

Why a booking is only a request here: the server books it through its agenda at the next sync
(one constraint prevents double booking there) or rejects it; the sync page lists rejections
under « À reprogrammer ».
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.state.field import FieldState, on_store
from mobile_sync.field_format import today_paris
from mobile_sync.workspace import WorkspaceError


def _day_label(day: str) -> str:
    from datetime import date

    names = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
    try:
        moment = date.fromisoformat(day)
    except ValueError:
        return day
    return f"{names[moment.weekday()]} {moment.strftime('%d/%m/%Y')}"


class FieldAgendaState(FieldState):
    days: list[list[str]] = []
    """[iso, label] of every day holding slots."""
    day: str = ""
    slots: list[dict[str, str]] = []
    patient_options: list[list[str]] = []
    booking_slot: str = ""
    booking_label: str = ""
    error: str = ""
    message: str = ""

    @rx.event
    async def load(self):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        self.error = self.message = ""
        self.booking_slot = self.booking_label = ""
        await self._show_status(ws)
        days = await on_store(ws, ws.agenda_days)
        self.days = [[d, _day_label(d)] for d in days]
        wanted = self.router.url.query_parameters.get("jour", "")
        today = today_paris()
        if wanted in days:
            self.day = wanted
        elif self.day not in days:
            self.day = next((d for d in days if d >= today), days[-1] if days else "")
        await self._reload(ws)
        return None

    async def _reload(self, ws) -> None:  # type: ignore[no-untyped-def]
        self.slots = await on_store(ws, ws.agenda, self.day) if self.day else []

    @rx.event
    async def choose_day(self, day: str):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        if day in {d[0] for d in self.days}:
            self.day = day
            self.booking_slot = ""
            await self._reload(ws)
        return None

    @rx.event
    async def open_booking(self, slot_rid: str):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        slot = next((s for s in self.slots if s["rid"] == slot_rid and s["libre"] == "oui"), None)
        if slot is None:
            self.error = "Ce créneau n'est pas libre."
            return None
        patients = await on_store(ws, ws.patients, "")
        self.patient_options = [
            [p["rid"], f"{p['nom']} {p['prenoms']} ({p['date_naissance']})"] for p in patients
        ]
        self.booking_slot, self.booking_label = slot_rid, f"{_day_label(slot['day'])}, {slot['heures']}"
        self.error = self.message = ""
        return None

    @rx.event
    def close_booking(self):
        self.booking_slot = self.booking_label = ""
        self.patient_options = []

    @rx.event
    async def book(self, form_data: dict[str, Any]):
        ws, redirect = await self._guard()
        if ws is None:
            return redirect
        data = form_data if isinstance(form_data, dict) else {}
        patient = str(data.get("patient") or "")
        if not patient:
            self.error = "Choisissez le patient."
            return None
        try:
            await on_store(ws, ws.book_slot, self.booking_slot, patient, str(data.get("motif") or "")[:500])
        except WorkspaceError as error:
            self.error = error.message
            return None
        self.message = (
            f"Créneau du {self.booking_label} réservé hors ligne : il sera confirmé à la synchronisation."
        )
        self.error = ""
        self.booking_slot = self.booking_label = ""
        self.patient_options = []
        await self._reload(ws)
        await self._show_status(ws)
        return None

    @rx.event
    def forget(self):
        self.slots, self.patient_options, self.booking_slot, self.booking_label = [], [], "", ""
