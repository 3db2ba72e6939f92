"""One professional's card: structures, communes, contact."""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.errors import DomainError
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect


class ProfessionalCardState(SessionState):
    """The card shown at /annuaire/professionnel?id=…"""

    card: dict[str, Any] = {}
    structures: list[dict[str, str]] = []
    communes: list[str] = []
    error: str = ""

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        raw_id = self.router.url.query_parameters.get("id", "")
        self.card, self.structures, self.communes = {}, [], []
        if not raw_id.isdigit() or len(raw_id) > 12:
            self.error = "Ce professionnel n'existe pas."
            return None
        try:
            card = await run_service(lambda s: directory.get_professional_card(s, actor, int(raw_id)))
        except DomainError as error:
            self.error = error.message
            return None
        self.error = ""
        self.card = {
            "id": str(card.id),
            "full_name": card.full_name,
            "profession_label": card.profession_label,
            "specialty": card.specialty,
            "rpps": card.rpps,
            "adeli": card.adeli,
            "phone": card.phone,
            "email": card.email,
            "accepts_new_patients": card.accepts_new_patients,
            "capacity": str(card.new_patient_capacity),
        }
        self.structures = [
            {
                "id": str(s.id),
                "name": s.name,
                "kind_label": s.kind_label,
                "commune": s.commune_name,
                "address": s.address,
                "phone": s.phone,
                "email": s.email,
            }
            for s in card.structure_refs
        ]
        self.communes = [f"{c.name} ({c.postcode})" for c in card.commune_refs]
        return None
