"""The unread badge of the navigation, kept live by the tab's inbox listener."""

from __future__ import annotations

import reflex as rx

from cpts_app.services.messaging import threads
from cpts_app.services.permissions import Actor
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState


class MessagingNavState(SessionState):
    """Counts only: no thread title and no text ever sits here."""

    unread_total: int = 0
    unread_mentions: int = 0

    @rx.event
    async def load_badge(self):
        """Mount of the header: count (the page's inbox listener keeps it live afterwards)."""
        actor = await self._actor()
        if actor is None:
            return None
        await self._recount(actor)
        return None

    async def _recount(self, actor: Actor) -> None:
        summary = await run_service(lambda s: threads.unread_counts(s, actor))
        self.unread_total, self.unread_mentions = summary.total, summary.mentions
