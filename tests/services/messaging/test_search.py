"""Blind-index search: keyed tokens, readers' rights (members, former members, coordinators), audit."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.messaging import MessageSearchToken, ThreadKind, ThreadMember
from cpts_app.models.types import utcnow
from cpts_app.services.crypto import CryptoError
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.messaging import search
from tests.services.messaging import rows

LONG_NOTE = (
    "Passage ce matin chez la patiente : tension stable, pansement de l'ulcère refait, "
    "pas de fièvre. La famille demande si le kinésithérapeute peut passer deux fois par semaine "
    "en plus des soins infirmiers. Prévoir un point avec le médecin traitant vendredi."
)


@pytest.fixture
def team(session: Session) -> dict:
    """A patient's care team (nurse, doctor), a channel, a direct conversation and an outsider."""
    nurse = rows.person(session, "Claire Martin")
    doctor = rows.person(session, "Paul Roux")
    outsider = rows.person(session, "Jean Bernard")
    coordinator = rows.person(session, "Anne Coordo", Role.COORDINATOR)
    odette = rows.patient(session, "Rouvière", "Odette")
    care = rows.thread(session, ThreadKind.PATIENT, coordinator, patient_row=odette)
    for who in (nurse, doctor):
        rows.member(session, care, who)
    channel = rows.thread(session, ThreadKind.CHANNEL, coordinator, title="IDE de Beaucaire")
    rows.member(session, channel, nurse)
    direct = rows.thread(session, ThreadKind.DIRECT, nurse, direct_pair=(nurse.user_id, outsider.user_id))
    rows.member(session, direct, nurse)
    rows.member(session, direct, outsider)
    session.commit()
    return {
        "nurse": nurse,
        "doctor": doctor,
        "outsider": outsider,
        "coordinator": coordinator,
        "care": care,
        "channel": channel,
        "direct": direct,
    }


def test_tokens_are_keyed_hashes_of_words_and_prefixes() -> None:
    tokens = search.tokens_for("Ulcère")
    assert len(tokens) == 4  # ulc, ulce, ulcer, ulcere
    assert all(len(token) == 32 and int(token, 16) >= 0 for token in tokens)
    assert search.tokens_for("ULCERE") == tokens == search.tokens_for("ulcère !")
    assert search.tokens_for("ulc") < tokens
    assert search.tokens_for("a b") == set()  # words of one letter are not indexed
    assert len(search.tokens_for("IV")) == 1  # two letters: the word itself
    long_word = "anticonstitutionnellement"  # 25 letters: prefixes up to 20, then the word
    assert len(search.tokens_for(long_word)) == 18 + 1
    many = " ".join(f"mot{index:04d}suffixe" for index in range(200))
    assert len(search.tokens_for(many)) == search.MAX_TOKENS


def test_the_search_key_is_a_private_file_beside_the_master_keys() -> None:
    search.tokens_for("création")
    path = search.search_key_path()
    assert path.name == "search-index.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == search.search_key_path().parent


def test_finds_by_word_starts_without_accents_newest_first(session: Session, team: dict) -> None:
    nurse, doctor = team["nurse"], team["doctor"]
    old = rows.message(
        session, team["care"], doctor, "Ulcère à surveiller", created_at=utcnow() - timedelta(days=2)
    )
    new = rows.message(session, team["care"], nurse, LONG_NOTE)
    rows.message(session, team["channel"], nurse, "Réunion des IDE jeudi")
    session.commit()

    hits = search.search_messages(session, nurse, "ULCER")
    assert [hit.message_id for hit in hits] == [new.id, old.id]
    assert hits[1].excerpt == "Ulcère à surveiller"
    assert hits[0].thread_title == "ROUVIÈRE Odette" and hits[1].author_name == "Paul Roux"
    assert hits[0].thread_id == team["care"].id

    (hit,) = search.search_messages(session, nurse, "kiné semaine")  # every word, any order
    assert hit.message_id == new.id
    assert hit.excerpt.startswith("…") and hit.excerpt.endswith("…")
    assert "kinésithérapeute" in hit.excerpt and len(hit.excerpt) <= search.EXCERPT_CHARS + 2
    assert search.search_messages(session, nurse, "kiné dimanche") == []
    assert search.search_messages(session, nurse, "lcere") == []  # inside a word: not a word start

    (hit,) = search.search_messages(session, nurse, "reunion")
    assert hit.thread_title == "IDE de Beaucaire"


def test_direct_conversation_is_named_after_the_other_person(session: Session, team: dict) -> None:
    rows.message(session, team["direct"], team["outsider"], "Pouvez-vous me rappeler ?")
    session.commit()
    (hit,) = search.search_messages(session, team["nurse"], "rappeler")
    assert hit.thread_title == "Jean Bernard"
    (hit,) = search.search_messages(session, team["outsider"], "rappeler")
    assert hit.thread_title == "Claire Martin"


