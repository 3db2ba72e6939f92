"""One listener per open tab: wakes when one of the user's threads changes, re-reads, pushes.

Why a background task per tab: it waits on the worker's inbox bus (in memory, or relayed by
Redis) — no polling of the database, no shared state fanned out to every tab. When woken, it
takes the tab's state lock, re-counts the badge and, on the messaging page, refreshes the list
and the open thread through the services, with the user's own rights; Reflex sends that one tab
its delta.

Lifecycle: started by every page's ``on_load`` (so also after a reconnection, which re-runs it);
a newer listener of the same tab replaces the older one; it ends when the tab is no longer
connected to this worker, or when the session behind it changed (sign-out, expiry).
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from cpts_app.services.permissions import Actor
from cpts_app.services.session_token import token_from_cookie_header
from cpts_app.state.inbox import inbox_bus
from cpts_app.state.messaging import PAGE as MESSAGING_PAGE
from cpts_app.state.messaging import MessagingState
from cpts_app.state.messaging_nav import MessagingNavState
from cpts_app.state.quick_reads import QuickRead, batcher
from cpts_app.state.session import SessionState, client_ip

_log = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 30.0
"""How often an idle listener checks that its tab is still connected."""

_listeners: dict[str, asyncio.Task] = {}
"""Client token → the task listening for it, in this worker."""


def _connected_here(token: str) -> bool:
    """Is the tab's websocket held by this worker? (Else its listener lives elsewhere, or nowhere.)"""
    from reflex.utils.prerequisites import get_and_validate_app

    namespace = get_and_validate_app().app.event_namespace
    return namespace is not None and token in namespace.token_to_sid


def listener_count() -> int:
    """Live listeners in this worker (tests, operations)."""
    return sum(1 for task in _listeners.values() if not task.done())


class InboxListenerState(SessionState):
    """No vars: the listener only drives the badge's and the messaging page's states."""

    @rx.event(background=True)
    async def listen(self):
        async with self:
            actor = await self._actor()
            token = self.router.session.client_token
        if actor is None or not token:
            return
        me = asyncio.current_task()
        previous = _listeners.get(token)
        if previous is not None and previous is not me and not previous.done():
            previous.cancel()
        _listeners[token] = me
        try:
            async with inbox_bus().subscribe(actor.user_id) as mailbox:
                # Catch up what changed between the page's load and this subscription.
                alive = await self._refresh_safely(actor.user_id, None)
                while alive:
                    changed = await mailbox.take(IDLE_CHECK_SECONDS)
                    if not _connected_here(token):
                        break
                    if changed:
                        alive = await self._refresh_safely(actor.user_id, changed)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("Écoute de la messagerie interrompue")
        finally:
            if _listeners.get(token) is me:
                del _listeners[token]

    async def _refresh_safely(self, user_id: int, changed: frozenset[int]) -> bool:
        """One failed refresh (a state lock that expired under load, a database busy) must not end
        the tab's live updates: the next notice refreshes it again."""
        try:
            return await self._refresh(user_id, changed)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            _log.warning("Rafraîchissement de la messagerie manqué : %r", error)
            return True

    async def _refresh(self, user_id: int, changed: frozenset[int] | None) -> bool:
        """Re-read what the tab shows; False when the tab's session is no longer this user's.

        The session is checked at every push (a revoked session stops receiving) without counting
        as activity (an idle tab still expires). A big channel's open thread takes the quick path
        (``quick_reads``): batched with the other tabs woken by the same post.
        """
        async with self:
            page = None
            if self.router.url.path.rstrip("/") == MESSAGING_PAGE:  # « /messagerie/ » after a reload
                page = await self.get_state(MessagingState)
            plan = page._quick_plan(changed) if page is not None else None
            token = token_from_cookie_header(self.router.headers.cookie)
            if plan is None or token is None:
                actor: Actor | None = await self._actor(touch=False)
                if actor is None or actor.user_id != user_id:
                    return False
                badge = await self.get_state(MessagingNavState)
                await badge._recount(actor)
                if page is not None and page._needs_reload():
                    await page._reload(actor)
                elif page is not None:
                    await page._threads_changed(actor, changed)
                return True
            assert page is not None
            request = QuickRead(token, client_ip(self.router.headers), *plan, audited=page._quick_write)
            outcome = await batcher().read(request)
            if outcome is None or outcome[0].user_id != user_id:
                return False
            actor, read = outcome
            if isinstance(read, str):
                page._show_refusal(read)
                return True
            last = page._append_rows(*read)
            if last is None:
                await page._threads_changed(actor, changed)
        if last:
            batcher().mark_read(actor, plan[0], last)
        return True
