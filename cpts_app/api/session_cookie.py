"""Writing the session cookie on HTTP responses (reading it is ``services.session_token``)."""

from __future__ import annotations

from starlette.responses import Response

from cpts_app.services.session_token import SESSION_COOKIE
from cpts_app.settings import Settings


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Secure."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Remove the cookie from the browser (the server-side session is revoked separately)."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=settings.cookie_secure, samesite="lax"
    )
