"""Sign-in, throttling and server-side sessions."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.access import LoginThrottle, Role, User, UserSession
from cpts_app.models.audit import AuditEvent
from cpts_app.services import authentication as auth
from cpts_app.services import passwords
from cpts_app.services.errors import ValidationFailed
from cpts_app.settings import Settings
from tests.services import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = Settings(
    login_max_failures=3,
    login_window_minutes=15,
    login_lock_minutes=10,
    session_idle_minutes=30,
    session_absolute_hours=12,
)
EMAIL = "marie.lefevre@example.fr"


def _sign_in(
    session: Session, password: str, *, email: str = EMAIL, now: datetime = T0
) -> auth.SignInOutcome:
    outcome = auth.sign_in(
        session,
        email=email,
        password=password,
        ip="198.51.100.4",
        user_agent="pytest",
        settings=SETTINGS,
        now=now,
    )
    session.commit()
    return outcome


def _audit(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)).all())


def test_create_user_hashes_and_normalises(session: Session) -> None:
    user = auth.create_user(
        session,
        email=" Anne.Martin@Example.fr ",
        password="douze caracteres",
        role=Role.COORDINATOR,
        display_name="Anne Martin",
    )
    session.commit()
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.email == "anne.martin@example.fr"
    assert stored.password_hash != "douze caracteres"
    assert passwords.verify_password("douze caracteres", stored.password_hash)


def test_create_user_reports_all_errors(session: Session) -> None:
    with pytest.raises(ValidationFailed) as info:
        auth.create_user(
            session, email="pas-une-adresse", password="court", role=Role.ADMIN, display_name="X"
        )
    assert set(info.value.errors) == {"email", "password"}
    assert "12 caractères" in info.value.errors["password"]
    assert session.exec(select(User)).all() == []


def test_create_user_duplicate_email(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    with pytest.raises(ValidationFailed) as info:
        auth.create_user(
            session, email=EMAIL.upper(), password="douze caracteres", role=Role.ADMIN, display_name="Y"
        )
    assert info.value.errors == {"email": "Un compte existe déjà avec cette adresse e-mail."}


def test_sign_in_success_opens_a_hashed_session(session: Session) -> None:
    user = factories.user(session, email=EMAIL, role=Role.COORDINATOR)
    session.commit()
    outcome = _sign_in(session, factories.PASSWORD, email="  MARIE.Lefevre@example.fr")
    assert outcome.message is None
    assert outcome.delay_seconds == 0
    assert outcome.token and len(outcome.token) >= 40
    assert outcome.actor is not None
    assert (outcome.actor.user_id, outcome.actor.role) == (user.id, Role.COORDINATOR)
    stored = session.exec(select(UserSession)).one()
    assert stored.token_hash == hashlib.sha256(outcome.token.encode()).hexdigest()
    assert stored.token_hash != outcome.token
    assert stored.expires_at == T0 + timedelta(hours=12)
    events = _audit(session)
    assert [(e.action, e.outcome, e.actor_user_id, e.ip) for e in events] == [
        ("auth.sign_in", "success", user.id, "198.51.100.4")
    ]


def test_wrong_password_and_unknown_email_get_the_same_answer(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    wrong = _sign_in(session, "mauvais mot de passe")
    unknown = _sign_in(session, "mauvais mot de passe", email="personne@example.fr")
    assert wrong.message == unknown.message == "Adresse e-mail ou mot de passe incorrect."
    assert wrong.token is None and unknown.token is None
    assert wrong.actor is None and unknown.actor is None
    assert wrong.delay_seconds == unknown.delay_seconds > 0
    assert session.exec(select(UserSession)).all() == []
    assert len(session.exec(select(LoginThrottle)).all()) == 2


def test_unknown_email_still_checks_a_password(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real_verify = passwords.verify_password

    def spy(password: str, encoded: str) -> bool:
        checked.append(encoded)
        return real_verify(password, encoded)

    monkeypatch.setattr(passwords, "verify_password", spy)
    _sign_in(session, "quelconque", email="personne@example.fr")
    assert checked == [passwords.DUMMY_HASH]


def test_failure_audit_never_holds_password_nor_email(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    _sign_in(session, "secret-tape-par-erreur")
    _sign_in(session, "autre-secret", email="inconnu@example.fr")
    events = _audit(session)
    assert [(e.action, e.outcome) for e in events] == [("auth.sign_in", "failure")] * 2
    for event in events:
        assert "secret" not in event.detail
        assert "@example.fr" not in event.detail
        assert json.loads(event.detail)["reason"] == "bad_credentials"
    assert json.loads(events[0].detail)["email_hash"] == hashlib.sha256(EMAIL.encode()).hexdigest()


def test_delay_grows_with_failures(session: Session) -> None:
    delays = [_sign_in(session, "faux", now=T0 + timedelta(seconds=i)).delay_seconds for i in range(3)]
    assert delays == sorted(delays)
    assert delays[0] < delays[1] < delays[2] <= 4.0


def test_lock_after_max_failures_even_with_right_password(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    for i in range(SETTINGS.login_max_failures):
        outcome = _sign_in(session, "faux", now=T0 + timedelta(minutes=i))
    assert outcome.message == "Trop de tentatives de connexion. Réessayez dans 10 minutes."
    locked_at = T0 + timedelta(minutes=SETTINGS.login_max_failures - 1)
    right = _sign_in(session, factories.PASSWORD, now=locked_at + timedelta(minutes=3, seconds=30))
    assert right.token is None
    assert right.message == "Trop de tentatives de connexion. Réessayez dans 7 minutes."
    assert session.exec(select(UserSession)).all() == []
    assert json.loads(_audit(session)[-1].detail)["reason"] == "locked"


def test_lock_applies_to_unknown_emails_too(session: Session) -> None:
    for _ in range(SETTINGS.login_max_failures):
        _sign_in(session, "faux", email="personne@example.fr")
    outcome = _sign_in(session, "faux", email="personne@example.fr", now=T0 + timedelta(minutes=1))
    assert outcome.message is not None and outcome.message.startswith("Trop de tentatives")


def test_lock_expires(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    for _ in range(SETTINGS.login_max_failures):
        _sign_in(session, "faux")
    later = T0 + timedelta(minutes=SETTINGS.login_lock_minutes, seconds=1)
    outcome = _sign_in(session, factories.PASSWORD, now=later)
    assert outcome.token is not None
    assert session.exec(select(LoginThrottle)).all() == []


def test_failures_outside_the_window_are_forgotten(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    for _ in range(SETTINGS.login_max_failures - 1):
        _sign_in(session, "faux")
    later = T0 + timedelta(minutes=SETTINGS.login_window_minutes + 1)
    outcome = _sign_in(session, "faux", now=later)
    assert outcome.message == "Adresse e-mail ou mot de passe incorrect."
    assert session.exec(select(LoginThrottle)).one().failures == 1


def test_success_resets_the_throttle(session: Session) -> None:
    factories.user(session, email=EMAIL)
    session.commit()
    for _ in range(SETTINGS.login_max_failures - 1):
        _sign_in(session, "faux")
    assert _sign_in(session, factories.PASSWORD).token is not None
    outcome = _sign_in(session, "faux")
    assert outcome.message == "Adresse e-mail ou mot de passe incorrect."
    assert session.exec(select(LoginThrottle)).one().failures == 1


def test_inactive_user_fails_like_a_wrong_password(session: Session) -> None:
    factories.user(session, email=EMAIL, active=False)
    session.commit()
    outcome = _sign_in(session, factories.PASSWORD)
    assert outcome.token is None
    assert outcome.message == "Adresse e-mail ou mot de passe incorrect."


def _signed_in(session: Session) -> str:
    factories.user(session, email=EMAIL)
    session.commit()
    token = _sign_in(session, factories.PASSWORD).token
    assert token is not None
    return token


def _resolve(session: Session, token: str | None, now: datetime) -> auth.Actor | None:
    actor = auth.resolve_session(session, token, ip="192.0.2.1", settings=SETTINGS, now=now)
    session.commit()
    return actor


def test_resolve_session_and_last_seen_throttling(session: Session) -> None:
    token = _signed_in(session)
    actor = _resolve(session, token, T0 + timedelta(seconds=30))
    assert actor is not None and actor.ip == "192.0.2.1"
    assert session.exec(select(UserSession)).one().last_seen_at == T0
    assert _resolve(session, token, T0 + timedelta(minutes=5)) is not None
    assert session.exec(select(UserSession)).one().last_seen_at == T0 + timedelta(minutes=5)


def test_resolve_session_rejects_missing_and_unknown_tokens(session: Session) -> None:
    _signed_in(session)
    assert _resolve(session, None, T0) is None
    assert _resolve(session, "", T0) is None
    assert _resolve(session, "not-a-token", T0) is None


def test_idle_expiry_revokes(session: Session) -> None:
    token = _signed_in(session)
    assert _resolve(session, token, T0 + timedelta(minutes=29)) is not None
    assert _resolve(session, token, T0 + timedelta(minutes=29 + 31)) is None
    assert session.exec(select(UserSession)).one().revoked_at is not None
    assert _resolve(session, token, T0 + timedelta(minutes=61)) is None


def test_absolute_expiry_even_when_active(session: Session) -> None:
    token = _signed_in(session)
    for minutes in range(20, 12 * 60, 20):
        assert _resolve(session, token, T0 + timedelta(minutes=minutes)) is not None
    assert _resolve(session, token, T0 + timedelta(hours=12)) is None
    assert session.exec(select(UserSession)).one().revoked_at is not None


def test_deactivated_user_loses_the_session(session: Session) -> None:
    token = _signed_in(session)
    user = session.exec(select(User)).one()
    user.active = False
    session.commit()
    assert _resolve(session, token, T0 + timedelta(minutes=1)) is None


def test_sign_out_revokes_and_audits(session: Session) -> None:
    token = _signed_in(session)
    auth.sign_out(session, token, ip="192.0.2.9")
    session.commit()
    assert _resolve(session, token, T0 + timedelta(minutes=1)) is None
    event = _audit(session)[-1]
    assert (event.action, event.ip) == ("auth.sign_out", "192.0.2.9")
    auth.sign_out(session, token)
    auth.sign_out(session, None)
    session.commit()
    assert [e.action for e in _audit(session)].count("auth.sign_out") == 1


def test_revoke_user_sessions(session: Session) -> None:
    token = _signed_in(session)
    second = _sign_in(session, factories.PASSWORD).token
    user = session.exec(select(User)).one()
    assert user.id is not None
    assert auth.revoke_user_sessions(session, user.id) == 2
    session.commit()
    assert _resolve(session, token, T0) is None
    assert _resolve(session, second, T0) is None
    assert auth.revoke_user_sessions(session, user.id) == 0
