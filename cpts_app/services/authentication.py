"""Accounts, sign-in with throttling, and server-side sessions.

Why server-side sessions: a cookie holds only a random token; the database holds its SHA-256, so a
session can be revoked at once (sign-out, deactivated account) and a stolen database copy holds no
usable token. This module never sees HTTP: the caller sets the cookie, awaits ``delay_seconds``
and commits the transaction (a failed sign-in must be persisted, so failures return, not raise).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from cpts_app.models.access import LoginThrottle, Role, User, UserSession
from cpts_app.models.types import utcnow
from cpts_app.services import audit, passwords
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.identifiers import normalize_email
from cpts_app.services.permissions import Actor
from cpts_app.settings import Settings, get_settings

BAD_CREDENTIALS_MESSAGE = "Adresse e-mail ou mot de passe incorrect."
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` is written at most once a minute: one write per page view would be wasteful."""
MAX_DELAY_SECONDS = 4.0


@dataclass(frozen=True)
class SignInOutcome:
    """The answer to a sign-in attempt: a token and an actor, or a French message."""

    token: str | None
    actor: Actor | None
    message: str | None
    delay_seconds: float
    locked_minutes: int | None = None
    """Set when the e-mail is locked: minutes left, for the page to say when to retry."""


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _email_key(email: str) -> str:
    """The normalised e-mail used as throttle key, even when it is not a valid address."""
    try:
        return normalize_email(email)
    except ValueError:
        return (email or "").strip().lower()


def _delay_for(failures: int) -> float:
    """Seconds the caller waits before answering: doubles with each failure, capped."""
    if failures <= 0:
        return 0.0
    return min(0.25 * 2 ** (failures - 1), MAX_DELAY_SECONDS)


def _minutes_left(locked_until: datetime, now: datetime) -> int:
    return max(1, math.ceil((locked_until - now).total_seconds() / 60))


def _lock_message(locked_until: datetime, now: datetime) -> str:
    minutes = _minutes_left(locked_until, now)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Trop de tentatives de connexion. Réessayez dans {minutes} {unit}."


def _actor_for(user: User, ip: str | None) -> Actor:
    assert user.id is not None
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        display_name=user.display_name,
        professional_id=user.professional_id,
        ip=ip,
    )


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    professional_id: int | None = None,
) -> User:
    """Add an account with an Argon2id hash; all field errors are reported together."""
    errors: dict[str, str] = {}
    normalised = ""
    try:
        normalised = normalize_email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    if len(password or "") < passwords.MIN_PASSWORD_LENGTH:
        errors["password"] = (
            f"Le mot de passe doit comporter au moins {passwords.MIN_PASSWORD_LENGTH} caractères."
        )
    name = (display_name or "").strip()
    if not name:
        errors["display_name"] = "Ce champ est obligatoire."
    elif len(name) > 200:
        errors["display_name"] = "Ce champ ne doit pas dépasser 200 caractères."
    if normalised and session.exec(select(User.id).where(User.email == normalised)).first() is not None:
        errors["email"] = "Un compte existe déjà avec cette adresse e-mail."
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=normalised,
        password_hash=passwords.hash_password(password),
        role=Role(role),
        display_name=name,
        professional_id=professional_id,
    )
    session.add(user)
    session.flush()
    return user


def sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> SignInOutcome:
    """Check the credentials, throttle per e-mail, open a session on success.

    The answer is the same whether or not the account exists (same message, a password check of
    similar cost against a dummy hash) so that sign-in cannot be used to list accounts.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    key = _email_key(email)
    key_hash = _sha256(key)

    throttle = session.exec(select(LoginThrottle).where(LoginThrottle.key_hash == key_hash)).first()
    if throttle is not None:
        if throttle.locked_until is not None and throttle.locked_until > now:
            audit.record(
                session,
                "auth.sign_in",
                outcome="failure",
                ip=ip,
                detail={"reason": "locked", "email_hash": key_hash},
            )
            session.flush()
            return SignInOutcome(
                token=None,
                actor=None,
                message=_lock_message(throttle.locked_until, now),
                delay_seconds=_delay_for(throttle.failures),
                locked_minutes=_minutes_left(throttle.locked_until, now),
            )
        window = timedelta(minutes=settings.login_window_minutes)
        if throttle.locked_until is not None or now - throttle.window_started_at > window:
            throttle.failures = 0
            throttle.window_started_at = now
            throttle.locked_until = None

    user = session.exec(select(User).where(User.email == key)).first() if key else None
    if user is not None:
        password_ok = passwords.verify_password(password or "", user.password_hash)
        accepted = password_ok and user.active
    else:
        passwords.verify_password(password or "", passwords.DUMMY_HASH)
        accepted = False

    if accepted and user is not None:
        if throttle is not None:
            session.delete(throttle)
        token = secrets.token_urlsafe(32)
        session.add(
            UserSession(
                token_hash=_sha256(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.session_absolute_hours),
                ip=ip[:64] if ip else None,
                user_agent=user_agent[:300] if user_agent else None,
            )
        )
        audit.record(session, "auth.sign_in", actor_user_id=user.id, ip=ip)
        session.flush()
        return SignInOutcome(token=token, actor=_actor_for(user, ip), message=None, delay_seconds=0.0)

    if throttle is None:
        throttle = LoginThrottle(key_hash=key_hash, failures=0, window_started_at=now)
        session.add(throttle)
    throttle.failures += 1
    message = BAD_CREDENTIALS_MESSAGE
    locked_minutes = None
    if throttle.failures >= settings.login_max_failures:
        throttle.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
        message = _lock_message(throttle.locked_until, now)
        locked_minutes = _minutes_left(throttle.locked_until, now)
    audit.record(
        session,
        "auth.sign_in",
        outcome="failure",
        target_type="user" if user is not None else None,
        target_id=user.id if user is not None else None,
        ip=ip,
        detail={"reason": "bad_credentials", "email_hash": key_hash, "failures": throttle.failures},
    )
    session.flush()
    return SignInOutcome(
        token=None,
        actor=None,
        message=message,
        delay_seconds=_delay_for(throttle.failures),
        locked_minutes=locked_minutes,
    )


def _find_session(session: Session, token: str | None) -> UserSession | None:
    if not token:
        return None
    return session.exec(select(UserSession).where(UserSession.token_hash == _sha256(token))).first()


def resolve_session(
    session: Session,
    token: str | None,
    *,
    ip: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    touch: bool = True,
) -> Actor | None:
    """The actor behind a session token, or None when it is unknown, revoked or expired.

    ``touch=False`` for what the server does on its own (a live update pushed to an open tab):
    it checks the session without counting as the user's activity, so an idle tab still expires.
    """
    user_session = _find_session(session, token)
    if user_session is None or user_session.revoked_at is not None:
        return None
    settings = settings or get_settings()
    now = now or utcnow()
    idle_limit = user_session.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    user = session.get(User, user_session.user_id)
    if now >= user_session.expires_at or now >= idle_limit or user is None or not user.active:
        user_session.revoked_at = now
        session.flush()
        return None
    if touch and now - user_session.last_seen_at >= LAST_SEEN_RESOLUTION:
        user_session.last_seen_at = now
        session.flush()
    return _actor_for(user, ip)


def sign_out(session: Session, token: str | None, *, ip: str | None = None) -> None:
    """Revoke the session of ``token`` if it is still open."""
    user_session = _find_session(session, token)
    if user_session is None or user_session.revoked_at is not None:
        return
    user_session.revoked_at = utcnow()
    audit.record(session, "auth.sign_out", actor_user_id=user_session.user_id, ip=ip)
    session.flush()


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """Close every open session of a user (password change, deactivation); returns how many."""
    now = utcnow()
    open_sessions = session.exec(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))  # type: ignore[union-attr]
    ).all()
    for user_session in open_sessions:
        user_session.revoked_at = now
    session.flush()
    return len(open_sessions)
