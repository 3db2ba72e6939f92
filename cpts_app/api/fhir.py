"""GET /fhir/Slot: the read-only FHIR R4 slot search the national SAS calls (flow INT_R04).

Who may call it: the SAS only, with the bearer token this instance shares with it
(``Settings.sas_api_token``, from the environment variable ``CPTS_SAS_API_TOKEN``: a secret, so not
in the repository; no token set means the API is closed: 503). The comparison is constant-time.
Only free SNP/CPTS slots are returned. The Bundle is serialised in the worker thread, not on the
event loop (a 25-practitioner answer is several hundred kilobytes).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cpts_app.db import run_in_transaction
from cpts_app.services import fhir_sas
from cpts_app.settings import get_settings

FHIR_JSON = "application/fhir+json"


def _answer(body: dict[str, Any], status: int, **headers: str) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers or None)


def _refusal(request: Request) -> JSONResponse | None:
    """None when the caller holds the SAS token, else the OperationOutcome answer."""
    expected = get_settings().sas_api_token.get_secret_value()
    if not expected:
        return _answer(fhir_sas.operation_outcome("API SAS non configurée.", code="exception"), 503)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return _answer(
            fhir_sas.operation_outcome("Authentification requise : jeton Bearer manquant.", code="login"),
            401,
            **{"WWW-Authenticate": 'Bearer realm="sas"'},
        )
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        return _answer(fhir_sas.operation_outcome("Jeton d'accès refusé.", code="forbidden"), 403)
    return None


async def search_slots(request: Request) -> Response:
    """Parse, search in one transaction (the audit event is written with it), answer a Bundle."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    try:
        query = fhir_sas.parse_slot_search(list(request.query_params.multi_items()))
    except fhir_sas.BadSearch as error:
        return _answer(fhir_sas.operation_outcome(error.message), 400)
    base_url = get_settings().public_url
    ip = request.client.host if request.client else None

    def run(session: Session) -> dict[str, Any]:
        return fhir_sas.search_sas_slots(session, query, base_url=base_url, ip=ip)

    def search_and_serialise() -> bytes:
        bundle = run_in_transaction(run, write=True)
        return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    body = await asyncio.to_thread(search_and_serialise)
    return Response(body, status_code=200, media_type=FHIR_JSON)


routes = [Route("/fhir/Slot", search_slots, methods=["GET"])]
