"""The sign-in and sign-out HTTP routes: cookie flags, throttling, redirects, CSRF origin check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cpts_app import db, settings
from cpts_app.api.app import build_api
from cpts_app.models.access import UserSession
from cpts_app.models.audit import AuditEvent
from cpts_app.services import authentication
from cpts_app.services.session_token import SESSION_COOKIE
from tests.services import factories


@pytest.fixture
def client(database_url: str, engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    monkeypatch.setenv("CPTS_LOGIN_MAX_FAILURES", "3")
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    with Session(engine) as s:
        factories.user(s, email="claire@example.fr")
        s.commit()
    with TestClient(build_api(), base_url="https://localhost:3000") as test_client:
        yield test_client
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()


def _post(client: TestClient, path: str, data: dict[str, str], **headers: str):
    return client.post(path, data=data, headers=headers, follow_redirects=False)


def test_sign_in_sets_an_http_only_cookie_and_stores_only_its_hash(client: TestClient, engine) -> None:
    response = _post(
        client, "/auth/connexion", {"email": "Claire@Example.fr ", "password": factories.PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/annuaire"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in cookie
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    with Session(engine) as s:
        stored = s.exec(select(UserSession)).one()
        assert stored.token_hash != token and len(stored.token_hash) == 64
        assert authentication.resolve_session(s, token) is not None


def test_wrong_password_and_unknown_email_redirect_identically(client: TestClient) -> None:
    wrong = _post(client, "/auth/connexion", {"email": "claire@example.fr", "password": "faux-mot-de-passe"})
    unknown = _post(
        client, "/auth/connexion", {"email": "inconnu@example.fr", "password": "faux-mot-de-passe"}
    )
    assert wrong.status_code == unknown.status_code == 303
    assert wrong.headers["location"] == unknown.headers["location"] == "/connexion?erreur=identifiants"
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


def test_repeated_failures_lock_the_account_even_with_the_right_password(client: TestClient, engine) -> None:
    for _ in range(3):
        _post(client, "/auth/connexion", {"email": "claire@example.fr", "password": "faux"})
    response = _post(
        client, "/auth/connexion", {"email": "claire@example.fr", "password": factories.PASSWORD}
    )
    assert response.headers["location"].startswith("/connexion?erreur=verrouille&minutes=")
    assert "set-cookie" not in response.headers
    with Session(engine) as s:
        reasons = [e.detail for e in s.exec(select(AuditEvent).where(AuditEvent.outcome == "failure")).all()]
    assert len(reasons) == 4 and "locked" in reasons[-1]


def test_empty_fields_are_refused_without_a_lookup(client: TestClient) -> None:
    response = _post(client, "/auth/connexion", {"email": " ", "password": ""})
    assert response.headers["location"] == "/connexion?erreur=champs"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/connexion", "annuaire"])
def test_next_page_never_leaves_the_site(client: TestClient, target: str) -> None:
    response = _post(
        client,
        "/auth/connexion",
        {"email": "claire@example.fr", "password": factories.PASSWORD, "suite": target},
    )
    assert response.headers["location"] == "/annuaire"


def test_next_page_inside_the_site_is_followed(client: TestClient) -> None:
    data = {
        "email": "claire@example.fr",
        "password": factories.PASSWORD,
        "suite": "/annuaire/professionnel?id=3",
    }
    assert _post(client, "/auth/connexion", data).headers["location"] == "/annuaire/professionnel?id=3"


def test_cross_site_form_posts_are_refused(client: TestClient, engine) -> None:
    data = {"email": "claire@example.fr", "password": factories.PASSWORD}
    response = _post(client, "/auth/connexion", data, origin="https://evil.example")
    assert response.status_code == 403
    assert "origine" in response.text
    with Session(engine) as s:
        assert s.exec(select(UserSession)).first() is None


def test_sign_out_revokes_the_session_and_clears_the_cookie(client: TestClient, engine) -> None:
    _post(client, "/auth/connexion", {"email": "claire@example.fr", "password": factories.PASSWORD})
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    response = _post(client, "/auth/deconnexion", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?info=deconnexion"
    assert (
        f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    with Session(engine) as s:
        assert authentication.resolve_session(s, token) is None
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "auth.sign_out")).first() is not None


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/api/sante")
    assert response.status_code == 200
    assert response.json() == {"statut": "ok"}