def test_nobody_finds_what_they_cannot_read(session: Session, team: dict) -> None:
    rows.message(session, team["care"], team["nurse"], "Pansement refait, plaie propre")
    rows.message(session, team["direct"], team["nurse"], "Pansement prévu demain")
    session.commit()

    assert len(search.search_messages(session, team["nurse"], "pansement")) == 2
    assert [h.thread_id for h in search.search_messages(session, team["doctor"], "pansement")] == [
        team["care"].id
    ]
    assert [h.thread_id for h in search.search_messages(session, team["outsider"], "pansement")] == [
        team["direct"].id
    ]
    stranger = rows.person(session, "Luc Dumas")
    assert search.search_messages(session, stranger, "pansement") == []
    # A coordinator reads every care team, never other people's direct conversations.
    assert [h.thread_id for h in search.search_messages(session, team["coordinator"], "pansement")] == [
        team["care"].id
    ]


def test_former_members_find_only_what_was_posted_while_they_belonged(session: Session, team: dict) -> None:
    before = rows.message(session, team["care"], team["nurse"], "Pansement refait lundi")
    doctor_membership = session.exec(
        select(ThreadMember).where(ThreadMember.user_id == team["doctor"].user_id)
    ).one()
    assert before.id is not None
    rows.leave(session, doctor_membership, before.id)
    rows.message(session, team["care"], team["nurse"], "Pansement refait mercredi")
    session.commit()

    assert [h.message_id for h in search.search_messages(session, team["doctor"], "pansement")] == [before.id]
    assert len(search.search_messages(session, team["nurse"], "pansement")) == 2


def test_deleted_messages_are_not_found(session: Session, team: dict) -> None:
    kept = rows.message(session, team["care"], team["nurse"], "Glycémie à jeun 1,2")
    gone = rows.message(session, team["care"], team["nurse"], "Glycémie du soir 1,8")
    assert gone.id is not None
    gone.deleted_at, gone.body = utcnow(), None
    session.add(gone)
    search.forget_message(session, gone.id)
    # A tombstone still in the index (a crash between the two) is filtered out too.
    unindexed = rows.message(session, team["care"], team["nurse"], "Glycémie corrigée")
    assert unindexed.id is not None
    unindexed.deleted_at = utcnow()
    session.add(unindexed)
    session.commit()
    assert [h.message_id for h in search.search_messages(session, team["nurse"], "glycemie")] == [kept.id]


@pytest.mark.parametrize("query", ["", "  ", "ab", "ulcère de", "!!!"])
def test_short_queries_are_refused(session: Session, team: dict, query: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        search.search_messages(session, team["nurse"], query)
    assert caught.value.errors == {"query": "Tapez au moins 3 lettres."}


def test_one_audit_event_per_search_without_the_query(session: Session, team: dict) -> None:
    rows.message(session, team["care"], team["nurse"], "Suspicion de zona, traitement débuté")
    rows.message(session, team["channel"], team["nurse"], "Zona : rappel du protocole")
    session.commit()
    assert len(search.search_messages(session, team["nurse"], "zona")) == 2
    session.commit()
    (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "messaging.search")).all()
    assert event.actor_user_id == team["nurse"].user_id
    detail = json.loads(event.detail)
    assert detail["hits"] == 2 and detail["patient_thread_ids"] == [team["care"].id]
    assert detail["patient_ids"] == [team["care"].patient_id]
    assert "zona" not in event.detail.lower()


def test_the_index_holds_no_word_in_clear(session: Session, team: dict) -> None:
    text = "Rouvière Odette diabète insuline ulcère talon"
    rows.message(session, team["care"], team["nurse"], text)
    session.commit()
    stored = set(session.exec(select(MessageSearchToken.token)).all())
    assert stored == search.tokens_for(text)
    words = {"rouviere", "odette", "diabete", "insuline", "ulcere", "talon", "dia", "ulc", "rou"}
    for token in stored:
        assert token not in words and not any(word in token for word in words if len(word) > 3)


def test_reindexing_replaces_the_tokens(session: Session, team: dict) -> None:
    message = rows.message(session, team["care"], team["nurse"], "premier texte")
    assert message.id is not None and team["care"].id is not None
    search.index_message(session, message.id, team["care"].id, "second")
    session.commit()
    count = session.exec(
        select(func.count())
        .select_from(MessageSearchToken)
        .where(MessageSearchToken.message_id == message.id)
    ).one()
    assert count == len(search.tokens_for("second"))


def test_excerpt() -> None:
    assert search.excerpt("court", ["court"]) == "court"
    text = " ".join(f"mot{index}" for index in range(100)) + " Ulcère " + "fin " * 50
    cut = search.excerpt(text, ["ulcere"])
    assert cut.startswith("…mot") and cut.endswith("…") and "Ulcère" in cut
    assert search.excerpt("x " * 200, ["absent"]).startswith("x x")


def test_a_missing_key_file_is_not_silently_replaced(session: Session, team: dict) -> None:
    rows.message(session, team["care"], team["nurse"], "Pansement refait")
    session.commit()
    path = search.search_key_path()
    aside = path.with_name("search-index.key.aside")
    path.rename(aside)
    search._load_key.cache_clear()
    try:
        with pytest.raises(CryptoError, match="restaurez ce fichier"):
            search.search_messages(session, team["nurse"], "pansement")
        assert not path.exists()
    finally:
        aside.rename(path)
        search._load_key.cache_clear()
    assert len(search.search_messages(session, team["nurse"], "pansement")) == 1
