"""The signed-in user, resolved server-side from the HttpOnly session cookie at every event.

Every page but sign-in uses a subclass of ``SessionState``; ``SessionGuard`` refuses their events
when the session is missing or expired, and handlers resolve the ``Actor`` again before calling a
service, so a revoked session stops working at once.
"""

from __future__ import annotations

from urllib.parse import quote

import reflex as rx

from cpts_app.services import authentication
from cpts_app.services.labels import ROLE_LABELS
from cpts_app.services.permissions import Actor, Permission, has_permission
from cpts_app.services.session_token import token_from_cookie_header
from cpts_app.state.service_call import run_service

SIGN_IN_PAGE = "/connexion"


def client_ip(headers: dict[str, str] | object) -> str | None:
    """The client address Reflex recorded from the websocket's ASGI scope."""
    raw = getattr(headers, "raw_headers", headers)
    return raw.get("asgi-scope-client") if hasattr(raw, "get") else None


async def resolve_actor(cookie_header: str | None, ip: str | None, *, touch: bool = True) -> Actor | None:
    """The Actor of a session cookie, or None (expired, revoked, unknown).

    ``touch=False``: a check made by the server on its own, not the user's activity.
    """
    token = token_from_cookie_header(cookie_header)
    if token is None:
        return None
    return await run_service(
        lambda session: authentication.resolve_session(session, token, ip=ip, touch=touch)
    )


def sign_in_redirect(path: str) -> rx.event.EventSpec:
    """Back to the sign-in page, remembering where the user was going."""
    suite = f"&suite={quote(path)}" if path and path.startswith("/") and path != "/" else ""
    return rx.redirect(f"{SIGN_IN_PAGE}?erreur=session{suite}")


class SessionState(rx.State):
    """Who is signed in, as the navigation shows it (no secret and no patient data here)."""

    user_name: str = ""
    role_label: str = ""
    can_manage_directory: bool = False
    can_view_capacity: bool = False
    can_book_extra: bool = False
    can_coordinate: bool = False
    can_refer: bool = False
    can_manage_availability: bool = False

    async def _actor(self, *, touch: bool = True) -> Actor | None:
        return await resolve_actor(self.router.headers.cookie, client_ip(self.router.headers), touch=touch)

    def _show_actor(self, actor: Actor) -> None:
        self.user_name = actor.display_name
        self.role_label = ROLE_LABELS.get(actor.role, str(actor.role))
        self.can_manage_directory = has_permission(actor, Permission.MANAGE_DIRECTORY)
        self.can_view_capacity = has_permission(actor, Permission.VIEW_CAPACITY_BOARD)
        self.can_book_extra = has_permission(actor, Permission.BOOK_EXTRA)
        self.can_coordinate = has_permission(actor, Permission.SEE_ALL_PATIENT_NAMES)
        self.can_refer = bool(actor.professional_id) and has_permission(actor, Permission.CREATE_PATIENT)
        self.can_manage_availability = has_permission(actor, Permission.MANAGE_ANY_AVAILABILITY) or (
            actor.professional_id is not None and has_permission(actor, Permission.MANAGE_OWN_AVAILABILITY)
        )

    @rx.event
    async def check_session(self):
        """on_load of every protected page: show who is signed in, or go to sign-in."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        return None
