"""The audit journal page (admins): one page of events at a time."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from cpts_app.services import audit_log
from cpts_app.services.errors import DomainError
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect


class AuditJournalState(SessionState):
    rows: list[dict[str, Any]] = []
    total: int = 0
    page: int = 1
    prefix: str = ""
    failures_only: bool = False
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // audit_log.PAGE_SIZE))

    @rx.event
    async def load(self):
        self.page = 1
        return await self._refresh()

    @rx.event
    async def filter(self, form_data: dict[str, Any]):
        self.prefix = str(form_data.get("action") or "").strip()[:60]
        self.failures_only = str(form_data.get("echecs") or "") in ("on", "true")
        self.page = 1
        return await self._refresh()

    @rx.event
    async def change_page(self, delta: int):
        if delta in (-1, 1):
            self.page = min(max(1, self.page + delta), self.page_count)
        return await self._refresh()

    async def _refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        prefix, failures, page = self.prefix, self.failures_only, self.page
        try:
            rows, total = await run_service(
                lambda s: audit_log.list_events(
                    s, actor, action_prefix=prefix, failures_only=failures, page=page
                ),
                write=True,
            )
        except DomainError as error:
            self.error, self.rows = error.message, []
            return None
        self.error = ""
        self.rows = [dataclasses.asdict(r) for r in rows]
        self.total = total
        return None
