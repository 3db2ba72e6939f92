"""GET /api/sante: is the database reachable (for load balancers and the run script)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cpts_app.db import get_engine


def _database_ok() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"; the reason stays in the server log
        return False
    return True


async def health(_request: Request) -> JSONResponse:
    ok = await asyncio.to_thread(_database_ok)
    return JSONResponse(
        {"statut": "ok" if ok else "base de données injoignable"}, status_code=200 if ok else 503
    )


routes = [Route("/api/sante", health, methods=["GET"])]
