"""The waiting list: patients waiting for a profession in a commune; freed slots are offered."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.agenda import waiting_list
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.agenda_channel import link_agenda_channel
from cpts_app.state.patient_picker import PatientPickerState
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

STATUS_LABELS = {"waiting": "En attente", "offered": "Créneau proposé", "booked": "Réservé", "closed": "Clos"}


class WaitingListState(SessionState):
    entries: list[dict[str, Any]] = []
    profession_options: list[list[str]] = []
    commune_options: list[list[str]] = []
    errors: dict[str, str] = {"patient_id": "", "profession": "", "commune_id": "", "form": ""}
    message: str = ""

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        await link_agenda_channel(self)
        communes = await run_service(directory.commune_options)
        self.commune_options = [[str(c.id), c.name] for c in communes]
        self.profession_options = [[v, label] for v, label in directory.profession_options()]
        self.message = ""
        return await self.refresh()

    @rx.event
    async def refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        try:
            views = await run_service(lambda s: waiting_list.list_waiting(s, actor))
        except DomainError as error:
            self.errors = self.errors | {"form": error.message}
            return None
        self.entries = [
            dataclasses.asdict(v) | {"status_label": STATUS_LABELS.get(v.status, v.status)} for v in views
        ]
        return None

    @rx.event
    async def add(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        picker = await self.get_state(PatientPickerState)
        blank = {"patient_id": "", "profession": "", "commune_id": "", "form": ""}
        if not picker.patient_id:
            self.errors = blank | {"patient_id": "Choisissez le patient."}
            return None
        commune = str(form_data.get("commune_id") or "")
        patient_id = picker.patient_id
        profession = str(form_data.get("profession") or "")
        note = str(form_data.get("note") or "").strip()[:500]
        if not commune.isdigit():
            self.errors = blank | {"commune_id": "Choisissez la commune."}
            return None
        try:
            await run_service(
                lambda s: waiting_list.add_to_waiting_list(
                    s, actor, patient_id=patient_id, profession=profession, commune_id=int(commune), note=note
                ),
                write=True,
            )
        except ValidationFailed as failure:
            self.errors = blank | failure.errors
            return None
        except DomainError as error:
            self.errors = blank | {"form": error.message}
            return None
        self.errors = blank
        self.message = f"{picker.patient_label} est inscrit·e sur la liste d'attente."
        picker._reset()
        return await self.refresh()

    @rx.event
    async def close(self, entry_id: int, status: str):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if status not in ("booked", "closed", "waiting") or entry_id not in {e["id"] for e in self.entries}:
            return None
        try:
            await run_service(lambda s: waiting_list.close_entry(s, actor, entry_id, status), write=True)
        except DomainError as error:
            self.errors = self.errors | {"form": error.message}
            return None
        return await self.refresh()
