"""Adding and editing a professional (admins). The service validates and checks the permission.

The form's inputs are uncontrolled (no event per keystroke); ``form_key`` changes to remount them
with fresh defaults when another professional is loaded.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.permissions import Permission, has_permission
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

FIELDS = [f.name for f in dataclasses.fields(directory.ProfessionalForm)]
TEXT_FIELDS = ["first_name", "last_name", "profession", "specialty", "rpps", "adeli", "phone", "email"]
MAX_LENGTH = 300


def _blank_errors() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


class AdminProfessionalState(SessionState):
    """The professional form."""

    editing_id: str = ""
    values: dict[str, str] = dict.fromkeys(TEXT_FIELDS, "") | {"new_patient_capacity": "0"}
    accepts_new_patients: bool = False
    selected_structures: list[list[str]] = []
    selected_communes: list[str] = []
    structure_options: list[list[str]] = []
    commune_options: list[list[str]] = []
    profession_options: list[list[str]] = []
    errors: dict[str, str] = _blank_errors()
    form_error: str = ""
    saved_message: str = ""
    denied: str = ""
    form_key: str = "initial"
    form_ready: bool = False

    @rx.event
    async def load(self):
        """on_load of /admin/professionnels/nouveau and /admin/professionnels/modifier?id=…"""
        actor = await self._actor()
        if actor is None:
            yield sign_in_redirect(self.router.url.path)
            return
        self._show_actor(actor)
        self.form_ready = False
        yield
        self.errors, self.form_error, self.saved_message = _blank_errors(), "", ""
        if not has_permission(actor, Permission.MANAGE_DIRECTORY):
            self.denied = "Accès refusé : seuls les administrateurs peuvent modifier l'annuaire."
            return
        self.denied = ""
        structures = await run_service(lambda s: directory.structure_options(s, actor))
        communes = await run_service(directory.commune_options)
        self.structure_options = [[str(s.id), f"{s.name} ({s.commune_name})"] for s in structures]
        self.commune_options = [[str(c.id), c.name] for c in communes]
        self.profession_options = [[v, label] for v, label in directory.profession_options()]
        raw_id = self.router.url.query_parameters.get("id", "")
        form = directory.ProfessionalForm()
        self.editing_id = ""
        if raw_id:
            if not raw_id.isdigit() or len(raw_id) > 12:
                self.denied = "Ce professionnel n'existe pas."
                return
            try:
                form = await run_service(lambda s: directory.professional_form(s, actor, int(raw_id)))
            except DomainError as error:
                self.denied = error.message
                return
            self.editing_id = raw_id
        self._fill(form)
        self.form_ready = True

    def _fill(self, form: directory.ProfessionalForm) -> None:
        self.values = {name: str(getattr(form, name)) for name in [*TEXT_FIELDS, "new_patient_capacity"]}
        self.accepts_new_patients = form.accepts_new_patients
        labels = dict((o[0], o[1]) for o in self.structure_options)
        self.selected_structures = [[str(i), labels.get(str(i), str(i))] for i in form.structure_ids]
        self.selected_communes = [str(i) for i in form.commune_ids]
        self.form_key = uuid.uuid4().hex

    @rx.event
    def add_structure(self, structure_id: str):
        """Add a place of practice chosen in the select (validated against the options)."""
        labels = dict((o[0], o[1]) for o in self.structure_options)
        if structure_id in labels and structure_id not in [s[0] for s in self.selected_structures]:
            self.selected_structures = [*self.selected_structures, [structure_id, labels[structure_id]]]

    @rx.event
    def remove_structure(self, structure_id: str):
        self.selected_structures = [s for s in self.selected_structures if s[0] != structure_id]

    @rx.event
    async def save(self, form_data: dict[str, Any]):
        """Submit: the service validates every field; nothing is saved if one is wrong."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        values = {
            name: str(form_data.get(name) or "")[:MAX_LENGTH]
            for name in [*TEXT_FIELDS, "new_patient_capacity"]
        }
        accepts = str(form_data.get("accepts_new_patients") or "") in {"on", "true"}
        communes = [
            c[0] for c in self.commune_options if form_data.get(f"commune_{c[0]}") in ("on", "true", True)
        ]
        form = directory.ProfessionalForm(
            **values,
            accepts_new_patients=accepts,
            structure_ids=[int(s[0]) for s in self.selected_structures],
            commune_ids=[int(c) for c in communes],
        )
        editing = int(self.editing_id) if self.editing_id else None
        # Keep what the user typed, whatever the outcome.
        self.values, self.accepts_new_patients, self.selected_communes = values, accepts, communes
        try:
            new_id = await run_service(
                lambda s: directory.save_professional(s, actor, form, editing), write=True
            )
        except ValidationFailed as failure:
            self.errors = _blank_errors() | failure.errors
            self.form_error = failure.message
            self.saved_message = ""
            return None
        except DomainError as error:
            self.errors, self.form_error, self.saved_message = _blank_errors(), error.message, ""
            return None
        self.errors, self.form_error = _blank_errors(), ""
        self.editing_id = str(new_id)
        self.saved_message = "Professionnel enregistré."
        return rx.redirect(f"/annuaire/professionnel?id={new_id}")
