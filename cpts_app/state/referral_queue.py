"""The coordinator's queue: open referrals by priority, filters, the pôle's monthly gauge."""

from __future__ import annotations

from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.orientation import capacity, queue
from cpts_app.services.orientation.labels import REASON_LABELS, STATUS_LABELS
from cpts_app.state.agenda_channel import link_orientation_channel
from cpts_app.state.referrals import item_view
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

PAGE_SIZE = 20


class ReferralQueueState(SessionState):
    items: list[dict[str, Any]] = []
    total: int = 0
    page: int = 1
    status: str = ""
    commune_id: str = ""
    reason: str = ""
    oriented_this_month: int = 0
    monthly_capacity: int = 150
    error: str = ""
    status_options: list[list[str]] = [[k.value, v] for k, v in STATUS_LABELS.items()]
    reason_options: list[list[str]] = [[k.value, v] for k, v in REASON_LABELS.items()]
    commune_options: list[list[str]] = []

    @rx.var
    def gauge_percent(self) -> int:
        if self.monthly_capacity <= 0:
            return 100
        return min(100, round(100 * self.oriented_this_month / self.monthly_capacity))

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        await link_orientation_channel(self)
        communes = await run_service(directory.commune_options)
        self.commune_options = [[str(c.id), c.name] for c in communes]
        return await self.refresh()

    @rx.event
    async def filter(self, form_data: dict[str, Any]):
        status = str(form_data.get("statut") or "")
        self.status = status if status in {o[0] for o in self.status_options} else ""
        commune = str(form_data.get("commune") or "")
        self.commune_id = commune if commune in {o[0] for o in self.commune_options} else ""
        reason = str(form_data.get("motif") or "")
        self.reason = reason if reason in {o[0] for o in self.reason_options} else ""
        self.page = 1
        return await self.refresh()

    @rx.event
    async def change_page(self, delta: int):
        if delta in (-1, 1):
            self.page = min(max(1, self.page + delta), self.page_count)
        return await self.refresh()

    @rx.event
    async def refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        status, reason, page = self.status, self.reason, self.page
        commune = int(self.commune_id) if self.commune_id else None
        try:
            items, total = await run_service(
                lambda s: queue.coordinator_queue(
                    s, actor, status=status, commune_id=commune, reason=reason, page=page, page_size=PAGE_SIZE
                ),
                write=True,
            )
            oriented, monthly = await run_service(lambda s: capacity.monthly_capacity_gauge(s, actor))
        except (ValidationFailed, DomainError) as error:
            self.error, self.items = error.message, []
            return None
        self.error = ""
        self.items = [item_view(i) for i in items]
        self.total = total
        self.oriented_this_month, self.monthly_capacity = oriented, monthly
        return None
