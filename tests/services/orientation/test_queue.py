"""The coordinator's queue (priority, filters, timers), « mes demandes » and the detail view."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.audit import AuditEvent
from cpts_app.models.orientation import ReferralReason, ReferralSource, ReferralStatus, Urgency
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from cpts_app.services.orientation.queue import coordinator_queue, get_referral, my_referrals
from cpts_app.services.orientation.referrals import ReferralForm, SelfSignalForm, refer, self_signal
from tests.services.orientation.factories import NOW, build_world, make_patient, make_referral


def test_ald_half_day_referral_comes_first_with_its_explanation(session: Session) -> None:
    world = build_world(session)
    plain = make_patient(session, "Simple", "Paul", commune_id=world.t.begles.id)
    make_referral(session, plain, received_at=NOW - timedelta(days=1))
    urgent = make_patient(session, "Urgent", "Rose", ald=True, commune_id=world.t.bordeaux.id)
    refer(
        session,
        world.pharmacist_actor,
        ReferralForm(str(urgent.id), "maladie_chronique_ald", "demi_journee", True, ""),
        now=NOW,
    )
    session.commit()
    items, total = coordinator_queue(session, world.coordinator, now=NOW + timedelta(hours=1))
    assert total == 2
    top = items[0]
    assert top.patient_label == "URGENT Rose"
    assert top.priority == 80
    assert top.priority_parts == ["Dans la demi-journée +50", "ALD +30"]
    assert (top.reason_label, top.urgency_label, top.source_label, top.status_label) == (
        "Maladie chronique / ALD",
        "Dans la demi-journée",
        "Pharmacien·ne",
        "Reçue",
    )
    assert top.commune_name == "Bordeaux"
    assert top.referrer == "Claire BONNET (Pharmacien·ne)"
    assert top.received_at == "10/03 09:00"
    assert top.waiting_hours == 1
    assert top.first_contact_due == "À servir avant le 10/03 13:00"
    assert top.overdue is False
    assert items[1].priority_parts == ["Attente 1 j +2"]
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "referral.queue.read")).one()
    assert "URGENT" not in audit.detail


def test_priority_is_recomputed_at_read_time(session: Session) -> None:
    world = build_world(session)
    old = make_patient(session, "Ancien", "Jean")
    new = make_patient(session, "Nouveau", "Jean")
    make_referral(session, old, received_at=NOW - timedelta(days=15), priority_score=0)
    make_referral(session, new, received_at=NOW, urgency=Urgency.WITHIN_48H, priority_score=25)
    items, _ = coordinator_queue(session, world.coordinator, now=NOW)
    # The stored score (0) is stale: fifteen days of waiting are worth 30 > 25 now.
    assert [(i.patient_label, i.priority) for i in items] == [("ANCIEN Jean", 30), ("NOUVEAU Jean", 25)]
    assert items[0].overdue is True
    assert items[0].first_contact_due == "Premier contact avant le 25/02 09:00"


def test_filters_status_commune_reason_and_pages(session: Session) -> None:
    world = build_world(session)
    for i in range(5):
        p = make_patient(session, f"Patient{i}", "A", commune_id=world.t.bordeaux.id)
        make_referral(session, p, received_at=NOW - timedelta(hours=i))
    begles = make_patient(session, "Beglais", "B", commune_id=world.t.begles.id)
    make_referral(session, begles, reason=ReferralReason.HOSPITAL_DISCHARGE)
    closed = make_patient(session, "Ferme", "C")
    make_referral(session, closed, status=ReferralStatus.CLOSED)
    items, total = coordinator_queue(session, world.coordinator, now=NOW)
    assert total == 6  # the closed one is not in the default (open) queue
    items, total = coordinator_queue(session, world.coordinator, commune_id=world.t.begles.id, now=NOW)
    assert [i.patient_label for i in items] == ["BEGLAIS B"]
    items, total = coordinator_queue(session, world.coordinator, reason="sortie_hospitalisation", now=NOW)
    assert total == 1
    items, total = coordinator_queue(session, world.coordinator, status="cloturee", now=NOW)
    assert [i.status_label for i in items] == ["Clôturée"]
    page2, total = coordinator_queue(
        session, world.coordinator, commune_id=world.t.bordeaux.id, page=2, page_size=2, now=NOW
    )
    assert total == 5
    # Same priority: the oldest first (received 4 h, 3 h, 2 h, 1 h ago, now).
    assert [i.patient_label for i in page2] == ["PATIENT2 A", "PATIENT1 A"]
    with pytest.raises(ValidationFailed) as caught:
        coordinator_queue(session, world.coordinator, status="perdue", reason="x")
    assert caught.value.errors == {"status": "Ce statut n'existe pas.", "reason": "Ce motif n'existe pas."}


def test_half_day_need_is_overdue_after_the_half_day(session: Session) -> None:
    world = build_world(session)
    p = make_patient(session)
    make_referral(session, p, reason=ReferralReason.UNSCHEDULED_CARE)
    items, _ = coordinator_queue(session, world.coordinator, now=NOW + timedelta(hours=3, minutes=59))
    assert items[0].overdue is False
    items, _ = coordinator_queue(session, world.coordinator, now=NOW + timedelta(hours=4, minutes=1))
    assert items[0].overdue is True


def test_professionals_cannot_read_the_queue(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(PermissionDenied):
        coordinator_queue(session, world.pharmacist_actor)
    with pytest.raises(PermissionDenied):
        get_referral(session, world.pharmacist_actor, 1)


def test_a_referrer_sees_only_their_own_referrals(session: Session) -> None:
    world = build_world(session)
    mine = make_patient(session, "Mien", "A")
    other = make_patient(session, "Autre", "B")
    refer(
        session,
        world.pharmacist_actor,
        ReferralForm(str(mine.id), "renouvellement_traitement", "sous_48h", True),
    )
    refer(
        session,
        world.t.nurse_actor,
        ReferralForm(str(other.id), "renouvellement_traitement", "sous_48h", True),
    )
    make_referral(session, other, source=ReferralSource.NURSE)
    items = my_referrals(session, world.pharmacist_actor)
    assert [(i.patient_label, i.status_label) for i in items] == [("MIEN A", "Reçue")]
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "referral.mine.read")).one()


def test_detail_of_a_self_signal_proposes_probable_duplicates(session: Session) -> None:
    world = build_world(session)
    existing = make_patient(session, "Dupré", "Hélène", born=date(1948, 3, 12))
    session.commit()
    form = SelfSignalForm(
        "Dupre", "Helene", "1948-03-12", "0612345678", "", "recherche_medecin_traitant", "", True
    )
    referral_id = self_signal(session, form, client_key="198.51.100.9", now=NOW)
    detail = get_referral(session, world.coordinator, referral_id, now=NOW)
    assert detail.item.patient_label == "DUPRE Helene (à qualifier)"
    assert detail.item.age == 77
    assert detail.contact_phone == "06 12 34 56 78"
    assert [c.patient_id for c in detail.duplicates] == [existing.id]
    assert [e.to_label for e in detail.events] == ["À qualifier"]
    assert detail.email_raw == ""
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "referral.read")).one()
