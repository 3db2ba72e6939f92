"""The unread badge of the navigation, kept live by the user's inbox channel."""

from __future__ import annotations

import reflex as rx

from cpts_app.services.messaging import threads
from cpts_app.state.messaging_channel import link_inbox
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState


class MessagingNavState(SessionState):
    """Counts only: no thread title and no text ever sits here."""

    unread_total: int = 0
    unread_mentions: int = 0

    @rx.event
    async def load_badge(self):
        """Mount of the header: subscribe this tab to its user's inbox, then count."""
        actor = await self._actor()
        if actor is None:
            return None
        await link_inbox(self, actor.user_id)
        return await self.refresh_badge()

    @rx.event
    async def refresh_badge(self):
        actor = await self._actor()
        if actor is None:
            return None
        summary = await run_service(lambda s: threads.unread_counts(s, actor))
        self.unread_total, self.unread_mentions = summary.total, summary.mentions
        return None
