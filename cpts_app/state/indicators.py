"""The indicators page: figures computed from the timestamps of every step, and the CSV export."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import reflex as rx

from cpts_app.services.errors import DomainError
from cpts_app.services.orientation import indicators
from cpts_app.state.agenda_view import paris_today
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h".replace(".", ",")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{round(100 * value)} %"


class IndicatorsState(SessionState):
    date_from: str = ""
    date_to: str = ""
    cards: list[dict[str, str]] = []
    by_source: list[dict[str, Any]] = []
    by_reason: list[dict[str, Any]] = []
    by_week: list[dict[str, Any]] = []
    error: str = ""

    @rx.event
    async def load(self):
        today = paris_today()
        self.date_to = today.isoformat()
        self.date_from = (today - timedelta(days=90)).isoformat()
        return await self._refresh()

    @rx.event
    async def set_period(self, form_data: dict[str, Any]):
        self.date_from = str(form_data.get("du") or "")[:10]
        self.date_to = str(form_data.get("au") or "")[:10]
        return await self._refresh()

    def _period(self) -> tuple[date, date] | None:
        try:
            return date.fromisoformat(self.date_from), date.fromisoformat(self.date_to)
        except ValueError:
            return None

    async def _refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        period = self._period()
        if period is None:
            self.error = "Indiquez une période valide (du … au …)."
            return None
        first, last = period
        try:
            found = await run_service(
                lambda s: indicators.indicators(s, actor, date_from=first, date_to=last), write=True
            )
        except DomainError as error:
            self.error = error.message
            self.cards = []
            return None
        self.error = ""
        self.cards = [
            {"label": "Demandes reçues", "value": str(found.received)},
            {"label": "Délai médian de premier contact", "value": _hours(found.first_contact_median_hours)},
            {"label": "Premier contact sous 48 h", "value": _percent(found.first_contact_within_48h_share)},
            {"label": "Délai médian jusqu'au rendez-vous", "value": _hours(found.appointment_median_hours)},
            {
                "label": "Besoins « dans la demi-journée » servis à temps",
                "value": f"{_percent(found.half_day_served_share)} "
                f"({found.half_day_served}/{found.half_day_needs})",
            },
            {
                "label": "Patients ayant trouvé un médecin traitant",
                "value": str(found.attending_doctor_found),
            },
            {"label": "Patients orientés", "value": str(found.oriented_patients)},
            {
                "label": "Utilisation de la capacité du pôle",
                "value": f"{_percent(found.capacity_use_share)} de {found.period_capacity}",
            },
        ]
        self.by_source = [{"name": label, "demandes": count} for label, count in found.by_source]
        self.by_reason = [{"name": label, "demandes": count} for label, count in found.by_reason]
        self.by_week = [{"semaine": w, "reçues": r, "orientées": o} for w, r, o in found.by_week]
        return None

    @rx.event
    async def export_csv(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        period = self._period()
        if period is None:
            self.error = "Indiquez une période valide (du … au …)."
            return None
        first, last = period
        try:
            content = await run_service(
                lambda s: indicators.indicators_csv(s, actor, date_from=first, date_to=last), write=True
            )
        except DomainError as error:
            self.error = error.message
            return None
        return rx.download(data=content, filename=f"indicateurs-cpts-{first}-{last}.csv")
