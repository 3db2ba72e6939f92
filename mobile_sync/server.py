"""The server's sync routes, mounted in the app's API (``cpts_app.api.app``).

Why here and not in ``cpts_app.api``: the wire format (``mobile_sync.protocol``) and the server's
handling of it change together; this module turns HTTP into calls to ``cpts_app.services.sync``
and never holds domain rules itself. Every answer carries the server time (the laptop corrects
its hybrid clock with it) and refusals carry a French ``detail`` with a 4xx status.

Routes: enrolment (the laptop binds its public key with the admin's one-time code), push (a
signed batch of the outbox), pull (a signed request for the next page of the change feed) and the
server time (the laptop's online indicator and clock correction).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import time
import zlib
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cpts_app.db import run_in_transaction
from cpts_app.services.sync import devices
from cpts_app.services.sync.pull import pull as pull_page
from cpts_app.services.sync.push import push as push_batch
from mobile_sync.envelope import BadSignature, verify
from mobile_sync.protocol import (
    BAD_SIGNATURE,
    MAX_BATCH_BYTES,
    PULL_WINDOW_MS,
    ProtocolError,
    SignedPullRequest,
    batch_signing_body,
    parse_signed_batch,
    validation_error,
)

MAX_ENROLMENT_BYTES = 4_096
COMPRESS_FROM = 1_024
"""Bodies smaller than this go as they are: gzip's header would cost more than it saves."""


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


def _model_answer(model: Any, request: Request) -> Response:
    """JSON answer, gzip-compressed when the laptop accepts it (a day's records shrink ~5×)."""
    body = model.model_dump_json().encode()
    headers = {"Cache-Control": "no-store"}
    if len(body) > COMPRESS_FROM and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(body, media_type="application/json; charset=utf-8", headers=headers)


async def _raw_body(request: Request, limit: int) -> bytes:
    """The request body, inflated if the laptop gzipped it; ``ProtocolError(413)`` past ``limit``.

    Inflating stops at ``limit`` + 1 bytes: a small compressed bomb costs the server nothing.
    """
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise ProtocolError(415, "Encodage de la requête non pris en charge (gzip seulement).")
    inflater = zlib.decompressobj(wbits=31)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise ProtocolError(400, "Requête illisible : compression gzip invalide ou tronquée.") from None
    if len(body) > limit:
        raise ProtocolError(413, f"Requête trop volumineuse ({limit} octets au plus une fois décompressée).")
    if not inflater.eof:
        raise ProtocolError(400, "Requête illisible : compression gzip invalide ou tronquée.")
    return body


async def _authenticated(request_device: str, body: Any, signature: str, ip: str | None, action: str):
    """Load the device and check the signature in one short transaction; a refusal is audited."""

    def work(session) -> bytes:
        device = devices.device_for_contact(session, request_device, ip=ip)
        assert device.public_key is not None
        return device.public_key

    try:
        public_key = await asyncio.to_thread(run_in_transaction, work, write=True)
        verify(public_key, body, signature)
    except devices.DeviceRefused as refusal:
        await _record_refusal(action, refusal, request_device, ip)
        return _refusal(refusal.status, refusal.message, revoked=refusal.revoked)
    except BadSignature:
        refusal = devices.DeviceRefused(BAD_SIGNATURE, 401)
        await _record_refusal(action, refusal, request_device, ip)
        return _refusal(401, BAD_SIGNATURE)
    return None


def _device_work(device_id: str, ip: str | None, action):
    """A transaction that re-reads the device (it may have been revoked meanwhile) then acts."""

    def work(session):
        device = devices.device_for_contact(session, device_id, ip=ip)
        return action(session, device)

    return work


async def push(request: Request) -> Response:
    """POST /api/sync/envoi: a signed batch of outbox operations → results per operation."""
    received_ms = server_time_ms()
    try:
        raw = await _raw_body(request, MAX_BATCH_BYTES)
        signed = parse_signed_batch(raw)
    except ProtocolError as error:
        return _refusal(error.status, error.message)
    batch = signed.batch
    ip = _client_ip(request)
    refused = await _authenticated(
        batch.device_id, batch_signing_body(batch), signed.signature, ip, "sync.push_refused"
    )
    if refused is not None:
        return refused
    work = _device_work(
        batch.device_id,
        ip,
        lambda session, device: push_batch(session, device, batch, received_ms=received_ms, ip=ip),
    )
    try:
        response = await asyncio.to_thread(run_in_transaction, work, write=True)
    except devices.DeviceRefused as refusal:
        return _refusal(refusal.status, refusal.message, revoked=refusal.revoked)
    return _model_answer(response, request)


async def pull(request: Request) -> Response:
    """POST /api/sync/reception: a signed pull request → one page of the device's feed."""
    try:
        raw = await _raw_body(request, 4_096)
    except ProtocolError as error:
        return _refusal(error.status, error.message)
    try:
        signed = SignedPullRequest.model_validate_json(raw)
    except ValidationError as error:
        problem = validation_error(error)
        return _refusal(problem.status, problem.message)
    req = signed.request
    ip = _client_ip(request)
    refused = await _authenticated(
        req.device_id, req.model_dump(mode="json"), signed.signature, ip, "sync.pull_refused"
    )
    if refused is not None:
        return refused
    if abs(req.sent_at_ms - server_time_ms()) > PULL_WINDOW_MS:
        return _refusal(401, "Horloge du portable décalée : demande de réception refusée, réessayez.")
    work = _device_work(req.device_id, ip, lambda session, device: pull_page(session, device, req, ip=ip))
    try:
        page = await asyncio.to_thread(run_in_transaction, work, write=True)
    except devices.DeviceRefused as refusal:
        return _refusal(refusal.status, refusal.message, revoked=refusal.revoked)
    except ProtocolError as error:
        return _refusal(error.status, error.message)
    return _model_answer(page, request)


async def server_time(request: Request) -> Response:
    """GET /api/sync/heure: the laptop's online check and clock reference (no data, no auth)."""
    return _answer({"server_time_ms": server_time_ms()})


routes = [
    Route("/api/sync/inscription", enrol, methods=["POST"]),
    Route("/api/sync/envoi", push, methods=["POST"]),
    Route("/api/sync/reception", pull, methods=["POST"]),
    Route("/api/sync/heure", server_time, methods=["GET"]),
]
