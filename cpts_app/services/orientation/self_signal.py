"""A patient signalling themself from the public page, without an account (« auto-signalement »).

Why a throttle per address: the page is public, so a script could flood the queue. Each client
address (hashed: the table never holds an IP in clear) may send ``MAX_PER_WINDOW`` signals per
``WINDOW``; beyond that the sender is asked to wait or call. The limit is per address, never
global, so that genuine patients elsewhere are never refused because of a flood.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cpts_app.models.directory import Commune
from cpts_app.models.orientation import (
    Referral,
    ReferralReason,
    ReferralSource,
    ReferralStatus,
    SelfSignalThrottle,
    Urgency,
)
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.identifiers import normalize_phone
from cpts_app.services.orientation.contact_traits import ContactTraits, format_traits
from cpts_app.services.orientation.events import add_event
from cpts_app.services.orientation.fields import (
    BAD_REASON,
    CONSENT_REQUIRED,
    REQUIRED,
    birth_date,
    bounded_text,
    choice,
    required_name,
)
from cpts_app.services.orientation.priority import score_referral

MAX_PER_WINDOW = 5
WINDOW = timedelta(hours=1)
MESSAGE_MAX = 3000
BAD_COMMUNE = "Cette commune n'existe pas."


class TooManySignals(DomainError):
    """Too many self-signals from one address within the window."""

    DEFAULT = (
        "Trop de demandes envoyées depuis cette connexion. "
        "Réessayez dans une heure ou appelez le secrétariat."
    )

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)


@dataclass
class SelfSignalForm:
    """The public form, as typed (strings)."""

    birth_name: str = ""
    first_names: str = ""
    birth_date: str = ""
    """YYYY-MM-DD (date input) or dd/mm/yyyy."""
    phone: str = ""
    commune_id: str = ""
    reason: str = ""
    message: str = ""
    consent: bool = False


def client_hash(client_key: str) -> str:
    """SHA-256 of the client's address: enough to count, useless to identify."""
    return hashlib.sha256(f"self_signal:{client_key}".encode()).hexdigest()


def _throttle_row(session: Session, key_hash: str, now: datetime) -> SelfSignalThrottle:
    row = session.exec(select(SelfSignalThrottle).where(col(SelfSignalThrottle.key_hash) == key_hash)).first()
    if row is not None:
        return row
    row = SelfSignalThrottle(key_hash=key_hash, window_started_at=now, count=0)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # Another request of the same address created it concurrently: use theirs.
        row = session.exec(
            select(SelfSignalThrottle).where(col(SelfSignalThrottle.key_hash) == key_hash)
        ).one()
    return row


def _check_throttle(session: Session, key_hash: str, now: datetime) -> SelfSignalThrottle:
    """The address's counter, reset when its window is over; ``TooManySignals`` when full."""
    row = _throttle_row(session, key_hash, now)
    if now - row.window_started_at >= WINDOW:
        row.window_started_at = now
        row.count = 0
    if row.count >= MAX_PER_WINDOW:
        raise TooManySignals()
    return row


def _commune(session: Session, errors: dict[str, str], raw: str) -> int | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not value.isdigit() or session.get(Commune, int(value)) is None:
        errors["commune_id"] = BAD_COMMUNE
        return None
    return int(value)


def self_signal(
    session: Session, form: SelfSignalForm, *, client_key: str, now: datetime | None = None
) -> int:
    """Create an « à qualifier » referral from the public form (no actor: the patient has no account)."""
    now = now or utcnow()
    key_hash = client_hash(client_key)
    throttle = _check_throttle(session, key_hash, now)
    errors: dict[str, str] = {}
    birth_name = required_name(errors, "birth_name", form.birth_name, 100)
    first_names = required_name(errors, "first_names", form.first_names, 150)
    born = birth_date(errors, form.birth_date)
    phone = ""
    if not (form.phone or "").strip():
        errors["phone"] = REQUIRED
    else:
        try:
            phone = normalize_phone(form.phone)
        except ValueError as exc:
            errors["phone"] = str(exc)
    commune_id = _commune(session, errors, form.commune_id)
    reason = choice(errors, "reason", form.reason, ReferralReason, BAD_REASON)
    message = bounded_text(errors, "message", form.message, MESSAGE_MAX)
    if not form.consent:
        errors["consent"] = CONSENT_REQUIRED
    if errors or reason is None:
        raise ValidationFailed(errors)
    throttle.count += 1
    session.add(throttle)
    urgency = Urgency.HALF_DAY if reason == ReferralReason.UNSCHEDULED_CARE else Urgency.SCHEDULED
    referral = Referral(
        patient_id=None,
        source=ReferralSource.PATIENT_FORM,
        reason=reason,
        urgency=urgency,
        consent_to_contact=True,
        free_text=format_traits(ContactTraits(birth_name.upper(), first_names, born)) + message,
        status=ReferralStatus.TO_QUALIFY,
        contact_name=f"{birth_name.upper()} {first_names}",
        contact_phone=phone,
        commune_id=commune_id,
        received_at=now,
        updated_at=now,
    )
    referral.priority_score = score_referral(referral, None, now=now).score
    session.add(referral)
    session.flush()
    assert referral.id is not None
    add_event(session, referral, ReferralStatus.TO_QUALIFY, at=now, reason="Auto-signalement (formulaire)")
    audit.record(
        session,
        "referral.self_signal",
        target_type="referral",
        target_id=referral.id,
        detail={"client": key_hash[:16], "reason": str(reason)},
    )
    session.flush()
    return referral.id
