"""Care teams, channels, direct conversations and broadcasts; the thread list and unread counts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Profession
from cpts_app.models.messaging import MessageThread, ThreadKind, ThreadMember
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.messaging import care_team as roles
from cpts_app.services.messaging import messages, threads
from tests.services.messaging.factories import (
    build_world,
    care_team,
    count_queries,
    person,
    second_coordinator,
)


def _actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _member(session: Session, thread_id: int, user_id: int) -> ThreadMember:
    row = session.exec(
        select(ThreadMember).where(ThreadMember.thread_id == thread_id, ThreadMember.user_id == user_id)
    ).one()
    return row


# Care teams ------------------------------------------------------------------------------------


def test_open_care_team_is_get_or_create_and_the_coordinator_joins(session: Session) -> None:
    world = build_world(session)
    first = threads.open_care_team(session, world.coordinator, world.patient.id or 0)
    session.commit()
    again = threads.open_care_team(session, world.coordinator, world.patient.id or 0)
    session.commit()

    assert first.id == again.id and first.kind == ThreadKind.PATIENT
    assert first.patient_id == world.patient.id and first.title is None
    assert _member(session, first.id or 0, world.coordinator.user_id).role_label == "Coordination"
    created = _actions(session, "messaging.care_team.create")
    assert len(created) == 1 and json.loads(created[0].detail) == {"patient_id": world.patient.id}


def test_a_second_coordinator_opening_the_team_joins_the_same_thread(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world)
    boss = second_coordinator(session)
    assert threads.open_care_team(session, boss, world.patient.id or 0).id == thread_id
    session.commit()
    assert _member(session, thread_id, boss.user_id).left_at is None
    assert len(_actions(session, "messaging.member.add")) == 1


def test_get_or_create_recovers_from_a_concurrent_insert(session: Session) -> None:
    """The race's loser: its INSERT violates the unique patient_id inside a SAVEPOINT."""
    world = build_world(session)
    winner = MessageThread(
        kind=ThreadKind.PATIENT, patient_id=world.patient.id, created_by_user_id=world.doctor.user_id
    )
    session.add(winner)
    session.flush()
    calls: list[int] = []

    def find() -> MessageThread | None:
        calls.append(1)  # The first look happened "before" the winner committed.
        if len(calls) == 1:
            return None
        return session.exec(select(MessageThread).where(MessageThread.patient_id == world.patient.id)).first()

    loser = MessageThread(
        kind=ThreadKind.PATIENT, patient_id=world.patient.id, created_by_user_id=world.coordinator.user_id
    )
    row, created = threads._get_or_create(session, loser, find)
    assert (row.id, created) == (winner.id, False)
    session.commit()  # The transaction survived the failed SAVEPOINT.
    assert len(session.exec(select(MessageThread)).all()) == 1


