"""Messaging over HTTP, for the session cookie's owner: threads, messages and attachments.

Why an API next to the screens: attachments must be served by a route that checks the reader's
rights (never Reflex's public upload folder), and other tools of the territory (a mobile client,
a test) read and post with the same rules. Refusals are 4xx with a French ``detail``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cpts_app.db import run_in_transaction
from cpts_app.services import authentication
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.messaging import attachments, messages, threads
from cpts_app.services.permissions import Actor
from cpts_app.services.session_token import token_from_cookie_header
from cpts_app.settings import get_settings

Notifier = Callable[[Sequence[int], int], Awaitable[None]]
"""Tells the members' open browsers that a thread changed (user ids and the thread id only)."""

MAX_JSON_BYTES = 64 * 1024
SESSION_EXPIRED = "Session absente ou expirée : reconnectez-vous."


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _answer(body: Any, status: int = 200) -> Response:
    content = json.dumps(body, default=_json_default, ensure_ascii=False)
    return Response(
        content,
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _refusal(error: DomainError) -> Response:
    if isinstance(error, PermissionDenied):
        status = 403
    elif isinstance(error, NotFound):
        status = 404
    elif isinstance(error, ValidationFailed):
        return _answer({"detail": error.message, "erreurs": error.errors}, 422)
    else:
        status = 409
    return _answer({"detail": error.message}, status)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _same_origin(request: Request) -> bool:
    """A cookie-authenticated write must come from our own pages (no cross-site form or fetch)."""
    origin = request.headers.get("origin")
    return origin is None or origin.rstrip("/") == get_settings().public_url.rstrip("/")


def _actor(session: Session, request: Request) -> Actor:
    token = token_from_cookie_header(request.headers.get("cookie"))
    actor = authentication.resolve_session(session, token, ip=_client_ip(request))
    if actor is None:
        raise _Unauthenticated()
    return actor


class _Unauthenticated(Exception):
    pass


async def _run(request: Request, work: Callable[[Session, Actor], Any], *, write: bool = False) -> Any:
    def transaction(session: Session) -> Any:
        return work(session, _actor(session, request))

    return await asyncio.to_thread(lambda: run_in_transaction(transaction, write=write))


def _int_param(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed({"apres": "Identifiant de message invalide."})
    return int(raw)


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except _Unauthenticated:
            return _answer({"detail": SESSION_EXPIRED}, 401)
        except DomainError as error:
            return _refusal(error)

    return wrapper


def _thread_id(request: Request) -> int:
    raw = request.path_params["thread_id"]
    if raw > 10**12:
        raise NotFound("Cette conversation n'existe pas.")
    return raw


@_guarded
async def list_threads(request: Request) -> Response:
    rows = await _run(request, lambda s, actor: threads.list_threads(s, actor))
    return _answer({"fils": [dataclasses.asdict(row) for row in rows]})


@_guarded
async def read_messages(request: Request) -> Response:
    thread_id = _thread_id(request)
    after = _int_param(request.query_params.get("apres"))
    page = await _run(
        request, lambda s, actor: messages.load_messages(s, actor, thread_id, after_id=after), write=True
    )
    return _answer(dataclasses.asdict(page))


def make_post_message(notify: Notifier | None) -> Callable[[Request], Awaitable[Response]]:
    @_guarded
    async def post_message(request: Request) -> Response:
        if not _same_origin(request):
            return _answer({"detail": "Requête refusée : elle ne vient pas de l'application."}, 403)
        thread_id = _thread_id(request)
        raw = await request.body()
        if len(raw) > MAX_JSON_BYTES:
            return _answer({"detail": "Requête trop volumineuse (64 Ko au plus)."}, 413)
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return _answer({"detail": "Le corps de la requête n'est pas du JSON valide."}, 400)
        if not isinstance(payload, dict) or not isinstance(payload.get("texte", ""), str):
            return _answer({"detail": "Champ « texte » attendu (chaîne de caractères)."}, 400)
        text = payload.get("texte", "")
        posted = await _run(
            request, lambda s, actor: messages.post_message(s, actor, thread_id, text), write=True
        )
        if notify is not None:
            await notify(posted.recipient_user_ids, posted.thread_id)
        return _answer({"id": posted.message_id, "fil": posted.thread_id}, 201)

    return post_message


def _disposition(kind: str, name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@_guarded
async def download_attachment(request: Request) -> Response:
    attachment_id = request.path_params["attachment_id"]
    if attachment_id > 10**12:
        raise NotFound("Pièce jointe introuvable.")
    view, content = await _run(
        request, lambda s, actor: attachments.read_attachment(s, actor, attachment_id), write=True
    )
    inline = view.content_type.startswith("image/") and request.query_params.get("telecharger") != "1"
    return Response(
        content,
        media_type=view.content_type,
        headers={
            "Content-Disposition": _disposition("inline" if inline else "attachment", view.name),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
            "Referrer-Policy": "no-referrer",
        },
    )


def build_routes(notify: Notifier | None = None) -> list[Route]:
    return [
        Route("/api/messagerie/fils", list_threads, methods=["GET"]),
        Route("/api/messagerie/fils/{thread_id:int}/messages", read_messages, methods=["GET"]),
        Route("/api/messagerie/fils/{thread_id:int}/messages", make_post_message(notify), methods=["POST"]),
        Route("/api/messagerie/pieces-jointes/{attachment_id:int}", download_attachment, methods=["GET"]),
    ]
