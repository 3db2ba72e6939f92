"""Unread-message digests: who is told what, never any content, each message announced once, sent
through a real local SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cpts_app import db
from cpts_app.models.access import Role, User
from cpts_app.models.audit import AuditEvent
from cpts_app.models.messaging import ThreadKind, ThreadMember
from cpts_app.models.types import utcnow
from cpts_app.services.mailer import MailServerUnavailable
from cpts_app.services.messaging import digest
from cpts_app.settings import Settings
from tests.services.messaging import rows
from tests.smtp_server import free_port, smtp_server

EARLIER = utcnow() - timedelta(hours=1)
SECRET_TEXT = "Escarre sacrée stade 3, morphine augmentée"


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    """The test database for ``send_digests`` (which opens its own transactions)."""
    yield database_url
    db.get_engine(database_url).dispose()
    db.get_engine.cache_clear()


@pytest.fixture
def world(session: Session) -> dict:
    nurse = rows.person(session, "Hélène Durand", email="helene.durand@example.fr")
    doctor = rows.person(session, "Paul Roux", email="paul.roux@example.fr")
    kine = rows.person(session, "Luc Petit", email="luc.petit@example.fr")
    coordinator = rows.person(session, "Anne Coordo", Role.COORDINATOR, email="anne@example.fr")
    care = rows.thread(session, ThreadKind.PATIENT, coordinator, patient_row=rows.patient(session))
    channel = rows.thread(session, ThreadKind.CHANNEL, coordinator, title="IDE de Beaucaire")
    direct = rows.thread(session, ThreadKind.DIRECT, doctor, direct_pair=(nurse.user_id, doctor.user_id))
    announce = rows.thread(session, ThreadKind.BROADCAST, coordinator, title="Vaccination antigrippale")
    members = {
        "nurse_care": rows.member(session, care, nurse),
        "doctor_care": rows.member(session, care, doctor),
        "kine_care": rows.member(session, care, kine),
        "nurse_channel": rows.member(session, channel, nurse),
        "nurse_direct": rows.member(session, direct, nurse),
        "doctor_direct": rows.member(session, direct, doctor),
        "coordinator_announce": rows.member(session, announce, coordinator),
        "nurse_announce": rows.member(session, announce, nurse, can_post=False),
    }
    session.commit()
    return {
        "nurse": nurse,
        "doctor": doctor,
        "kine": kine,
        "coordinator": coordinator,
        "care": care,
        "channel": channel,
        "direct": direct,
        "announce": announce,
        **members,
    }


def _settings(port: int) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_sender="messagerie@cpts-test.fr",
        public_url="https://cpts.example.fr/",
    )


def test_collects_one_digest_per_person_without_health_data(session: Session, world: dict) -> None:
    nurse, doctor, kine = world["nurse"], world["doctor"], world["kine"]
    rows.message(session, world["care"], doctor, SECRET_TEXT, created_at=EARLIER)
    last_care = rows.message(session, world["care"], kine, "Vu ce matin", created_at=EARLIER)
    rows.message(session, world["channel"], doctor, "Réunion", created_at=EARLIER)
    rows.message(session, world["direct"], doctor, "Tu peux me rappeler ?", created_at=EARLIER)
    rows.message(session, world["announce"], world["coordinator"], "Campagne lundi", created_at=EARLIER)
    session.commit()

    digests = {d.user_id: d for d in digest.collect_digests(session)}
    assert set(digests) == {nurse.user_id, doctor.user_id, kine.user_id}
    mine = digests[nurse.user_id]
    assert (mine.email, mine.display_name, mine.total) == ("helene.durand@example.fr", "Hélène Durand", 5)
    assert mine.items == (
        ("Annonce de la coordination", 1),
        ("Message de Paul Roux", 1),
        ("IDE de Beaucaire", 1),
        ("Équipe de soins d'un patient", 2),
    )
    assert mine.marks[world["nurse_care"].id] == last_care.id
    # Their own messages are not announced to the authors.
    assert digests[doctor.user_id].items == (("Équipe de soins d'un patient", 1),)
    assert digests[kine.user_id].items == (("Équipe de soins d'un patient", 1),)


def test_what_is_not_announced(session: Session, world: dict) -> None:
    nurse, doctor = world["nurse"], world["doctor"]
    read = rows.message(session, world["care"], doctor, "Déjà lu", created_at=EARLIER)
    world["nurse_care"].last_read_message_id = read.id
    deleted = rows.message(session, world["channel"], doctor, "Supprimé", created_at=EARLIER)
    deleted.deleted_at = utcnow()
    rows.message(session, world["direct"], doctor, "Écrit à l'instant")  # being read right now, maybe
    session.add_all([world["nurse_care"], deleted])
    # A former member, and a deactivated account, are told nothing.
    rows.leave(session, world["kine_care"], 0)
    session.get(User, world["coordinator"].user_id).active = False  # type: ignore[union-attr]
    rows.message(session, world["announce"], nurse, "Merci", created_at=EARLIER)
    session.commit()

    assert digest.collect_digests(session) == []
    later = digest.collect_digests(session, now=utcnow() + timedelta(minutes=16))
    assert [(d.user_id, d.items) for d in later] == [(nurse.user_id, (("Message de Paul Roux", 1),))]
    assert digest.collect_digests(session, quiet=timedelta(0))[0].items == (("Message de Paul Roux", 1),)


def test_render_digest() -> None:
    one = digest.Digest(1, "a@example.fr", "Hélène Durand", (("Équipe de soins d'un patient", 1),), {3: 9})
    subject, text = digest.render_digest(one, "https://cpts.example.fr/")
    assert subject == "Messagerie de la CPTS : 1 nouveau message non lu"
    assert text.startswith("Bonjour Hélène Durand,\n")
    assert "  - Équipe de soins d'un patient : 1 message\n" in text
    assert "https://cpts.example.fr/messagerie\n" in text
    many = digest.Digest(1, "a@example.fr", "H", (("IDE", 2), ("Message de Paul Roux", 1)))
    subject, text = digest.render_digest(many, "http://localhost:3000")
    assert subject == "Messagerie de la CPTS : 3 nouveaux messages non lus"
    assert "  - IDE : 2 messages\n" in text and "http://localhost:3000/messagerie" in text


def test_sends_through_smtp_once_per_message(session: Session, world: dict, url: str) -> None:
    nurse, doctor = world["nurse"], world["doctor"]
    rows.message(session, world["care"], doctor, SECRET_TEXT, created_at=EARLIER)
    rows.message(session, world["direct"], doctor, "Rappelle-moi", created_at=EARLIER)
    session.commit()

    with smtp_server() as (inbox, port):
        assert digest.send_digests(url, _settings(port)) == 2
        by_rcpt = {mail.rcpt_tos[0]: mail for mail in inbox.received}
        assert set(by_rcpt) == {"helene.durand@example.fr", "luc.petit@example.fr"}
        mail = by_rcpt["helene.durand@example.fr"]
        assert mail.mail_from == "messagerie@cpts-test.fr"
        assert mail.message["Subject"] == "Messagerie de la CPTS : 2 nouveaux messages non lus"
        assert mail.message.get_content_charset() == "utf-8"
        assert "Bonjour Hélène Durand," in mail.text and "Message de Paul Roux : 1 message" in mail.text
        assert "https://cpts.example.fr/messagerie" in mail.text
        for received in inbox.received:
            raw = received.message.as_string() + received.text
            for secret in ("Escarre", "morphine", "Rappelle", "Rouvière", "ROUVIÈRE", "Odette"):
                assert secret not in raw

        # A second run announces nothing more.
        assert digest.send_digests(url, _settings(port)) == 0
        assert len(inbox.received) == 2

        # A message read before the digest is not announced; a new unread one is, alone.
        read = rows.message(session, world["channel"], doctor, "Lu", created_at=EARLIER)
        world["nurse_channel"].last_read_message_id = read.id
        session.add(world["nurse_channel"])
        rows.message(session, world["care"], nurse, "Nouveau", created_at=EARLIER)
        session.commit()
        assert digest.send_digests(url, _settings(port)) == 2
        latest = {mail.rcpt_tos[0]: mail for mail in inbox.received[2:]}
        assert set(latest) == {"paul.roux@example.fr", "luc.petit@example.fr"}
        assert "Équipe de soins d'un patient : 1 message" in latest["paul.roux@example.fr"].text

    session.expire_all()
    member = session.get(ThreadMember, world["nurse_care"].id)
    assert member is not None and member.digest_through_message_id > 0
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "messaging.digest.send")).all()
    assert len(events) == 4
    assert {json.loads(e.detail)["messages"] for e in events} == {1, 2}


def test_a_refused_recipient_is_retried_next_time(session: Session, world: dict, url: str) -> None:
    rows.message(session, world["care"], world["doctor"], "Passage demain", created_at=EARLIER)
    session.commit()
    with smtp_server() as (inbox, port):
        inbox.refuse.add("luc.petit@example.fr")
        assert digest.send_digests(url, _settings(port)) == 1
        assert [m.rcpt_tos for m in inbox.received] == [["helene.durand@example.fr"]]
        inbox.refuse.clear()
        assert digest.send_digests(url, _settings(port)) == 1
        assert inbox.received[-1].rcpt_tos == ["luc.petit@example.fr"]


def test_an_unreachable_server_marks_nothing(session: Session, world: dict, url: str) -> None:
    rows.message(session, world["care"], world["doctor"], "Passage demain", created_at=EARLIER)
    session.commit()
    with pytest.raises(MailServerUnavailable, match="Résumés envoyés avant l'interruption : 0"):
        digest.send_digests(url, _settings(free_port()))
    assert len(digest.collect_digests(session)) == 2


def test_a_crash_after_sending_repeats_at_most_that_digest(session: Session, world: dict, url: str) -> None:
    rows.message(session, world["care"], world["doctor"], "Passage demain", created_at=EARLIER)
    session.commit()
    sent: list[str] = []

    def flaky(settings: Settings, to: str, subject: str, text: str) -> None:
        sent.append(to)
        if len(sent) == 2:
            raise RuntimeError("le processus s'arrête")

    with pytest.raises(RuntimeError):
        digest.send_digests(url, _settings(25), sender=flaky)
    remaining = digest.collect_digests(session)
    assert [d.email for d in remaining] == [sent[1]]
