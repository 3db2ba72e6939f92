"""Choosing a patient — search by name or birth date, or create one with the INS identity rules.

Creation always goes through ``identity.create_patient_checked``: probable duplicates are shown
first, and a second record is only created when the user says it is another person. Holds only
the current results and the chosen patient's id and label.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import directory, identity, patients
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

TEXT_FIELDS = [
    "birth_name",
    "first_names",
    "birth_date",
    "sex",
    "phone",
    "commune_id",
    "ins_nir",
    "birthplace_insee",
]
FLAGS = ["ald", "css", "ame", "handicap", "without_attending_doctor"]


def _blank_errors() -> dict[str, str]:
    return dict.fromkeys([*TEXT_FIELDS, "form"], "")


def identity_form(data: dict[str, Any]) -> identity.IdentityForm:
    """The identity form from submitted values (client input: strings cut to a sane length)."""
    values = {name: str(data.get(name) or "").strip()[:200] for name in TEXT_FIELDS}
    flags = {name: str(data.get(name) or "") in ("on", "true") for name in FLAGS}
    return identity.IdentityForm(**values, **flags)


class PatientPickerState(SessionState):
    results: list[dict[str, str]] = []
    searched: bool = False
    patient_id: int = 0
    patient_label: str = ""
    error: str = ""
    creating: bool = False
    errors: dict[str, str] = _blank_errors()
    duplicates: list[dict[str, str]] = []
    commune_options: list[list[str]] = []
    _pending: dict[str, Any] = {}

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
            self.results, self.duplicates, self.creating = [], [], False

    @rx.event
    def clear(self):
        self._reset()

    def _reset(self) -> None:
        """Back to an empty search (also called by the forms that embed the picker)."""
        self.patient_id, self.patient_label, self.results, self.searched = 0, "", [], False
        self.duplicates, self.creating, self.error = [], False, ""

    @rx.event
    async def start_creating(self):
        self.creating, self.patient_id, self.patient_label = True, 0, ""
        self.errors, self.duplicates, self.error = _blank_errors(), [], ""
        if not self.commune_options:
            communes = await run_service(directory.commune_options)
            self.commune_options = [[str(c.id), c.name] for c in communes]

    @rx.event
    async def create(self, form_data: dict[str, Any]):
        """Create the patient, unless probable duplicates must be looked at first."""
        self._pending = dict(form_data)
        return await self._create(confirm=False)

    @rx.event
    async def create_anyway(self):
        """The user checked the candidates: this is another person."""
        if not self._pending:
            return None
        return await self._create(confirm=True)

    async def _create(self, *, confirm: bool):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        form = identity_form(self._pending)
        try:
            new_id = await run_service(
                lambda s: identity.create_patient_checked(s, actor, form, confirm_not_duplicate=confirm),
                write=True,
            )
        except identity.ProbableDuplicates as found:
            self.errors = _blank_errors()
            self.duplicates = [
                {
                    "id": str(c.patient_id),
                    "label": f"{c.display_name} ({c.birth_date})",
                    "detail": f"{c.commune_name} — {', '.join(c.reasons)}",
                }
                for c in found.candidates
            ]
            return None
        except ValidationFailed as failure:
            self.errors = _blank_errors() | failure.errors | {"form": failure.message}
            self.duplicates = []
            return None
        except DomainError as error:
            self.errors = _blank_errors() | {"form": error.message}
            return None
        self.patient_id = new_id
        self.patient_label = f"{form.birth_name.upper()} {form.first_names}"
        self.creating, self.duplicates, self._pending = False, [], {}
        self.errors = _blank_errors()
        return None
