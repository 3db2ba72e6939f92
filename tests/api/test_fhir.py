"""GET /fhir/Slot over HTTP: bearer token, FHIR JSON, 400 OperationOutcome in French, valid Bundle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cpts_app import db, settings
from cpts_app.api.app import build_api
from cpts_app.models.agenda import SlotKind
from cpts_app.models.audit import AuditEvent
from cpts_app.services.agenda.clock import PARIS
from cpts_app.services.fhir_sas_codes import IDNPS_SYSTEM
from tests.services import factories
from tests.services import feeds_factories as ff
from tests.services.fhir_validation import assert_valid_bundle, resources

TOKEN = "jeton-de-test-du-sas-0123456789abcdef"
PUBLIC_URL = "https://cpts.example.fr"


@pytest.fixture
def client(database_url: str, engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    monkeypatch.setenv("CPTS_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("CPTS_SAS_API_TOKEN", TOKEN)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    with TestClient(build_api(), base_url="https://localhost:3000") as test_client:
        yield test_client
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


@pytest.fixture
def practitioners(engine) -> list[str]:
    """25 GPs with RPPS, each with an SNP slot tomorrow at 09:00 Paris and a PUBLIC-only one at 10:00."""
    tomorrow = (datetime.now(UTC).astimezone(PARIS) + timedelta(days=1)).date()
    nine = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 0, tzinfo=PARIS).astimezone(UTC)
    numbers = []
    with Session(engine) as session:
        where = ff.place(session)
        for seed in range(1, 26):
            pro = ff.professional(session, seed, where)
            sched = ff.schedule(session, pro, where)
            ff.slot(session, sched, pro, nine, kind=SlotKind.UNSCHEDULED, audience="SNP,CPTS")
            ff.slot(
                session, sched, pro, nine + timedelta(hours=1), kind=SlotKind.CONSULTATION, audience="PUBLIC"
            )
            numbers.append("8" + pro.rpps)
        session.commit()
    return numbers


def _window() -> list[tuple[str, str]]:
    today = datetime.now(UTC).astimezone(PARIS).date()
    return [("start", f"ge{today.isoformat()}"), ("start", f"le{(today + timedelta(days=2)).isoformat()}")]


def _query(identifiers: list[str]) -> list[tuple[str, str]]:
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        ("_include", "Slot:service-type-reference"),
        ("_include:iterate", "HealthcareService:organization"),
        *_window(),
        ("schedule.actor:Practitioner.identifier", ",".join(f"{IDNPS_SYSTEM}|{i}" for i in identifiers)),
        ("status", "free"),
    ]


def _get(client: TestClient, params, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/fhir/Slot", params=params, headers=headers)


def test_one_practitioner(client: TestClient, practitioners: list[str]) -> None:
    response = _get(client, _query(practitioners[:1]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert_valid_bundle(body)
    assert body["total"] == 1
    slot = resources(body, "Slot")[0]
    assert slot["comment"].startswith(f"{PUBLIC_URL}/agenda/professionnel?id=")
    assert {c["code"] for c in slot["meta"]["security"]} == {"SNP", "CPTS"}
    assert resources(body, "Practitioner")[0]["identifier"][0]["value"] == practitioners[0]


def test_twenty_five_practitioners(client: TestClient, practitioners: list[str], engine) -> None:
    response = _get(client, _query(practitioners))
    assert response.status_code == 200
    body = response.json()
    assert_valid_bundle(body)
    assert body["total"] == 25
    assert len(resources(body, "Practitioner")) == 25
    with Session(engine) as session:
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == "fhir.slot.search")).first()
            is not None
        )


def test_twenty_six_practitioners_are_refused(client: TestClient, practitioners: list[str]) -> None:
    response = _get(client, _query([*practitioners, "8" + factories.rpps(500)]))
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "25 au plus" in outcome["issue"][0]["diagnostics"]


def test_malformed_date_gives_a_french_operation_outcome(
    client: TestClient, practitioners: list[str]
) -> None:
    params = [p for p in _query(practitioners[:1]) if p[0] != "start"]
    response = _get(client, [*params, ("start", "ge30/03/2026"), ("start", "le2026-04-01")])
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/fhir+json")
    issue = response.json()["issue"][0]
    assert issue["severity"] == "error" and issue["code"] == "invalid"
    assert "Date invalide" in issue["diagnostics"]


def test_unencoded_plus_in_the_offset_is_understood(client: TestClient, practitioners: list[str]) -> None:
    today = datetime.now(UTC).astimezone(PARIS).date()
    query = (
        f"start=ge{today.isoformat()}T00:00:00.000+01:00&start=le{(today + timedelta(days=2)).isoformat()}"
        f"T00:00:00.000+01:00&schedule.actor:Practitioner.identifier={IDNPS_SYSTEM}|{practitioners[0]}&status=free"
    )
    response = client.get(f"/fhir/Slot?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 1


def test_unknown_rpps_gives_an_empty_bundle(client: TestClient, practitioners: list[str]) -> None:
    response = _get(client, _query(["8" + factories.rpps(777)]))
    assert response.status_code == 200
    body = response.json()
    assert_valid_bundle(body)
    assert body["total"] == 0


def test_missing_token_is_401(client: TestClient, practitioners: list[str]) -> None:
    response = _get(client, _query(practitioners[:1]), token=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"


def test_wrong_token_is_403(client: TestClient, practitioners: list[str]) -> None:
    response = _get(client, _query(practitioners[:1]), token="mauvais-jeton")
    assert response.status_code == 403
    assert response.json()["issue"][0]["diagnostics"] == "Jeton d'accès refusé."


def test_unset_token_closes_the_api(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPTS_SAS_API_TOKEN")
    settings.get_settings.cache_clear()
    response = _get(client, _window())
    assert response.status_code == 503
    assert response.json()["issue"][0]["diagnostics"] == "API SAS non configurée."
