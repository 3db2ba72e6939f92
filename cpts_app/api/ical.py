"""GET /agenda/ical/{token}.ics: a professional's agenda for calendar clients (no cookie, no session).

Why over plain HTTP: calendar clients poll a URL; the secret in it is the credential. Unknown and
revoked secrets get the same 404, so the URL reveals nothing. Clients may cache for five minutes.
"""

from __future__ import annotations

import asyncio
import re

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cpts_app.db import run_in_transaction
from cpts_app.services import calendar_feed

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
NOT_FOUND = "Agenda introuvable : ce lien est inconnu ou a été révoqué."


async def calendar(request: Request) -> Response:
    token = str(request.path_params.get("token", ""))
    if not _TOKEN.match(token):
        return PlainTextResponse(NOT_FOUND, status_code=404)

    def run(session: Session) -> bytes | None:
        return calendar_feed.feed_for_token(session, token)

    body = await asyncio.to_thread(lambda: run_in_transaction(run, write=True))
    if body is None:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": 'inline; filename="agenda.ics"',
        },
    )


routes = [Route("/agenda/ical/{token}.ics", calendar, methods=["GET"])]
