"""Posting (validation, sealing, mentions, all-or-nothing), reading (pages, receipts, audit),
acknowledging and deleting messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from cpts_app.models.audit import AuditEvent
from cpts_app.models.messaging import (
    Message,
    MessageAttachmentBlob,
    MessageMention,
    MessageSearchToken,
    MessageThread,
    ThreadMember,
)
from cpts_app.services.crypto import CryptoError, open_text
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.messaging import attachments, messages, threads
from cpts_app.services.messaging.views import MessageView
from tests.services.messaging.factories import build_world, care_team, png_bytes, second_coordinator


def _plain(view: MessageView) -> str:
    return "\n".join("".join(span.text for span in block.spans) for block in view.blocks)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


# Posting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "Le message est vide"),
        ("   \n\t ", "Le message est vide"),
        ("x" * 10_001, "10 000 caractères"),
        ("<script>alert(1)</script>", "HTML ou du code"),
        ("Voir <img src=x onerror=alert(1)>", "HTML ou du code"),
        ("[x](javascript:alert(1))", "HTML ou du code"),
        ("Cliquez <a href='https://example.org'>ici</a>", "HTML ou du code"),
    ],
)
def test_invalid_posts_are_refused_and_store_nothing(session: Session, body: str, fragment: str) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    with pytest.raises(ValidationFailed) as refused:
        messages.post_message(session, world.doctor, thread_id, body)
    assert fragment in refused.value.errors["text"]
    session.commit()
    assert _count(session, Message) == 0
    assert _events(session, "messaging.message.post") == []
    assert session.get(MessageThread, thread_id).last_message_id is None  # type: ignore[union-attr]


def test_the_markup_message_explains_what_to_write_instead(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    with pytest.raises(ValidationFailed) as refused:
        messages.post_message(session, world.doctor, thread_id, "<b>urgent</b>")
    assert refused.value.errors == {"text": messages.MARKUP}
    assert "texte simple" in messages.MARKUP and "https://" in messages.MARKUP


def test_a_text_of_exactly_the_maximum_length_and_clinical_comparisons_are_accepted(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    messages.post_message(session, world.doctor, thread_id, "a" * 10_000)
    messages.post_message(session, world.doctor, thread_id, "  TA < 14/9, INR<2 : RAS  \r\n")
    session.commit()
    page = messages.load_messages(session, world.doctor, thread_id)
    assert _plain(page.messages[1]) == "TA < 14/9, INR<2 : RAS"


def test_a_post_updates_the_thread_and_the_authors_reading_position(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    posted = messages.post_message(session, world.doctor, thread_id, "Résultats reçus.")
    session.commit()
    thread = session.get(MessageThread, thread_id)
    assert thread is not None and thread.last_message_id == posted.message_id
    assert thread.last_message_at is not None
    author = session.exec(
        select(ThreadMember).where(
            ThreadMember.thread_id == thread_id, ThreadMember.user_id == world.doctor.user_id
        )
    ).one()
    assert author.last_read_message_id == posted.message_id
    assert posted.recipient_user_ids == tuple(
        sorted({world.coordinator.user_id, world.doctor.user_id, world.nurse.user_id})
    )


def test_the_body_is_sealed_at_rest_and_bound_to_its_message(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    secret = "Glycémie à 3,2 g/L chez Mme Durand"
    first = messages.post_message(session, world.doctor, thread_id, secret)
    second = messages.post_message(session, world.doctor, thread_id, "Autre message")
    session.commit()

    raw = session.execute(
        text("SELECT body FROM message WHERE id = :id"), {"id": first.message_id}
    ).scalar_one()
    raw = bytes(raw)
    assert secret.encode() not in raw and b"Glyc" not in raw and "Glycémie".encode() not in raw
    assert raw.startswith(b"CPTS")
    assert (
        open_text(raw, purpose="message.body", record_id=f"thread-{thread_id}/message-{first.message_id}")
        == secret
    )
    assert _plain(messages.load_messages(session, world.nurse, thread_id).messages[0]) == secret

    # A body moved onto another message does not open there: the load refuses, never shows it.
    session.execute(
        text("UPDATE message SET body = :body WHERE id = :id"), {"body": raw, "id": second.message_id}
    )
    session.commit()
    session.expire_all()
    with pytest.raises(CryptoError, match="altérées"):
        messages.load_messages(session, world.nurse, thread_id)


def test_a_post_with_a_bad_attachment_stores_nothing_and_keeps_the_session_usable(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    with pytest.raises(DomainError):
        messages.post_message(session, world.doctor, thread_id, "@Hélène Durand voir pièce jointe", [987654])
    # Nothing of the post survives, even if the caller goes on and commits.
    session.commit()
    assert _count(session, Message) == 0
    assert _count(session, MessageMention) == 0
    assert _count(session, MessageSearchToken) == 0
    assert _events(session, "messaging.message.post") == []
    assert session.get(MessageThread, thread_id).last_message_id is None  # type: ignore[union-attr]
    messages.post_message(session, world.doctor, thread_id, "Sans pièce jointe")
    session.commit()
    assert _count(session, Message) == 1


def test_a_file_alone_is_a_message_and_someone_elses_draft_is_refused(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    draft = attachments.stage_attachment(session, world.nurse, thread_id, "plaie talon.png", png_bytes())
    session.commit()
    with pytest.raises(DomainError):
        messages.post_message(session, world.doctor, thread_id, "Je l'envoie", [draft.id])
    session.commit()
    assert _count(session, Message) == 0

    posted = messages.post_message(session, world.nurse, thread_id, "  ", [draft.id, draft.id])
    session.commit()
    row = session.get(Message, posted.message_id)
    assert row is not None and row.attachment_count == 1
    [view] = messages.load_messages(session, world.doctor, thread_id).messages
    assert view.blocks == () or _plain(view) == ""
    assert [(a.id, a.name, a.content_type) for a in view.attachments] == [
        (draft.id, "plaie talon.png", "image/png")
    ]
    [event] = _events(session, "messaging.message.post")
    assert json.loads(event.detail)["attachment_count"] == 1

    messages.delete_message(session, world.nurse, posted.message_id)
    session.commit()
    assert _count(session, MessageAttachmentBlob) == 0
    [view] = messages.load_messages(session, world.doctor, thread_id).messages
    assert view.deleted and view.attachments == ()


def test_mentions_are_found_among_current_members_only(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    posted = messages.post_message(
        session, world.doctor, thread_id, "@helene durand et @Luc Petit, merci. @Paul Martin note pour moi"
    )
    session.commit()
    mentioned = set(
        session.exec(
            select(MessageMention.user_id).where(MessageMention.message_id == posted.message_id)
        ).all()
    )
    assert mentioned == {world.nurse.user_id, world.doctor.user_id}
    nurse_view = messages.load_messages(session, world.nurse, thread_id).messages[0]
    coordinator_view = messages.load_messages(session, world.coordinator, thread_id).messages[0]
    assert nurse_view.mentions_me and not coordinator_view.mentions_me
    assert any(span.kind == "mention" for block in nurse_view.blocks for span in block.spans)


def test_a_posted_message_is_indexed_for_search(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    posted = messages.post_message(session, world.doctor, thread_id, "Anticoagulant arrêté")
    session.commit()
    tokens = session.exec(
        select(MessageSearchToken).where(MessageSearchToken.message_id == posted.message_id)
    ).all()
    assert tokens and {t.thread_id for t in tokens} == {thread_id}


def test_the_post_audit_names_the_patient_never_the_text(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    posted = messages.post_message(session, world.doctor, thread_id, "Confidentiel : VIH")
    session.commit()
    [event] = _events(session, "messaging.message.post")
    assert (event.actor_user_id, event.target_type, event.target_id) == (
        world.doctor.user_id,
        "message",
        str(posted.message_id),
    )
    detail = json.loads(event.detail)
    assert detail == {
        "thread_id": thread_id,
        "patient_id": world.patient.id,
        "attachment_count": 0,
        "mention_count": 0,
    }
    assert "VIH" not in event.detail


# Reading ---------------------------------------------------------------------------------------


def test_pages_are_oldest_first_with_has_older_and_polling(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    ids = [
        messages.post_message(session, world.doctor, thread_id, f"Message {i}").message_id for i in range(5)
    ]
    session.commit()

    latest = messages.load_messages(session, world.doctor, thread_id, limit=2)
    assert [m.id for m in latest.messages] == ids[3:] and latest.has_older
    older = messages.load_messages(session, world.doctor, thread_id, before_id=ids[3], limit=2)
    assert [m.id for m in older.messages] == ids[1:3] and older.has_older
    oldest = messages.load_messages(session, world.doctor, thread_id, before_id=ids[1], limit=2)
    assert [m.id for m in oldest.messages] == ids[:1] and not oldest.has_older
    newer = messages.load_messages(session, world.doctor, thread_id, after_id=ids[1], limit=2)
    assert [m.id for m in newer.messages] == ids[2:4]
    assert [_plain(m) for m in newer.messages] == ["Message 2", "Message 3"]
    assert all(m.is_mine and m.can_delete and m.author_name == "Paul Martin" for m in latest.messages)


def test_read_receipts_name_the_other_current_members(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse, world.pharmacist)
    first = messages.post_message(session, world.doctor, thread_id, "Premier")
    second = messages.post_message(session, world.doctor, thread_id, "Second")
    session.commit()
    messages.mark_read(session, world.nurse, thread_id, second.message_id)
    messages.mark_read(session, world.pharmacist, thread_id, first.message_id)
    session.commit()

    page = messages.load_messages(session, world.doctor, thread_id)
    assert [m.read_by for m in page.messages] == [("Hélène Durand", "Sophie Leroy"), ("Hélène Durand",)]
    # The viewer is not listed (they know what they read); the author never is.
    nurse_page = messages.load_messages(session, world.nurse, thread_id)
    assert nurse_page.messages[0].read_by == ("Sophie Leroy",)
    assert not nurse_page.messages[0].is_mine and not nurse_page.messages[0].can_delete

    threads.remove_member(session, world.coordinator, thread_id, world.pharmacist.user_id)
    session.commit()
    assert messages.load_messages(session, world.doctor, thread_id).messages[0].read_by == ("Hélène Durand",)


def test_mark_read_never_moves_back_and_is_clamped_to_the_last_message(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    first = messages.post_message(session, world.doctor, thread_id, "Un")
    second = messages.post_message(session, world.doctor, thread_id, "Deux")
    session.commit()

    def position() -> int:
        session.expire_all()
        return session.exec(
            select(ThreadMember.last_read_message_id).where(
                ThreadMember.thread_id == thread_id, ThreadMember.user_id == world.nurse.user_id
            )
        ).one()

    assert messages.mark_read(session, world.nurse, thread_id, 10_000) == tuple(
        sorted({world.coordinator.user_id, world.doctor.user_id, world.nurse.user_id})
    )
    session.commit()
    assert position() == second.message_id
    assert messages.mark_read(session, world.nurse, thread_id, first.message_id) == ()
    assert messages.mark_read(session, world.nurse, thread_id, second.message_id) == ()
    session.commit()
    assert position() == second.message_id
    with pytest.raises(PermissionDenied):
        messages.mark_read(session, world.outsider, thread_id, second.message_id)
    # A coordinator reading without belonging has no position to move: nothing happens.
    assert messages.mark_read(session, second_coordinator(session), thread_id, second.message_id) == ()


def test_reading_a_patient_thread_is_audited_once_per_load(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    first = messages.post_message(session, world.doctor, thread_id, "Un")
    last = messages.post_message(session, world.doctor, thread_id, "Deux")
    session.commit()

    page = messages.load_messages(session, world.nurse, thread_id)
    messages.mark_read(session, world.nurse, thread_id, page.messages[-1].id)
    messages.load_messages(session, world.nurse, thread_id, after_id=last.message_id)  # an empty poll
    session.commit()
    [event] = _events(session, "messaging.thread.read")
    assert (event.actor_user_id, event.target_type, event.target_id) == (
        world.nurse.user_id,
        "message_thread",
        str(thread_id),
    )
    assert json.loads(event.detail) == {
        "thread_id": thread_id,
        "patient_id": world.patient.id,
        "count": 2,
        "first_message_id": first.message_id,
        "last_message_id": last.message_id,
        "as_coordinator": False,
    }


def test_reading_a_channel_is_not_audited(session: Session) -> None:
    world = build_world(session)
    channel = threads.create_channel(session, world.coordinator, "Médicobus", [world.nurse.user_id])
    messages.post_message(session, world.coordinator, channel.id or 0, "Tournée demain")
    session.commit()
    messages.load_messages(session, world.nurse, channel.id or 0)
    session.commit()
    assert _events(session, "messaging.thread.read") == []


# Deleting --------------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_and_erases_mentions_index_and_text(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    posted = messages.post_message(session, world.doctor, thread_id, "@Hélène Durand erreur de dossier")
    session.commit()
    notified = messages.delete_message(session, world.doctor, posted.message_id)
    session.commit()

    assert set(notified.recipient_user_ids) == {
        world.coordinator.user_id,
        world.doctor.user_id,
        world.nurse.user_id,
    }
    row = session.get(Message, posted.message_id)
    assert row is not None and row.body is None and row.deleted_at is not None
    assert row.deleted_by_user_id == world.doctor.user_id
    assert _count(session, MessageMention) == 0 and _count(session, MessageSearchToken) == 0

    [view] = messages.load_messages(session, world.nurse, thread_id).messages
    assert view.deleted and view.blocks == () and not view.can_delete and not view.mentions_me
    assert view.tombstone == messages.tombstone_text("Paul Martin", row.deleted_at)
    assert view.tombstone.startswith("Message supprimé par Paul Martin le ")
    [event] = _events(session, "messaging.message.delete")
    detail = json.loads(event.detail)
    assert (event.target_type, event.target_id) == ("message", str(posted.message_id))
    assert detail["author_user_id"] == world.doctor.user_id
    assert detail["deleted_by_user_id"] == world.doctor.user_id
    assert detail["created_at"] == row.created_at.isoformat()
    assert "erreur" not in event.detail

    with pytest.raises(DomainError, match="Ce message a déjà été supprimé"):
        messages.delete_message(session, world.doctor, posted.message_id)
    assert threads.unread_counts(session, world.nurse).total == 0


def test_the_tombstone_shows_paris_time() -> None:
    summer = datetime(2026, 7, 1, 10, 5, tzinfo=UTC)
    winter = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
    assert messages.tombstone_text("Claire", summer) == "Message supprimé par Claire le 01/07/2026 à 12:05"
    assert messages.tombstone_text("Claire", winter) == "Message supprimé par Claire le 16/01/2026 à 00:30"


def test_only_the_author_or_a_coordinator_deletes(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    posted = messages.post_message(session, world.doctor, thread_id, "À supprimer")
    session.commit()
    with pytest.raises(PermissionDenied, match="vos propres messages"):
        messages.delete_message(session, world.nurse, posted.message_id)
    with pytest.raises(PermissionDenied, match="Accès refusé"):
        messages.delete_message(session, world.outsider, posted.message_id)
    with pytest.raises(NotFound):
        messages.delete_message(session, world.doctor, 123456)
    boss = second_coordinator(session)
    assert messages.load_messages(session, boss, thread_id).messages[0].can_delete
    messages.delete_message(session, boss, posted.message_id)
    session.commit()
    view = messages.load_messages(session, world.doctor, thread_id).messages[0]
    assert view.tombstone.startswith("Message supprimé par Nadia Cadre le ")


def test_a_former_member_cannot_delete_what_they_can_no_longer_see(session: Session) -> None:
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    threads.remove_member(session, world.nurse, thread_id, world.nurse.user_id)
    later = messages.post_message(session, world.doctor, thread_id, "Après son départ")
    session.commit()
    with pytest.raises(NotFound):
        messages.delete_message(session, world.nurse, later.message_id)


def test_deleted_since_lists_only_tombstones_from_the_given_id(session) -> None:
    from cpts_app.services.messaging import messages as service
    from tests.services.messaging.factories import build_world, care_team

    world = build_world(session)
    thread_id = care_team(session, world, world.doctor)
    first = service.post_message(session, world.coordinator, thread_id, "premier").message_id
    second = service.post_message(session, world.coordinator, thread_id, "second").message_id
    third = service.post_message(session, world.coordinator, thread_id, "troisième").message_id
    service.delete_message(session, world.coordinator, first)
    service.delete_message(session, world.coordinator, third)
    session.commit()
    assert service.deleted_since(session, thread_id, second) == {third}
    assert service.deleted_since(session, thread_id, first) == {first, third}


def test_readers_sharing_one_memo_still_get_their_own_rights(session: Session) -> None:
    """The quick path reads for 200 tabs with one memo: a current member, a former member and an
    outsider woken together must each get what their own membership allows."""
    world = build_world(session)
    thread_id = care_team(session, world, world.doctor, world.nurse)
    before = messages.post_message(session, world.coordinator, thread_id, "Avant le départ").message_id
    threads.remove_member(session, world.nurse, thread_id, world.nurse.user_id)
    after = messages.post_message(session, world.coordinator, thread_id, "Après le départ").message_id
    session.commit()
    memo: dict = {}
    start = before - 1

    doctor_page, _ = messages.new_messages(session, world.doctor, thread_id, start, start, memo)
    nurse_page, _ = messages.new_messages(session, world.nurse, thread_id, start, start, memo)
    assert [m.id for m in doctor_page.messages] == [before, after]
    assert [m.id for m in nurse_page.messages] == [before]
    with pytest.raises(PermissionDenied):
        messages.new_messages(session, world.pharmacist, thread_id, start, start, memo)
    assert ("memberships", thread_id) in memo  # the memberships were indeed shared
