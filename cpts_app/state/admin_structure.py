"""Listing, adding and editing structures (admins)."""

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

FIELDS = [f.name for f in dataclasses.fields(directory.StructureForm)]
PAGE_SIZE = 20
MAX_LENGTH = 300


def _blank_errors() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


class AdminStructureState(SessionState):
    """The structures list and the structure form."""

    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 1
    search_text: str = ""
    editing_id: str = ""
    values: dict[str, str] = dict.fromkeys(FIELDS, "")
    kind_options: list[list[str]] = []
    commune_options: list[list[str]] = []
    errors: dict[str, str] = _blank_errors()
    form_error: str = ""
    denied: str = ""
    form_key: str = "initial"

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    async def _admin(self):
        actor = await self._actor()
        if actor is None:
            return None, sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        if not has_permission(actor, Permission.MANAGE_DIRECTORY):
            self.denied = "Accès refusé : seuls les administrateurs peuvent modifier l'annuaire."
            return None, None
        self.denied = ""
        return actor, None

    @rx.event
    async def load_list(self):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        return await self._refresh(actor)

    @rx.event
    async def search(self, form_data: dict[str, Any]):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        self.search_text = str(form_data.get("q") or "").strip()[:100]
        self.page = 1
        return await self._refresh(actor)

    @rx.event
    async def change_page(self, delta: int):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        if delta not in (-1, 1):
            return None
        self.page = min(max(1, self.page + delta), self.page_count)
        return await self._refresh(actor)

    async def _refresh(self, actor):
        text, page = self.search_text, self.page
        items, total = await run_service(
            lambda s: directory.list_structures(s, actor, text=text, page=page, page_size=PAGE_SIZE)
        )
        self.total = total
        self.rows = [
            {
                "id": str(r.id),
                "name": r.name,
                "kind_label": r.kind_label,
                "commune": r.commune_name,
                "finess": r.finess,
                "phone": r.phone,
            }
            for r in items
        ]

    @rx.event
    async def load_form(self):
        """on_load of /admin/structures/nouvelle and /admin/structures/modifier?id=…"""
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        self.errors, self.form_error = _blank_errors(), ""
        communes = await run_service(directory.commune_options)
        self.commune_options = [[str(c.id), c.name] for c in communes]
        self.kind_options = [[v, label] for v, label in directory.structure_kind_options()]
        raw_id = self.router.url.query_parameters.get("id", "")
        form = directory.StructureForm()
        self.editing_id = ""
        if raw_id:
            if not raw_id.isdigit() or len(raw_id) > 12:
                self.denied = "Cette structure n'existe pas."
                return None
            try:
                form = await run_service(lambda s: directory.structure_form(s, actor, int(raw_id)))
            except DomainError as error:
                self.denied = error.message
                return None
            self.editing_id = raw_id
        self.values = {name: str(getattr(form, name)) for name in FIELDS}
        self.form_key = uuid.uuid4().hex
        return None

    @rx.event
    async def save(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        values = {name: str(form_data.get(name) or "")[:MAX_LENGTH] for name in FIELDS}
        form = directory.StructureForm(**values)
        editing = int(self.editing_id) if self.editing_id else None
        self.values = values
        try:
            await run_service(lambda s: directory.save_structure(s, actor, form, editing), write=True)
        except ValidationFailed as failure:
            self.errors = _blank_errors() | failure.errors
            self.form_error = failure.message
            return None
        except DomainError as error:
            self.errors, self.form_error = _blank_errors(), error.message
            return None
        return rx.redirect("/admin/structures?enregistre=1")
