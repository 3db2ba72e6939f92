"""The laptop's HTTP side: talks to the server's sync routes with httpx.

Why a thin class over ``httpx.Client``: the same code runs against the real server (HTTPS), the
app in tests (Starlette's TestClient is an ``httpx.Client``) and the benchmarks' simulated slow
link (an httpx transport). Every answer carries the server time; the caller feeds it to the
hybrid clock. Refusals become ``SyncRefused`` with the server's French reason.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from mobile_sync.protocol import PullPage, PushResponse, SignedPullRequest, SignedPushBatch

ENROL_PATH = "/api/sync/inscription"
PUSH_PATH = "/api/sync/envoi"
PULL_PATH = "/api/sync/reception"
TIME_PATH = "/api/sync/heure"
COMPRESS_FROM = 1_024
"""Batches larger than this are gzipped (a médicobus link is slow; JSON compresses ~5×)."""


class SyncRefused(Exception):
    """The server said no (``status`` 4xx/5xx) or could not be reached (``status`` 0)."""

    def __init__(
        self, status: int, message: str, *, revoked: bool = False, server_time_ms: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.revoked = revoked
        self.server_time_ms = server_time_ms if isinstance(server_time_ms, int) else None


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    label: str
    user_id: int
    tour_id: int | None
    lease_days: int
    scope_epoch: int
    server_time_ms: int


class SyncClient:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    @classmethod
    def connect(cls, server_url: str, *, timeout: float = 30.0) -> SyncClient:
        if not server_url.startswith(("https://", "http://localhost", "http://127.0.0.1")):
            raise SyncRefused(0, "L'adresse du serveur doit commencer par https:// (données de santé).")
        return cls(httpx.Client(base_url=server_url, timeout=timeout))

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
        try:
            if isinstance(body, bytes):
                headers = {"Content-Type": "application/json"}
                if len(body) > COMPRESS_FROM:
                    body = gzip.compress(body, compresslevel=6)
                    headers["Content-Encoding"] = "gzip"
                response = self._http.post(path, content=body, headers=headers)
            else:
                response = self._http.post(path, json=body)
        except httpx.HTTPError as error:
            raise SyncRefused(
                0, f"Serveur injoignable ({type(error).__name__}) : réessayez plus tard."
            ) from error
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code >= 400:
            detail = answer.get("detail") or f"Refus du serveur (HTTP {response.status_code})."
            raise SyncRefused(
                response.status_code,
                str(detail),
                revoked=bool(answer.get("revoked") or answer.get("revoque")),
                server_time_ms=answer.get("heure_serveur_ms"),
            )
        return answer

    def push(self, signed: SignedPushBatch) -> PushResponse:
        answer = self._post(PUSH_PATH, signed.model_dump_json().encode())
        return self._parse(PushResponse, answer)

    def pull(self, signed: SignedPullRequest) -> PullPage:
        answer = self._post(PULL_PATH, signed.model_dump_json().encode())
        return self._parse(PullPage, answer)

    def server_time(self) -> int:
        """The server's clock (ms); ``SyncRefused(0, …)`` when it cannot be reached."""
        try:
            response = self._http.get(TIME_PATH)
            return int(response.json()["server_time_ms"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise SyncRefused(0, "Serveur injoignable : réessayez plus tard.") from error

    @staticmethod
    def _parse(model: Any, answer: dict[str, Any]) -> Any:
        try:
            return model.model_validate(answer)
        except ValidationError as error:
            raise SyncRefused(502, "Réponse du serveur illisible : rien n'a été appliqué.") from error

    def enrol(self, code: str, public_key: bytes) -> Enrolment:
        answer = self._post(ENROL_PATH, {"code": code, "cle_publique": base64.b64encode(public_key).decode()})
        try:
            return Enrolment(
                device_id=str(answer["appareil"]),
                label=str(answer["libelle"]),
                user_id=int(answer["utilisateur"]),
                tour_id=int(answer["tournee"]) if answer.get("tournee") is not None else None,
                lease_days=int(answer["bail_jours"]),
                scope_epoch=int(answer["epoque_perimetre"]),
                server_time_ms=int(answer["heure_serveur_ms"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SyncRefused(502, "Réponse du serveur incomplète : inscription non enregistrée.") from error
