"""One place that refuses events of protected pages from browsers without a valid session.

Why a middleware as well as the per-handler check: a page's ``on_load`` and any public method of
a protected state are callable from the browser; this guard drops them all before they run.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event

from cpts_app.state.session import SessionState, client_ip, resolve_actor, sign_in_redirect

if TYPE_CHECKING:
    from reflex.app import App


def _protected(event: Event) -> bool:
    try:
        state_cls = event.state_cls
    except (KeyError, LookupError):
        return False
    return issubclass(state_cls, SessionState)


@dataclasses.dataclass(init=True)
class SessionGuard(Middleware):
    """Drops events aimed at ``SessionState`` subclasses unless the session cookie is valid."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        if not _protected(event):
            return None
        # The connection's headers (from the websocket handshake) are merged into the state's
        # router data before middlewares run; the event itself may carry none.
        router = state.router
        actor = await resolve_actor(router.headers.cookie, client_ip(router.headers))
        if actor is not None:
            return None
        return StateUpdate(events=Event.from_event_type(sign_in_redirect(router.url.path)))
