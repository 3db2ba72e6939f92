"""Merging two records of the same patient (coordination): choose the one to keep, give a reason."""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import identity, patients
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect


class PatientMergeState(SessionState):
    results: list[dict[str, str]] = []
    keep_id: str = ""
    merge_id: str = ""
    error: str = ""
    message: str = ""

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        self.results, self.keep_id, self.merge_id, self.error, self.message = [], "", "", "", ""
        return None

    @rx.event
    async def search(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        text = str(form_data.get("recherche") or "").strip()[:100]
        try:
            found = await run_service(
                lambda s: patients.search_patients(s, actor, text, limit=20), write=True
            )
        except DomainError as error:
            self.error = error.message
            return None
        self.results = [
            {"id": str(p.id), "label": p.display_name, "birth_date": p.birth_date, "commune": p.commune_name}
            for p in found
        ]
        self.keep_id, self.merge_id, self.error = "", "", ""
        return None

    @rx.event
    def choose(self, role: str, patient_id: str):
        if patient_id not in {r["id"] for r in self.results}:
            return
        if role == "garder":
            self.keep_id = patient_id
        elif role == "fusionner":
            self.merge_id = patient_id

    @rx.event
    async def merge(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if not (self.keep_id.isdigit() and self.merge_id.isdigit()):
            self.error = "Choisissez le dossier à garder et celui à fusionner."
            return None
        reason = str(form_data.get("motif") or "").strip()[:500]
        keep, merge = int(self.keep_id), int(self.merge_id)
        try:
            await run_service(
                lambda s: identity.merge_patients(s, actor, keep_id=keep, merge_id=merge, reason=reason),
                write=True,
            )
        except ValidationFailed as failure:
            self.error = " ".join(m for m in failure.errors.values() if m) or failure.message
            return None
        except DomainError as error:
            self.error = error.message
            return None
        self.message = "Dossiers fusionnés : rendez-vous et demandes sont rattachés au dossier gardé."
        self.results = [r for r in self.results if r["id"] != self.merge_id]
        self.keep_id, self.merge_id, self.error = "", "", ""
        return None
