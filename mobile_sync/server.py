"""The server's sync routes, mounted in the app's API (``cpts_app.api.app``).

Why here and not in ``cpts_app.api``: the wire format (``mobile_sync.protocol``) and the server's
handling of it change together; this module turns HTTP into calls to ``cpts_app.services.sync``
and never holds domain rules itself. Every answer carries the server time (the laptop corrects
its hybrid clock with it) and refusals carry a French ``detail`` with a 4xx status.

This stop: enrolment (the laptop binds its public key with the admin's one-time code).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cpts_app.db import run_in_transaction
from cpts_app.services.sync import devices

MAX_ENROLMENT_BYTES = 4_096


def server_time_ms() -> int:
    return time.time_ns() // 1_000_000


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    content = json.dumps({**body, "heure_serveur_ms": server_time_ms()}, ensure_ascii=False)
    return Response(
        content,
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _refusal(status: int, detail: str, **extra: Any) -> Response:
    return _answer({"detail": detail, **extra}, status)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _json_body(request: Request, limit: int) -> dict[str, Any] | Response:
    raw = await request.body()
    if len(raw) > limit:
        return _refusal(413, f"Requête trop volumineuse ({limit} octets au plus).")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _refusal(400, "Requête illisible : JSON invalide ou tronqué.")
    if not isinstance(body, dict):
        return _refusal(400, "Requête illisible : un objet JSON est attendu.")
    return body


async def _record_refusal(
    action: str, refusal: devices.DeviceRefused, device_id: str | None, ip: str | None
) -> None:
    def work(session) -> None:
        devices.record_refusal(session, action, refusal, device_id=device_id, ip=ip)

    await asyncio.to_thread(run_in_transaction, work, write=True)


async def enrol(request: Request) -> Response:
    """POST /api/sync/inscription {"code": "ABCD-EFGH-JKMN", "cle_publique": base64 of 32 bytes}."""
    body = await _json_body(request, MAX_ENROLMENT_BYTES)
    if isinstance(body, Response):
        return body
    code, key_text = body.get("code"), body.get("cle_publique")
    if not isinstance(code, str) or not isinstance(key_text, str):
        return _refusal(422, "Champs attendus : « code » et « cle_publique » (texte).")
    try:
        public_key = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        return _refusal(422, "« cle_publique » doit être en base64.")
    ip = _client_ip(request)

    def work(session) -> dict[str, Any]:
        device = devices.claim_enrolment(session, code, public_key, ip=ip)
        return {
            "appareil": device.device_id,
            "libelle": device.label,
            "utilisateur": device.user_id,
            "tournee": device.tour_id,
            "bail_jours": device.lease_days,
            "epoque_perimetre": device.scope_epoch,
        }

    try:
        enrolled = await asyncio.to_thread(run_in_transaction, work, write=True)
    except devices.DeviceRefused as refusal:
        await _record_refusal("sync.device.enrolment_refused", refusal, None, ip)
        return _refusal(refusal.status, refusal.message)
    return _answer(enrolled, 201)


routes = [Route("/api/sync/inscription", enrol, methods=["POST"])]
