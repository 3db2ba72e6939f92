"""The referral's path: refer → contact → appointment → orientée; médecin traitant; closing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.agenda import Appointment, SlotKind
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Professional
from cpts_app.models.orientation import ContactAttempt, Referral, ReferralEvent, ReferralStatus
from cpts_app.models.patient import Patient
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from cpts_app.services.orientation import workflow
from cpts_app.services.orientation.queue import get_referral, my_referrals
from cpts_app.services.orientation.referrals import ReferralForm, SelfSignalForm, refer, self_signal
from tests.services.agenda import factories as agenda
from tests.services.orientation.factories import NOW, build_world, make_patient, make_referral


def test_full_path_from_pharmacist_to_same_day_appointment(session: Session) -> None:
    world = build_world(session)
    patient = make_patient(session, "Lemoine", "Gisèle", ald=True, commune_id=world.t.bordeaux.id)
    sched = agenda.schedule(session, world.t.gp, world.t.bordeaux, world.t.msp)
    slot = agenda.slot(
        session, sched, NOW + timedelta(hours=2), kind=SlotKind.UNSCHEDULED, audience="SNP,PRO"
    )
    session.commit()
    form = ReferralForm(str(patient.id), "maladie_chronique_ald", "demi_journee", True, "")
    referral_id = refer(session, world.pharmacist_actor, form, now=NOW)
    session.commit()

    attempt_id = workflow.record_contact_attempt(
        session,
        world.coordinator,
        referral_id,
        channel="appel",
        outcome="joint",
        note="RDV ce matin",
        now=NOW + timedelta(minutes=20),
    )
    referral = session.get(Referral, referral_id)
    assert referral is not None and referral.status == "en_cours_de_contact"
    assert referral.first_contact_at == NOW + timedelta(minutes=20)
    assert session.get(ContactAttempt, attempt_id) is not None

    appointment_id = workflow.book_for_referral(
        session, world.coordinator, referral_id, slot.id, now=NOW + timedelta(minutes=25)
    )
    session.commit()
    referral = session.get(Referral, referral_id)
    assert referral is not None
    assert (referral.status, referral.appointment_id) == ("orientee", appointment_id)
    assert referral.oriented_at == NOW + timedelta(minutes=25)
    appointment = session.get(Appointment, appointment_id)
    assert appointment is not None and appointment.patient_id == patient.id
    assert appointment.on_behalf_of == f"Orientation n° {referral_id}"
    events = session.exec(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral_id).order_by(ReferralEvent.id)
    ).all()
    assert [(e.from_status, e.to_status) for e in events] == [
        ("", "recue"),
        ("recue", "en_cours_de_contact"),
        ("en_cours_de_contact", "orientee"),
    ]
    actions = set(session.exec(select(AuditEvent.action)).all())
    assert {"referral.contact_attempt", "agenda.appointment.book", "referral.orient.appointment"} <= actions
    # The pharmacist now sees the referral as « Orientée ».
    assert [i.status_label for i in my_referrals(session, world.pharmacist_actor)] == ["Orientée"]
    detail = get_referral(session, world.coordinator, referral_id)
    assert detail.item.first_contact_due.startswith("Servie dans la demi-journée")
    assert [a.outcome_label for a in detail.attempts] == ["Patient joint"]
    assert detail.appointment_label.endswith("Marie LEFÈVRE")


def test_attending_doctor_path_takes_one_place(session: Session) -> None:
    world = build_world(session)
    world.t.gp.accepts_new_patients, world.t.gp.new_patient_capacity = True, 2
    session.add(world.t.gp)
    patient = make_patient(session)
    referral = make_referral(session, patient)
    session.commit()
    workflow.record_attending_doctor(session, world.coordinator, referral.id, world.t.gp.id, now=NOW)
    session.commit()
    session.expire_all()
    assert session.get(Professional, world.t.gp.id).new_patient_capacity == 1  # type: ignore[union-attr]
    stored = session.get(Patient, patient.id)
    assert stored is not None
    assert (stored.attending_doctor_id, stored.without_attending_doctor) == (world.t.gp.id, False)
    row = session.get(Referral, referral.id)
    assert row is not None
    assert (row.status, row.new_attending_doctor_id, row.oriented_at) == ("orientee", world.t.gp.id, NOW)


def test_a_doctor_without_places_is_refused(session: Session) -> None:
    world = build_world(session)
    world.t.gp.accepts_new_patients, world.t.gp.new_patient_capacity = True, 0
    referral = make_referral(session, make_patient(session))
    with pytest.raises(ValidationFailed) as caught:
        workflow.record_attending_doctor(session, world.coordinator, referral.id, world.t.gp.id)
    assert caught.value.errors == {
        "professional_id": "Ce médecin n'a plus de place pour de nouveaux patients."
    }
    with pytest.raises(ValidationFailed):
        workflow.record_attending_doctor(session, world.coordinator, referral.id, world.t.nurse.id)


def test_qualify_a_self_signal_then_contact(session: Session) -> None:
    world = build_world(session)
    form = SelfSignalForm(
        "Roux", "Anne", "1950-01-01", "0612345678", "", "recherche_medecin_traitant", "", True
    )
    referral_id = self_signal(session, form, client_key="x", now=NOW)
    workflow.record_contact_attempt(
        session, world.coordinator, referral_id, channel="sms", outcome="pas_de_reponse", now=NOW
    )
    row = session.get(Referral, referral_id)
    assert row is not None and row.status == ReferralStatus.TO_QUALIFY  # still to qualify, but timer stopped
    with pytest.raises(ValidationFailed) as caught:
        workflow.record_attending_doctor(session, world.coordinator, referral_id, world.t.gp.id)
    assert caught.value.errors["status"] == "Rattachez d'abord la demande à un patient (demande à qualifier)."
    patient = make_patient(session, "Roux", "Anne", commune_id=world.t.begles.id)
    workflow.qualify(session, world.coordinator, referral_id, patient.id, now=NOW + timedelta(hours=1))
    row = session.get(Referral, referral_id)
    assert row is not None
    assert (row.status, row.patient_id, row.commune_id) == (
        "en_cours_de_contact",
        patient.id,
        world.t.begles.id,
    )
    assert row.qualified_at == NOW + timedelta(hours=1)
    with pytest.raises(ValidationFailed) as caught:
        workflow.qualify(session, world.coordinator, referral_id, patient.id)
    assert caught.value.errors == {"status": "Cette demande est déjà rattachée à un patient."}


def test_close_needs_a_reason_and_happens_once(session: Session) -> None:
    world = build_world(session)
    referral = make_referral(session, make_patient(session))
    with pytest.raises(ValidationFailed) as caught:
        workflow.close(session, world.coordinator, referral.id, "injoignable", " ")
    assert caught.value.errors == {"reason": "Ce champ est obligatoire."}
    with pytest.raises(ValidationFailed) as caught:
        workflow.close(session, world.coordinator, referral.id, "orientee", "x")
    assert caught.value.errors == {"status": "Choisissez : clôturée, injoignable ou refusée."}
    workflow.close(
        session, world.coordinator, referral.id, "injoignable", "3 appels et 2 SMS sans réponse", now=NOW
    )
    row = session.get(Referral, referral.id)
    assert row is not None
    assert (row.status, row.status_reason, row.closed_at) == (
        "injoignable",
        "3 appels et 2 SMS sans réponse",
        NOW,
    )
    with pytest.raises(ValidationFailed) as caught:
        workflow.close(session, world.coordinator, referral.id, "cloturee", "encore")
    assert caught.value.errors == {
        "status": "Cette demande est déjà « Injoignable » : elle ne peut plus changer."
    }
    with pytest.raises(ValidationFailed):
        workflow.record_contact_attempt(
            session, world.coordinator, referral.id, channel="appel", outcome="joint"
        )


def test_bad_contact_codes_and_foreign_appointment_are_refused(session: Session) -> None:
    world = build_world(session)
    referral = make_referral(session, make_patient(session))
    with pytest.raises(ValidationFailed) as caught:
        workflow.record_contact_attempt(
            session, world.coordinator, referral.id, channel="pigeon", outcome="?"
        )
    assert set(caught.value.errors) == {"channel", "outcome"}
    other = make_patient(session, "Autre", "Personne")
    sched = agenda.schedule(session, world.t.gp, world.t.bordeaux)
    slot = agenda.slot(session, sched, NOW + timedelta(days=1))
    from cpts_app.services.agenda import booking

    appointment_id = booking.book(session, world.coordinator, slot.id, other.id, now=NOW)
    with pytest.raises(ValidationFailed) as caught:
        workflow.orient_to_appointment(session, world.coordinator, referral.id, appointment_id)
    assert caught.value.errors == {"appointment_id": "Ce rendez-vous concerne un autre patient."}


def test_only_coordination_moves_referrals(session: Session) -> None:
    world = build_world(session)
    referral = make_referral(session, make_patient(session))
    with pytest.raises(PermissionDenied):
        workflow.close(session, world.pharmacist_actor, referral.id, "cloturee", "x")
    with pytest.raises(PermissionDenied):
        workflow.record_contact_attempt(
            session, world.t.gp_actor, referral.id, channel="appel", outcome="joint"
        )
