"""Choosing a patient by name or birth date, for the forms that need one (waiting list,
surnuméraire). Holds only the current search results and the chosen patient's id and label."""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import patients
from cpts_app.services.errors import DomainError
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect


class PatientPickerState(SessionState):
    results: list[dict[str, str]] = []
    searched: bool = False
    patient_id: int = 0
    patient_label: str = ""
    error: str = ""

    @rx.event
    async def search(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        text = str(form_data.get("patient_recherche") or "").strip()[:100]
        try:
            found = await run_service(lambda s: patients.search_patients(s, actor, text), write=True)
        except DomainError as error:
            self.error = error.message
            return None
        self.error = ""
        self.results = [{"id": str(p.id), "label": f"{p.display_name} ({p.birth_date})"} for p in found]
        self.searched = True
        return None

    @rx.event
    def choose(self, patient_id: str, label: str):
        if str(patient_id).isdigit():
            self.patient_id, self.patient_label = int(patient_id), str(label)[:200]
            self.results = []

    @rx.event
    def clear(self):
        self.patient_id, self.patient_label, self.results, self.searched = 0, "", [], False
