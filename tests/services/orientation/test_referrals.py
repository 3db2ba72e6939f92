"""A professional's referral: source from the profession, consent required, event and audit."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Profession
from cpts_app.models.orientation import Referral, ReferralEvent
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from cpts_app.services.orientation.referrals import ReferralForm, refer
from tests.services import factories
from tests.services.agenda import factories as agenda
from tests.services.orientation.factories import NOW, build_world, make_patient


def _form(patient_id: int, **changes: object) -> ReferralForm:
    values: dict[str, object] = {
        "patient_id": str(patient_id),
        "reason": "maladie_chronique_ald",
        "urgency": "demi_journee",
        "consent_to_contact": True,
        "free_text": "Patiente diabétique, plus de médecin traitant depuis janvier.",
    }
    values.update(changes)
    return ReferralForm(**values)  # type: ignore[arg-type]


def test_pharmacist_refers_a_patient(session: Session) -> None:
    world = build_world(session)
    patient = make_patient(session, ald=True, commune_id=world.t.bordeaux.id)
    referral_id = refer(session, world.pharmacist_actor, _form(patient.id), now=NOW)
    session.commit()
    referral = session.get(Referral, referral_id)
    assert referral is not None
    assert (referral.source, referral.status, referral.patient_id) == ("pharmacien", "recue", patient.id)
    assert referral.commune_id == world.t.bordeaux.id
    assert referral.referrer_user_id == world.pharmacist_actor.user_id
    assert referral.priority_score == 50 + 30
    events = session.exec(select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)).all()
    assert [e.to_status for e in events] == ["recue"]
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "referral.create")).one()
    assert audit.target_id == str(referral_id)
    assert "diabétique" not in audit.detail


@pytest.mark.parametrize(
    ("profession", "specialty", "source"),
    [
        (Profession.NURSE, None, "infirmier"),
        (Profession.ADVANCED_PRACTICE_NURSE, None, "infirmier"),
        (Profession.GENERAL_PRACTITIONER, None, "medecin"),
        (Profession.SPECIALIST, "Médecine d'urgence", "urgentiste"),
        (Profession.PHYSIOTHERAPIST, None, "autre_professionnel"),
    ],
)
def test_source_follows_the_profession(session: Session, profession: Profession, specialty, source) -> None:  # type: ignore[no-untyped-def]
    pro = factories.professional(session, "Alex", "Roux", profession)
    pro.specialty = specialty
    actor = agenda.actor(session, Role.PROFESSIONAL, pro)
    patient = make_patient(session)
    referral_id = refer(session, actor, _form(patient.id), now=NOW)
    assert session.get(Referral, referral_id).source == source  # type: ignore[union-attr]


def test_without_a_professional_record_the_source_is_other(session: Session) -> None:
    world = build_world(session)
    patient = make_patient(session)
    referral_id = refer(session, world.coordinator, _form(patient.id), now=NOW)
    assert session.get(Referral, referral_id).source == "autre_professionnel"  # type: ignore[union-attr]


def test_consent_is_required_and_nothing_is_written(session: Session) -> None:
    world = build_world(session)
    patient = make_patient(session)
    session.commit()
    with pytest.raises(ValidationFailed) as caught:
        refer(session, world.pharmacist_actor, _form(patient.id, consent_to_contact=False))
    assert caught.value.errors == {
        "consent_to_contact": "Le consentement du patient à être contacté est requis."
    }
    session.rollback()
    assert session.exec(select(Referral)).all() == []


def test_every_bad_field_is_reported_at_once(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(ValidationFailed) as caught:
        refer(
            session,
            world.pharmacist_actor,
            ReferralForm(
                patient_id="999", reason="vacances", urgency="", consent_to_contact=True, free_text="x" * 4001
            ),
        )
    assert set(caught.value.errors) == {"patient_id", "reason", "urgency", "free_text"}
    assert caught.value.errors["patient_id"] == "Ce patient n'existe pas."
    assert caught.value.errors["urgency"] == "Ce champ est obligatoire."


def test_a_role_without_patient_creation_cannot_refer(session: Session) -> None:
    world = build_world(session)
    patient = make_patient(session)
    from cpts_app.services.permissions import Actor

    nobody = Actor(user_id=world.coordinator.user_id, role="inconnu", display_name="?")  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        refer(session, nobody, _form(patient.id))
