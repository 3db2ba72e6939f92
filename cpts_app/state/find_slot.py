"""« Trouver un créneau »: the earliest free slots for a profession around a commune."""

from __future__ import annotations

from datetime import date
from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.agenda import search
from cpts_app.services.agenda.labels import SLOT_KIND_LABELS
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.agenda_channel import link_agenda_channel
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

WINDOWS = [
    ["half_day", "Cette demi-journée"],
    ["today", "Aujourd'hui"],
    ["48h", "48 heures"],
    ["dates", "Dates"],
]


def _offer_view(offer: search.SlotOffer) -> dict[str, Any]:
    return {
        "slot_id": offer.slot_id,
        "when": f"{offer.day_label}, {offer.time_label}",
        "kind_label": offer.kind_label,
        "professional": offer.professional_name,
        "profession": offer.profession_label,
        "place": ", ".join(p for p in (offer.structure_name, offer.address, offer.commune_name) if p),
        "neighbour": offer.in_neighbour_commune,
        "summary": (
            f"{offer.day_label}, {offer.time_label} — {offer.professional_name} "
            f"({offer.profession_label}), {offer.commune_name}"
        ),
    }


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class FindSlotState(SessionState):
    """The search form's values and the current results (at most ``limit``)."""

    profession: str = ""
    commune_id: str = ""
    include_neighbours: bool = True
    kind: str = ""
    window: str = "today"
    date_from: str = ""
    date_to: str = ""
    results: list[dict[str, Any]] = []
    searched: bool = False
    error: str = ""
    profession_options: list[list[str]] = []
    commune_options: list[list[str]] = []
    kind_options: list[list[str]] = [[k.value, label] for k, label in SLOT_KIND_LABELS.items()]
    window_options: list[list[str]] = WINDOWS

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
        query = self.router.url.query_parameters
        if query.get("commune", "") in {c[0] for c in self.commune_options}:
            self.commune_id = query["commune"]
        if query.get("type", "") in {k[0] for k in self.kind_options}:
            self.kind = query["type"]
        if query.get("fenetre", "") in {w[0] for w in WINDOWS}:
            self.window = query["fenetre"]
        if self.commune_id or self.searched:
            return await self._run()
        return None

    @rx.event
    async def search(self, form_data: dict[str, Any]):
        profession = str(form_data.get("profession") or "")
        self.profession = profession if profession in {o[0] for o in self.profession_options} else ""
        commune = str(form_data.get("commune") or "")
        self.commune_id = commune if commune in {o[0] for o in self.commune_options} else ""
        self.include_neighbours = str(form_data.get("voisines") or "") in {"on", "true"}
        kind = str(form_data.get("type") or "")
        self.kind = kind if kind in {k[0] for k in self.kind_options} else ""
        window = str(form_data.get("fenetre") or "today")
        self.window = window if window in {w[0] for w in WINDOWS} else "today"
        self.date_from = str(form_data.get("du") or "")[:10]
        self.date_to = str(form_data.get("au") or "")[:10]
        return await self._run()

    @rx.event
    async def refresh(self):
        """Re-run the search when another user booked or freed a slot."""
        if self.searched:
            return await self._run()
        return None

    async def _run(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        query = search.SlotSearch(
            profession=self.profession,
            commune_id=int(self.commune_id) if self.commune_id else None,
            include_neighbours=self.include_neighbours,
            kind=self.kind,
            window=self.window,
            date_from=_parse_date(self.date_from),
            date_to=_parse_date(self.date_to),
        )
        try:
            offers = await run_service(lambda s: search.find_slots(s, actor, query))
        except ValidationFailed as failure:
            self.error = " ".join(m for m in failure.errors.values() if m) or failure.message
            self.results = []
            return None
        except DomainError as error:
            self.error = error.message
            self.results = []
            return None
        self.error = ""
        self.results = [_offer_view(o) for o in offers]
        self.searched = True
        return None
