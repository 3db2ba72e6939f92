"""The coordinator's board of same-day capacity: free SNP slots per half-day per commune."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import reflex as rx

from cpts_app.services.agenda import views
from cpts_app.services.errors import DomainError
from cpts_app.state.agenda_channel import link_agenda_channel
from cpts_app.state.agenda_view import day_label, paris_today
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect


class CapacityBoardState(SessionState):
    """One row per commune: morning and afternoon free SNP slots, today or tomorrow."""

    day: str = ""
    rows: list[dict[str, Any]] = []
    total_morning: int = 0
    total_afternoon: int = 0
    error: str = ""

    @rx.var
    def day_title(self) -> str:
        return day_label(date.fromisoformat(self.day)).capitalize() if self.day else ""

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        await link_agenda_channel(self)
        self.day = paris_today().isoformat()
        return await self._refresh()

    @rx.event
    async def refresh(self):
        if self.day:
            return await self._refresh()
        return None

    @rx.event
    async def show_day(self, offset: int):
        if offset not in (0, 1):
            return None
        self.day = (paris_today() + timedelta(days=offset)).isoformat()
        return await self._refresh()

    async def _refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        day = date.fromisoformat(self.day)
        try:
            cells = await run_service(lambda s: views.same_day_capacity(s, actor, day))
        except DomainError as error:
            self.error, self.rows = error.message, []
            return None
        self.error = ""
        by_commune: dict[int, dict[str, Any]] = {}
        for cell in cells:
            row = by_commune.setdefault(
                cell.commune_id,
                {
                    "commune_id": str(cell.commune_id),
                    "commune": cell.commune_name,
                    "matin": 0,
                    "apres_midi": 0,
                },
            )
            row["matin" if cell.half_day == "matin" else "apres_midi"] += cell.free_snp
        self.rows = sorted(by_commune.values(), key=lambda r: r["commune"])
        self.total_morning = sum(r["matin"] for r in self.rows)
        self.total_afternoon = sum(r["apres_midi"] for r in self.rows)
        return None
