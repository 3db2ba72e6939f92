"""Who reads and who writes: members, outsiders, coordinators, former members, broadcast recipients."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from cpts_app.models.audit import AuditEvent
from cpts_app.models.messaging import ThreadMember
from cpts_app.services.errors import NotFound, PermissionDenied
from cpts_app.services.messaging import access, messages, threads
from cpts_app.services.permissions import Actor
from tests.services.messaging.factories import build_world, care_team, second_coordinator


def _texts(session: Session, actor: Actor, thread_id: int) -> list[str]:
    page = messages.load_messages(session, actor, thread_id)
    return [" ".join(span.text for block in m.blocks for span in block.spans) for m in page.messages]


def test_a_member_reads_and_writes_an_outsider_is_refused(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    messages.post_message(session, world.doctor, thread_id, "Pansement à refaire demain.")
    session.commit()

    assert _texts(session, world.nurse, thread_id) == ["Pansement à refaire demain."]
    with pytest.raises(PermissionDenied, match="Accès refusé : vous ne faites pas partie"):
        messages.load_messages(session, world.outsider, thread_id)
    with pytest.raises(PermissionDenied, match="Accès refusé"):
        messages.post_message(session, world.outsider, thread_id, "Bonjour")
    with pytest.raises(PermissionDenied):
        threads.care_team(session, world.outsider, thread_id)


def test_a_missing_thread_is_not_found(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(NotFound, match="Cette conversation n'existe pas"):
        access.require_thread_reader(session, world.doctor, 4242)


def test_a_coordinator_reads_any_patient_thread_and_the_read_is_audited(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    threads.remove_member(session, world.coordinator, thread_id, world.coordinator.user_id)
    messages.post_message(session, world.doctor, thread_id, "Chute ce matin, pas de fracture.")
    session.commit()
    boss = second_coordinator(session)

    thread, member = access.require_thread_reader(session, boss, thread_id)
    assert thread.id == thread_id and member is None
    assert _texts(session, boss, thread_id) == ["Chute ce matin, pas de fracture."]
    # The coordinator who left is not bounded by it: coordinating means following every team.
    assert _texts(session, world.coordinator, thread_id) == ["Chute ce matin, pas de fracture."]
    session.commit()
    reads = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "messaging.thread.read", AuditEvent.actor_user_id == boss.user_id
        )
    ).all()
    assert len(reads) == 1
    detail = json.loads(reads[0].detail)
    assert detail["as_coordinator"] is True and detail["patient_id"] == world.patient.id
    assert detail["count"] == 1


def test_a_coordinator_does_not_read_other_peoples_direct_conversations(session: Session) -> None:
    world = build_world(session)
    direct = threads.open_direct(session, world.doctor, world.nurse.user_id)
    messages.post_message(session, world.doctor, direct.id or 0, "Entre nous")
    session.commit()
    with pytest.raises(PermissionDenied, match="Accès refusé"):
        messages.load_messages(session, world.coordinator, direct.id or 0)
    assert direct.id not in access.readable_threads(session, world.coordinator)


def test_a_former_member_keeps_what_was_posted_before_leaving_only(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    before = messages.post_message(session, world.doctor, thread_id, "Avant le départ")
    session.commit()
    threads.remove_member(session, world.coordinator, thread_id, world.nurse.user_id)
    session.commit()
    messages.post_message(session, world.doctor, thread_id, "Après le départ")
    session.commit()

    assert _texts(session, world.nurse, thread_id) == ["Avant le départ"]
    with pytest.raises(PermissionDenied, match="Vous avez quitté cette équipe"):
        messages.post_message(session, world.nurse, thread_id, "Encore moi")
    assert access.readable_threads(session, world.nurse) == {thread_id: before.message_id}
    _, member = access.require_thread_reader(session, world.nurse, thread_id)
    assert access.read_bound(member) == before.message_id
    # Paging back with before_id cannot reach past the bound either.
    page = messages.load_messages(session, world.nurse, thread_id, before_id=before.message_id + 100)
    assert [m.id for m in page.messages] == [before.message_id]
    page = messages.load_messages(session, world.nurse, thread_id, after_id=before.message_id)
    assert page.messages == ()


def test_a_member_who_left_before_any_message_reads_nothing(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.nurse)
    threads.remove_member(session, world.nurse, thread_id, world.nurse.user_id)
    session.commit()
    messages.post_message(session, world.coordinator, thread_id, "Nouveau traitement")
    session.commit()
    assert _texts(session, world.nurse, thread_id) == []
    assert access.readable_threads(session, world.nurse) == {thread_id: 0}


def test_broadcast_recipients_read_but_cannot_post(session: Session) -> None:
    world = build_world(session)
    thread, _ = threads.broadcast(
        session,
        world.coordinator,
        target_kind="profession",
        target_id="infirmier",
        title="Vaccination",
        text="Campagne de vaccination lundi.",
    )
    session.commit()
    assert thread.id is not None
    assert _texts(session, world.nurse, thread.id) == ["Campagne de vaccination lundi."]
    with pytest.raises(PermissionDenied, match="Cette annonce est en lecture seule"):
        messages.post_message(session, world.nurse, thread.id, "Merci !")
    with pytest.raises(PermissionDenied):
        messages.load_messages(session, world.doctor, thread.id)
    # Its author may follow up.
    messages.post_message(session, world.coordinator, thread.id, "Rappel : lundi 9 h.")


def test_a_coordinator_writes_in_a_patient_thread_without_joining(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    boss = second_coordinator(session)
    posted = messages.post_message(session, boss, thread_id, "Je prends le relais cette semaine.")
    session.commit()
    assert boss.user_id in posted.recipient_user_ids
    assert (
        session.exec(
            select(ThreadMember).where(
                ThreadMember.thread_id == thread_id, ThreadMember.user_id == boss.user_id
            )
        ).first()
        is None
    )


def test_readable_threads_lists_memberships_and_for_coordinators_every_team(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.doctor)
    channel = threads.create_channel(session, world.coordinator, "IDE de Beaucaire", [world.nurse.user_id])
    direct = threads.open_direct(session, world.nurse, world.pharmacist.user_id)
    session.commit()
    boss = second_coordinator(session)

    assert access.readable_threads(session, world.doctor) == {team: None}
    assert access.readable_threads(session, world.nurse) == {channel.id: None, direct.id: None}
    assert access.readable_threads(session, boss) == {team: None, channel.id: None}


def test_read_bound_is_none_for_current_members_and_coordinators() -> None:
    assert access.read_bound(None) is None
    assert access.read_bound(ThreadMember(thread_id=1, user_id=1)) is None
