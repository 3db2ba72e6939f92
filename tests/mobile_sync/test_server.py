"""POST /api/sync/inscription: a laptop binds its key with the admin's one-time code."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, select

from cpts_app.models.audit import AuditEvent
from cpts_app.models.sync import SyncDevice


def _key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_enrolment_binds_the_key_once_and_answers_with_the_server_time(api, code, engine) -> None:
    response = api.post("/api/sync/inscription", json={"code": code, "cle_publique": _key()})
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["appareil"]) == 32 and body["bail_jours"] == 7 and body["heure_serveur_ms"] > 0
    assert response.headers["cache-control"] == "no-store"
    again = api.post("/api/sync/inscription", json={"code": code, "cle_publique": _key()})
    assert again.status_code == 403 and "déjà utilisé" in again.json()["detail"]
    assert again.json()["heure_serveur_ms"] > 0
    with Session(engine) as session:
        (device,) = session.exec(select(SyncDevice)).all()
        assert device.public_key is not None
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.action == "sync.device.enrolment_refused")
        ).all()
        assert len(refused) == 1  # the refusal is audited although its transaction rolled back


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b"{not json", 400, "JSON invalide"),
        (b"[1, 2]", 400, "objet JSON"),
        (b'{"code": 3}', 422, "« code »"),
        (b'{"code": "ABCD", "cle_publique": "%%%"}', 422, "base64"),
        (b'{"code": "ABCD", "cle_publique": "' + b"A" * 5000 + b'"}', 413, "trop volumineuse"),
        (b'{"code": "ABCD-EFGH-JKMN", "cle_publique": "AAAA"}', 400, "Ed25519"),
    ],
)
def test_bad_enrolment_requests_get_a_french_reason(api, code, engine, payload, status, fragment) -> None:
    response = api.post(
        "/api/sync/inscription", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert fragment in response.json()["detail"]
    with Session(engine) as session:
        assert session.exec(select(SyncDevice)).one().public_key is None  # nothing bound
