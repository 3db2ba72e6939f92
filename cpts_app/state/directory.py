"""The directory (annuaire): search filters, the current page of results, paging.

Holds one page of results only (principle 7); every search goes through ``services.directory``,
which checks the permission.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.errors import DomainError
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

MAX_QUERY_LENGTH = 100


def summary_view(item: directory.ProfessionalSummary) -> dict[str, Any]:
    """A result card as plain strings and booleans for the browser."""
    return {
        "id": str(item.id),
        "full_name": item.full_name,
        "profession_label": item.profession_label,
        "specialty": item.specialty,
        "communes": ", ".join(item.communes),
        "structures": ", ".join(item.structures),
        "accepts_new_patients": item.accepts_new_patients,
        "capacity": str(item.new_patient_capacity),
        "phone": item.phone,
        "email": item.email,
    }


class DirectoryState(SessionState):
    """Filters and one page of professionals."""

    query_text: str = ""
    profession: str = ""
    commune_id: str = ""
    accepts_only: bool = False
    page: int = 1
    page_count: int = 1
    total: int = 0
    results: list[dict[str, Any]] = []
    profession_options: list[list[str]] = []
    commune_options: list[list[str]] = []
    error: str = ""
    loaded: bool = False

    @rx.var
    def total_label(self) -> str:
        if self.total == 0:
            return "Aucun professionnel ne correspond à cette recherche."
        noun = "professionnel trouvé" if self.total == 1 else "professionnels trouvés"
        return f"{self.total} {noun}"

    @rx.var
    def page_label(self) -> str:
        return f"Page {self.page} sur {self.page_count}"

    @rx.event
    async def load(self):
        """on_load: options for the filters and the first page."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        communes = await run_service(directory.commune_options)
        self.profession_options = [[value, label] for value, label in directory.profession_options()]
        self.commune_options = [[str(c.id), c.name] for c in communes]
        return await self._refresh()

    @rx.event
    async def search(self, form_data: dict[str, Any]):
        """Apply the filters typed in the search form (client input: validated here)."""
        self.query_text = str(form_data.get("q") or "").strip()[:MAX_QUERY_LENGTH]
        profession = str(form_data.get("profession") or "")
        self.profession = profession if profession in {o[0] for o in self.profession_options} else ""
        commune = str(form_data.get("commune") or "")
        self.commune_id = commune if commune in {o[0] for o in self.commune_options} else ""
        self.accepts_only = str(form_data.get("nouveaux_patients") or "") in {"on", "true", "1"}
        self.page = 1
        return await self._refresh()

    @rx.event
    async def next_page(self):
        if self.page < self.page_count:
            self.page += 1
        return await self._refresh()

    @rx.event
    async def previous_page(self):
        if self.page > 1:
            self.page -= 1
        return await self._refresh()

    async def _refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        filt = directory.DirectoryFilter(
            text=self.query_text,
            profession=self.profession,
            commune_id=int(self.commune_id) if self.commune_id else None,
            accepts_new_patients=self.accepts_only,
        )
        page = self.page
        try:
            result = await run_service(lambda s: directory.search_professionals(s, actor, filt, page=page))
        except DomainError as error:
            self.error = error.message
            self.results = []
            return None
        self.error = ""
        self.results = [summary_view(item) for item in result.items]
        self.total = result.total
        self.page = result.page
        self.page_count = result.page_count
        self.loaded = True
        return None
