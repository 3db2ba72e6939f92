"""Sign-in and sign-out over plain HTTP form posts.

Why not a Reflex event: an HttpOnly cookie can only be set by an HTTP response; the websocket
cannot. The sign-in page posts a native form here; the route answers with a redirect.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlsplit

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cpts_app.api.session_cookie import clear_session_cookie, set_session_cookie
from cpts_app.db import run_in_transaction
from cpts_app.services import authentication
from cpts_app.services.session_token import token_from_cookie_header
from cpts_app.settings import get_settings

SIGN_IN_PAGE = "/connexion"
HOME_PAGE = "/annuaire"
MAX_FIELD_LENGTH = 1024


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME_PAGE
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith(SIGN_IN_PAGE):
        return HOME_PAGE
    return target


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF): the Origin, when sent, must be this host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _back_to_sign_in(code: str, next_path: str, minutes: int | None = None) -> RedirectResponse:
    url = f"{SIGN_IN_PAGE}?erreur={code}"
    if minutes:
        url += f"&minutes={minutes}"
    if next_path != HOME_PAGE:
        url += f"&suite={quote(next_path)}"
    return RedirectResponse(url, status_code=303)


async def sign_in(request: Request) -> Response:
    """POST /auth/connexion: check the credentials, open a server-side session, set the cookie."""
    if not _same_origin(request):
        return Response("Requête refusée : origine non autorisée.", status_code=403)
    form = await request.form()
    email = str(form.get("email") or "")[:MAX_FIELD_LENGTH]
    password = str(form.get("password") or "")[:MAX_FIELD_LENGTH]
    next_path = _safe_next(str(form.get("suite") or ""))
    if not email.strip() or not password:
        return _back_to_sign_in("champs", next_path)
    settings = get_settings()
    ip = _client_ip(request)
    user_agent = request.headers.get("user-agent", "")[:300]

    def run(session: Session) -> authentication.SignInOutcome:
        return authentication.sign_in(
            session, email=email, password=password, ip=ip, user_agent=user_agent, settings=settings
        )

    outcome = await asyncio.to_thread(lambda: run_in_transaction(run, write=True))
    if outcome.delay_seconds > 0:
        await asyncio.sleep(outcome.delay_seconds)
    if outcome.token is None:
        if outcome.locked_minutes:
            return _back_to_sign_in("verrouille", next_path, outcome.locked_minutes)
        return _back_to_sign_in("identifiants", next_path)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, outcome.token, settings)
    return response


async def sign_out(request: Request) -> Response:
    """POST /auth/deconnexion: revoke the server-side session and clear the cookie."""
    if not _same_origin(request):
        return Response("Requête refusée : origine non autorisée.", status_code=403)
    token = token_from_cookie_header(request.headers.get("cookie"))
    ip = _client_ip(request)

    def run(session: Session) -> None:
        authentication.sign_out(session, token, ip=ip)

    await asyncio.to_thread(lambda: run_in_transaction(run, write=True))
    response = RedirectResponse(f"{SIGN_IN_PAGE}?info=deconnexion", status_code=303)
    clear_session_cookie(response, get_settings())
    return response


routes = [
    Route("/auth/connexion", sign_in, methods=["POST"]),
    Route("/auth/deconnexion", sign_out, methods=["POST"]),
]
