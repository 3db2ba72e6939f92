"""The public self-signal: validation in French, consent, and a flood slowed down per address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.audit import AuditEvent
from cpts_app.models.orientation import Referral, SelfSignalThrottle
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.orientation.contact_traits import parse_traits
from cpts_app.services.orientation.referrals import SelfSignalForm, TooManySignals, self_signal
from tests.services import factories
from tests.services.orientation.factories import NOW

FLOOD_MESSAGE = (
    "Trop de demandes envoyées depuis cette connexion. Réessayez dans une heure ou appelez le secrétariat."
)


def _form(**changes: object) -> SelfSignalForm:
    values: dict[str, object] = {
        "birth_name": "Dupré",
        "first_names": "Hélène Marie",
        "birth_date": "1948-03-12",
        "phone": "06 12 34 56 78",
        "commune_id": "",
        "reason": "recherche_medecin_traitant",
        "message": "Mon médecin part à la retraite.",
        "consent": True,
    }
    values.update(changes)
    return SelfSignalForm(**values)  # type: ignore[arg-type]


def _signal(engine: Engine, form: SelfSignalForm, client: str, now=NOW) -> int:  # type: ignore[no-untyped-def]
    """One request = one transaction, as the public page's handler does."""
    with Session(engine) as session:
        try:
            referral_id = self_signal(session, form, client_key=client, now=now)
            session.commit()
            return referral_id
        except Exception:
            session.rollback()
            raise


def test_a_self_signal_lands_to_qualify(session: Session, engine: Engine) -> None:
    commune = factories.commune(session, "Bègles", "33039")
    session.commit()
    referral_id = _signal(engine, _form(commune_id=str(commune.id), birth_date="12/03/1948"), "198.51.100.4")
    referral = session.get(Referral, referral_id)
    assert referral is not None
    assert (referral.source, referral.status, referral.patient_id) == (
        "patient_formulaire",
        "a_qualifier",
        None,
    )
    assert referral.contact_name == "DUPRÉ Hélène Marie"
    assert referral.contact_phone == "+33612345678"
    assert referral.commune_id == commune.id
    traits = parse_traits(referral.free_text)
    assert (traits.birth_name, traits.first_names, str(traits.birth_date)) == (
        "DUPRÉ",
        "Hélène Marie",
        "1948-03-12",
    )
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "referral.self_signal")).one()
    assert audit.actor_user_id is None
    assert "198.51.100.4" not in audit.detail
    throttle = session.exec(select(SelfSignalThrottle)).one()
    assert "198.51.100.4" not in throttle.key_hash


def test_bad_input_gets_french_messages_and_nothing_saved(session: Session, engine: Engine) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _signal(
            engine,
            _form(
                birth_name=" ", birth_date="1948-02-30", phone="12", reason="", consent=False, commune_id="77"
            ),
            "198.51.100.5",
        )
    assert caught.value.errors == {
        "birth_name": "Ce champ est obligatoire.",
        "birth_date": "Date de naissance impossible.",
        "phone": "Le numéro de téléphone n'est pas un numéro valide.",
        "commune_id": "Cette commune n'existe pas.",
        "reason": "Ce champ est obligatoire.",
        "consent": "Le consentement du patient à être contacté est requis.",
    }
    assert session.exec(select(Referral)).all() == []


def test_a_flood_from_one_address_is_slowed_down_not_others(session: Session, engine: Engine) -> None:
    accepted, refused = [], []
    for i in range(20):
        try:
            accepted.append(
                _signal(engine, _form(first_names=f"Essai {i}"), "203.0.113.66", NOW + timedelta(seconds=i))
            )
        except TooManySignals as exc:
            refused.append(exc.message)
    assert len(accepted) == 5
    assert refused == [FLOOD_MESSAGE] * 15
    # A genuine patient behind another address is not affected…
    assert _signal(engine, _form(), "192.0.2.10", NOW + timedelta(minutes=1))
    # …and the flooding address may send again once the hour is over.
    assert _signal(engine, _form(), "203.0.113.66", NOW + timedelta(hours=1, seconds=1))
    assert len(session.exec(select(Referral)).all()) == 7