def test_only_coordinators_form_care_teams(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(PermissionDenied):
        threads.open_care_team(session, world.doctor, world.patient.id or 0)
    with pytest.raises(NotFound, match="Ce patient n'existe pas"):
        threads.open_care_team(session, world.coordinator, 999)
    thread_id = care_team(session, world)
    with pytest.raises(PermissionDenied):
        threads.add_member(session, world.doctor, thread_id, world.nurse.user_id, "Infirmier(e)")


def test_add_member_checks_the_role_vocabulary_and_suggests_one(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world)
    with pytest.raises(ValidationFailed) as refused:
        threads.add_member(session, world.coordinator, thread_id, world.nurse.user_id, "Chef de service")
    assert "role_label" in refused.value.errors

    assert threads.add_member(session, world.coordinator, thread_id, world.nurse.user_id).role_label == (
        "Infirmier(e)"
    )
    assert (
        threads.add_member(
            session, world.coordinator, thread_id, world.pharmacist.user_id, " Autre "
        ).role_label
        == "Autre"
    )
    world.patient.attending_doctor_id = world.doctor.professional_id
    session.add(world.patient)
    session.flush()
    assert threads.add_member(session, world.coordinator, thread_id, world.doctor.user_id).role_label == (
        "Médecin traitant"
    )
    session.commit()
    assert len(_actions(session, "messaging.member.add")) == 3


def test_suggested_role_labels_follow_the_profession(session: Session) -> None:
    world = build_world(session)
    assert roles.suggested_role_label(session, world.doctor.user_id) == "Médecin"
    assert roles.suggested_role_label(session, world.outsider.user_id) == "Masseur-kinésithérapeute"
    assert roles.suggested_role_label(session, world.coordinator.user_id) == "Autre"
    midwife = person(session, "Inès Blanc", profession=Profession.MIDWIFE)
    assert roles.suggested_role_label(session, midwife.user_id) == "Sage-femme"
    assert set(roles.PROFESSION_ROLES.values()) <= set(roles.ROLE_LABELS)


def test_add_member_refuses_inactive_or_unknown_users_and_direct_threads(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world)
    gone = person(session, "Ancien Compte", profession=Profession.NURSE, active=False)
    for user_id in (gone.user_id, 9999):
        with pytest.raises(ValidationFailed) as refused:
            threads.add_member(session, world.coordinator, thread_id, user_id, "Infirmier(e)")
        assert "désactivé" in refused.value.errors["user_id"]
    direct = threads.open_direct(session, world.coordinator, world.nurse.user_id)
    with pytest.raises(DomainError, match="conversation privée"):
        threads.add_member(session, world.coordinator, direct.id or 0, world.doctor.user_id, "Médecin")


def test_re_adding_a_former_member_reopens_the_same_row(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.nurse)
    messages.post_message(session, world.coordinator, thread_id, "Premier message")
    threads.remove_member(session, world.coordinator, thread_id, world.nurse.user_id)
    session.commit()
    left = _member(session, thread_id, world.nurse.user_id)
    assert left.left_at is not None and left.access_until_message_id is not None

    back = threads.add_member(session, world.coordinator, thread_id, world.nurse.user_id, "Infirmier(e)")
    session.commit()
    assert back.id == left.id
    assert (back.left_at, back.access_until_message_id) == (None, None)
    assert len(session.exec(select(ThreadMember).where(ThreadMember.thread_id == thread_id)).all()) == 2


def test_remove_member_by_a_coordinator_or_oneself_only(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    with pytest.raises(PermissionDenied):
        threads.remove_member(session, world.doctor, thread_id, world.nurse.user_id)
    threads.remove_member(session, world.doctor, thread_id, world.doctor.user_id)
    with pytest.raises(DomainError, match="ne fait pas partie"):
        threads.remove_member(session, world.doctor, thread_id, world.doctor.user_id)
    with pytest.raises(DomainError, match="ne fait pas partie"):
        threads.remove_member(session, world.coordinator, thread_id, world.outsider.user_id)
    session.commit()
    removed = _actions(session, "messaging.member.remove")
    assert [json.loads(e.detail)["user_id"] for e in removed] == [world.doctor.user_id]


# Channels, direct conversations, broadcasts ----------------------------------------------------


def test_create_channel_validates_its_title_and_adds_the_creator(session: Session) -> None:
    world = build_world(session)
    for title in ("ab", "x" * 121, "   "):
        with pytest.raises(ValidationFailed) as refused:
            threads.create_channel(session, world.coordinator, title, [world.nurse.user_id])
        assert "entre 3 et 120 caractères" in refused.value.errors["title"]
    with pytest.raises(PermissionDenied):
        threads.create_channel(session, world.nurse, "IDE de Beaucaire", [])

    channel = threads.create_channel(
        session,
        world.coordinator,
        "  IDE de   Beaucaire ",
        [world.nurse.user_id, world.other_nurse.user_id, world.nurse.user_id, world.coordinator.user_id],
    )
    session.commit()
    assert (channel.kind, channel.title) == (ThreadKind.CHANNEL, "IDE de Beaucaire")
    members = {m.user_id: m.role_label for m in session.exec(select(ThreadMember)).all()}
    assert members == {
        world.coordinator.user_id: "Coordination",
        world.nurse.user_id: "Infirmier(e)",
        world.other_nurse.user_id: "Infirmier(e)",
    }
    assert len(_actions(session, "messaging.channel.create")) == 1
    with pytest.raises(ValidationFailed):
        threads.create_channel(session, world.coordinator, "Médicobus", [world.nurse.user_id], "Chef")


def test_open_direct_is_one_conversation_per_pair(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(ValidationFailed, match="formulaire"):
        threads.open_direct(session, world.doctor, world.doctor.user_id)
    gone = person(session, "Ancien Compte", active=False)
    with pytest.raises(ValidationFailed):
        threads.open_direct(session, world.doctor, gone.user_id)

    first = threads.open_direct(session, world.doctor, world.nurse.user_id)
    second = threads.open_direct(session, world.nurse, world.doctor.user_id)
    session.commit()
    low, high = sorted((world.doctor.user_id, world.nurse.user_id))
    assert first.id == second.id and first.direct_key == f"{low}:{high}"
    assert {m.user_id for m in session.exec(select(ThreadMember)).all()} == {
        world.doctor.user_id,
        world.nurse.user_id,
    }
    assert len(_actions(session, "messaging.direct.open")) == 1
    # Leaving then reopening brings the leaver back in the same conversation.
    threads.remove_member(session, world.nurse, first.id or 0, world.nurse.user_id)
    assert threads.open_direct(session, world.doctor, world.nurse.user_id).id == first.id
    assert _member(session, first.id or 0, world.nurse.user_id).left_at is None


@pytest.mark.parametrize(
    ("kind", "target", "label", "expected"),
    [
        ("profession", "infirmier", "Infirmiers", {"nurse", "other_nurse"}),
        ("commune", "beaucaire", "Beaucaire", {"doctor", "nurse", "pharmacist"}),
        ("structure", "msp", "MSP du Rhône", {"doctor", "nurse"}),
    ],
)
def test_broadcast_reaches_its_audience_read_only(
    session: Session, kind: str, target: str, label: str, expected: set[str]
) -> None:
    world = build_world(session)
    person(
        session, "Inactive Infirmière", profession=Profession.NURSE, communes=[world.beaucaire], active=False
    )
    target_id = target if kind == "profession" else getattr(world, target).id
    thread, posted = threads.broadcast(
        session,
        world.coordinator,
        target_kind=kind,
        target_id=target_id,
        title="Grippe",
        text="Vaccins arrivés.",
    )
    session.commit()
    assert thread.kind == ThreadKind.BROADCAST
    assert json.loads(thread.audience or "")["label"] == label
    members = {m.user_id: m.can_post for m in session.exec(select(ThreadMember)).all()}
    wanted = {getattr(world, name).user_id for name in expected}
    assert members == {**dict.fromkeys(wanted, False), world.coordinator.user_id: True}
    assert set(posted.recipient_user_ids) == {*wanted, world.coordinator.user_id}
    assert thread.last_message_id == posted.message_id
    summary = threads.list_threads(session, world.nurse if "nurse" in expected else world.doctor)[0]
    assert (summary.title, summary.subtitle, summary.unread, summary.can_post) == (
        "Grippe",
        f"Annonce · {label}",
        1,
        False,
    )
    event = _actions(session, "messaging.broadcast")[0]
    assert json.loads(event.detail)["recipient_count"] == len(wanted)


def test_broadcast_refuses_bad_targets_empty_audiences_and_non_coordinators(session: Session) -> None:
    world = build_world(session)
    send = threads.broadcast
    with pytest.raises(PermissionDenied):
        send(
            session,
            world.doctor,
            target_kind="commune",
            target_id=world.beaucaire.id or 0,
            title="Info",
            text="x",
        )
    with pytest.raises(ValidationFailed) as refused:
        send(session, world.coordinator, target_kind="region", target_id=1, title="Info", text="x")
    assert "target_kind" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        send(
            session,
            world.coordinator,
            target_kind="profession",
            target_id="sage_femme",
            title="Info",
            text="x",
        )
    assert refused.value.errors == {"target_id": threads.NO_RECIPIENT}
    with pytest.raises(ValidationFailed):
        send(session, world.coordinator, target_kind="structure", target_id=999, title="Info", text="x")
    for kind, key in (("commune", "Beaucaire"), ("profession", "3"), ("profession", "")):
        with pytest.raises(ValidationFailed) as refused:
            send(session, world.coordinator, target_kind=kind, target_key=key, title="Info", text="x")
        assert refused.value.errors == {"target_id": threads.BAD_TARGET}
    with pytest.raises(ValidationFailed) as refused:
        send(
            session,
            world.coordinator,
            target_kind="profession",
            target_id="infirmier",
            title="Info",
            text=" ",
        )
    assert "text" in refused.value.errors
    assert session.exec(select(MessageThread)).all() == []


# The thread list and unread counts -------------------------------------------------------------


def test_list_threads_names_each_kind_and_counts_unread_and_mentions(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.doctor, world.nurse)
    channel = threads.create_channel(session, world.coordinator, "IDE de Beaucaire", [world.nurse.user_id])
    direct = threads.open_direct(session, world.doctor, world.nurse.user_id)
    session.commit()
    messages.post_message(session, world.doctor, team, "Bonjour @Hélène Durand, pansement demain ?")
    messages.post_message(session, world.coordinator, team, "Je préviens la famille.")
    messages.post_message(session, world.nurse, team, "Oui, 9 h.")
    messages.post_message(session, world.coordinator, channel.id or 0, "Réunion jeudi")
    messages.post_message(session, world.doctor, direct.id or 0, "Un mot en privé")
    session.commit()

    summaries = {s.id: s for s in threads.list_threads(session, world.nurse)}
    assert [s.id for s in threads.list_threads(session, world.nurse)] == [direct.id, channel.id, team]
    assert (summaries[team].title, summaries[team].subtitle) == (
        "DURAND Marie",
        "Équipe de soins · 3 membres",
    )
    # Her own reply moved her reading position past the two earlier messages.
    assert (summaries[team].unread, summaries[team].mentions_unread) == (0, 0)
    assert (summaries[channel.id].title, summaries[channel.id].subtitle) == (
        "IDE de Beaucaire",
        "Canal d'équipe · 2 membres",
    )
    assert (summaries[direct.id].title, summaries[direct.id].subtitle) == (
        "Paul Martin",
        "Conversation privée",
    )
    assert summaries[direct.id].unread == 1 and summaries[channel.id].unread == 1

    other = {s.id: s for s in threads.list_threads(session, world.doctor)}
    assert other[team].unread == 2 and other[direct.id].title == "Hélène Durand"
    assert [s.id for s in threads.list_threads(session, world.nurse, kind="channel")] == [channel.id]
    assert [s.id for s in threads.list_threads(session, world.nurse, limit=1, offset=1)] == [channel.id]


def test_mentions_count_until_read(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.doctor, world.nurse)
    first = messages.post_message(session, world.doctor, team, "@Hélène Durand peux-tu passer ?")
    messages.post_message(session, world.doctor, team, "Merci d'avance")
    session.commit()
    summary = threads.list_threads(session, world.nurse)[0]
    assert (summary.unread, summary.mentions_unread) == (2, 1)
    unread = threads.unread_counts(session, world.nurse)
    assert (unread.total, unread.mentions, unread.by_thread) == (2, 1, {team: 2})

    messages.mark_read(session, world.nurse, team, first.message_id)
    session.commit()
    unread = threads.unread_counts(session, world.nurse)
    assert (unread.total, unread.mentions, unread.by_thread) == (1, 0, {team: 1})


def test_unread_counts_skip_own_deleted_and_former_threads(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.doctor, world.nurse)
    channel = threads.create_channel(session, world.coordinator, "Médicobus", [world.nurse.user_id])
    session.commit()
    messages.post_message(session, world.nurse, team, "Mon propre message")
    removed = messages.post_message(session, world.doctor, team, "Erreur de patient")
    messages.delete_message(session, world.doctor, removed.message_id)
    messages.post_message(session, world.coordinator, channel.id or 0, "Planning")
    messages.post_message(session, world.coordinator, channel.id or 0, "@Hélène Durand tu confirmes ?")
    session.commit()
    assert threads.unread_counts(session, world.nurse).by_thread == {channel.id: 2}

    threads.remove_member(session, world.nurse, channel.id or 0, world.nurse.user_id)
    session.commit()
    assert threads.unread_counts(session, world.nurse) == threads.UnreadSummary()
    left = next(s for s in threads.list_threads(session, world.nurse) if s.id == channel.id)
    assert (left.left, left.is_member, left.can_post, left.unread, left.mentions_unread) == (
        True,
        False,
        False,
        0,
        0,
    )


def test_list_threads_can_add_every_patient_thread_for_coordinators(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.doctor)
    boss = second_coordinator(session)
    assert threads.list_threads(session, boss) == []
    listed = threads.list_threads(session, boss, include_all_patient_threads=True)
    assert [(s.id, s.is_member, s.can_post, s.left) for s in listed] == [(team, False, True, False)]
    with pytest.raises(PermissionDenied):
        threads.list_threads(session, world.doctor, include_all_patient_threads=True)


def test_the_thread_list_and_unread_counts_take_a_constant_number_of_queries(
    session: Session, engine: Engine
) -> None:
    world = build_world(session)

    def grow(n: int) -> None:
        for i in range(n):
            channel = threads.create_channel(
                session, world.coordinator, f"Canal {i:03d}", [world.nurse.user_id]
            )
            messages.post_message(session, world.coordinator, channel.id or 0, f"@Hélène Durand message {i}")
            direct_peer = person(session, f"Collègue {i:03d}", Role.SECRETARIAT)
            direct = threads.open_direct(session, direct_peer, world.nurse.user_id)
            messages.post_message(session, direct_peer, direct.id or 0, "Bonjour")
        session.commit()

    def measure() -> tuple[int, int]:
        session.expire_all()
        with count_queries(engine) as listed:
            threads.list_threads(session, world.nurse, limit=100)
        with count_queries(engine) as counted:
            summary = threads.unread_counts(session, world.nurse)
        assert summary.mentions == summary.total // 2
        return len(listed), len(counted)

    grow(3)
    small = measure()
    grow(12)
    large = measure()
    assert small == large
    assert large[0] <= 8 and large[1] <= 3


# Care team view and the people picker ----------------------------------------------------------


def test_care_team_lists_current_members_by_role_then_former_ones(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.nurse, world.doctor, world.pharmacist)
    threads.remove_member(session, world.coordinator, team, world.pharmacist.user_id)
    session.commit()
    members = threads.care_team(session, world.doctor, team)
    assert [(m.name, m.role_label, m.left_at is not None) for m in members] == [
        ("Paul Martin", "Médecin", False),
        ("Hélène Durand", "Infirmier(e)", False),
        ("Claire Coordinatrice", "Coordination", False),
        ("Sophie Leroy", "Pharmacien(ne)", True),
    ]
    assert members[1].profession == "Infirmier·ère (IDE)"


def test_candidate_users_match_without_accents_and_tell_namesakes_apart(session: Session) -> None:
    world = build_world(session)
    person(session, "Hélène Ancienne", active=False)
    found = threads.candidate_users(session, world.doctor, "helene")
    assert [(c.user_id, c.name, c.detail) for c in found] == [
        (world.nurse.user_id, "Hélène Durand", "Infirmier·ère (IDE) · Beaucaire")
    ]
    assert [c.name for c in threads.candidate_users(session, world.doctor, "DURAND hel")] == ["Hélène Durand"]
    assert world.doctor.user_id not in {c.user_id for c in threads.candidate_users(session, world.doctor, "")}
    assert len(threads.candidate_users(session, world.doctor, "", limit=2)) == 2
    coordinator = threads.candidate_users(session, world.doctor, "claire")[0]
    assert coordinator.detail == ""


def test_list_threads_orders_by_latest_activity(session: Session) -> None:
    world = build_world(session)
    older = threads.create_channel(session, world.coordinator, "Ancien canal", [world.nurse.user_id])
    newer = threads.create_channel(session, world.coordinator, "Nouveau canal", [world.nurse.user_id])
    session.commit()
    assert [s.id for s in threads.list_threads(session, world.nurse)] == [newer.id, older.id]
    messages.post_message(session, world.coordinator, older.id or 0, "Relance")
    session.commit()
    ids = [s.id for s in threads.list_threads(session, world.nurse)]
    assert ids == [older.id, newer.id]
    assert session.exec(select(MessageThread).where(col(MessageThread.id) == older.id)).one().last_message_id


def test_ones_own_messages_are_never_unread(session: Session) -> None:
    """A coordinator who wrote before joining the team finds no unread message of their own."""
    world = build_world(session)
    team = care_team(session, world, world.doctor)
    boss = second_coordinator(session)
    messages.post_message(session, boss, team, "Je passe mardi.")
    messages.post_message(session, world.doctor, team, "Merci.")
    session.commit()
    threads.open_care_team(session, boss, world.patient.id or 0)
    session.commit()
    assert threads.unread_counts(session, boss).by_thread == {team: 1}
    assert threads.list_threads(session, boss)[0].unread == 1


def test_broadcast_accepts_the_forms_text_key(session: Session) -> None:
    world = build_world(session)
    thread, posted = threads.broadcast(
        session,
        world.coordinator,
        target_kind="commune",
        target_key=f" {world.tarascon.id} ",
        title="Fermeture",
        text="Cabinet fermé vendredi.",
    )
    session.commit()
    assert json.loads(thread.audience or "") == {
        "kind": "commune",
        "id": world.tarascon.id,
        "label": "Tarascon",
    }
    assert set(posted.recipient_user_ids) == {
        world.other_nurse.user_id,
        world.outsider.user_id,
        world.coordinator.user_id,
    }


def test_thread_summary_describes_one_thread_for_its_reader(session: Session) -> None:
    world = build_world(session)
    team = care_team(session, world, world.doctor, world.nurse)
    messages.post_message(session, world.doctor, team, "@Hélène Durand bilan ?")
    session.commit()
    summary = threads.thread_summary(session, world.nurse, team)
    assert (summary.id, summary.title, summary.unread, summary.mentions_unread, summary.can_post) == (
        team,
        "DURAND Marie",
        1,
        1,
        True,
    )
    boss = second_coordinator(session)
    as_coordinator = threads.thread_summary(session, boss, team)
    assert (as_coordinator.is_member, as_coordinator.can_post, as_coordinator.unread) == (False, True, 0)
    with pytest.raises(PermissionDenied):
        threads.thread_summary(session, world.outsider, team)
    threads.remove_member(session, world.nurse, team, world.nurse.user_id)
    left = threads.thread_summary(session, world.nurse, team)
    assert (left.left, left.is_member, left.can_post) == (True, False, False)
