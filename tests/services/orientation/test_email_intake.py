"""E-mail intake on real .eml fixtures: every message becomes a referral, none twice, none lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from cpts_app.models.orientation import InboundMessage, Referral
from cpts_app.services import crypto
from cpts_app.services.orientation import email_intake
from cpts_app.services.orientation.email_intake import (
    imap_config_from_env,
    ingest_drop_folder,
    ingest_message,
    parse_signal_email,
)
from cpts_app.services.orientation.queue import get_referral
from tests.services.orientation.factories import NOW, build_world

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "eml"
ALL = sorted(FIXTURES.glob("*.eml"))


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_there_are_real_fixtures() -> None:
    assert len(ALL) >= 7


@pytest.mark.parametrize(
    ("name", "contact", "phone", "born", "reason", "urgency"),
    [
        (
            "01_plain_quoted_printable.eml",
            "DUPRÉ Hélène",
            "+33612345678",
            "1948-03-12",
            "maladie_chronique_ald",
            "programme",
        ),
        (
            "02_html_only.eml",
            "LEFÈVRE Jean-Pierre",
            "+33556123456",
            "1941-02-03",
            "sortie_hospitalisation",
            "programme",
        ),
        (
            "03_base64_latin1.eml",
            "GARNIER Françoise",
            "+33781223344",
            "1939-08-01",
            "renouvellement_traitement",
            "sous_48h",
        ),
        (
            "04_pdf_attachment.eml",
            "ROUSSEL Odette",
            "+33645678901",
            "1936-07-14",
            "sortie_hospitalisation",
            "programme",
        ),
        (
            "05_forwarded_pharmacy.eml",
            "MOREAU Lucie",
            "+33698765432",
            "1980-12-25",
            "suivi_apres_urgence",
            "programme",
        ),
        ("06_no_phone.eml", "PETIT Marc", None, None, "recherche_medecin_traitant", "programme"),
    ],
)
def test_each_fixture_becomes_a_referral_to_qualify(  # type: ignore[no-untyped-def]
    session: Session, name, contact, phone, born, reason, urgency
) -> None:
    referral_id = ingest_message(session, _raw(name), source="dossier", now=NOW)
    session.commit()
    referral = session.get(Referral, referral_id)
    assert referral is not None
    assert (referral.source, referral.status, referral.patient_id) == (
        "patient_courriel",
        "a_qualifier",
        None,
    )
    assert (referral.contact_name, referral.contact_phone) == (contact, phone)
    assert (referral.reason, referral.urgency) == (reason, urgency)
    if born:
        assert f"Date de naissance : {born[8:10]}/{born[5:7]}/{born[:4]}" in referral.free_text


def test_parsing_details() -> None:
    html = parse_signal_email(_raw("02_html_only.eml"))
    assert "06 00 00 00 00" not in html.text  # scripts dropped
    assert "Je vous écris pour mon père qui sort de l'hôpital" in html.text
    latin = parse_signal_email(_raw("03_base64_latin1.eml"))
    assert latin.subject == "Renouvellement d'ordonnance très urgent"
    assert "Françoise GARNIER, née le 1er août 1939" in latin.text
    pdf = parse_signal_email(_raw("04_pdf_attachment.eml"))
    assert pdf.attachments == ["compte-rendu-sortieé.pdf"]
    assert "%PDF" not in pdf.text
    forwarded = parse_signal_email(_raw("05_forwarded_pharmacy.eml"))
    assert forwarded.forwarded and forwarded.forwarded_sender_name == "Lucie Moreau"
    assert forwarded.phone == "+33698765432"  # the patient's, not the pharmacy's


def test_garbage_still_lands_with_its_text(session: Session) -> None:
    referral_id = ingest_message(session, _raw("07_garbage_truncated.eml"), source="dossier", now=NOW)
    session.commit()
    referral = session.get(Referral, referral_id)
    assert referral is not None and referral.status == "a_qualifier"
    assert "besoin d'un médecin" in referral.free_text
    assert "Lecture incomplète" in referral.free_text
    message = session.get(InboundMessage, referral.inbound_message_id)
    assert message is not None and message.parsed is False
    assert ingest_message(session, b"", source="dossier", now=NOW) is not None  # even an empty file


def test_duplicates_are_ignored(session: Session) -> None:
    for name in ("01_plain_quoted_printable.eml", "06_no_phone.eml"):  # Message-ID, then raw bytes
        assert ingest_message(session, _raw(name), source="dossier", now=NOW) is not None
        session.commit()
        assert ingest_message(session, _raw(name), source="imap", now=NOW) is None
    assert len(session.exec(select(Referral)).all()) == 2


def test_raw_message_is_stored_sealed(session: Session) -> None:
    world = build_world(session)
    raw = _raw("06_no_phone.eml")
    referral_id = ingest_message(session, raw, source="dossier", now=NOW)
    session.commit()
    message = session.exec(select(InboundMessage)).one()
    assert b"emm\xc3\xa9nager" not in message.sealed_raw and b"Marc" not in message.sealed_raw
    assert (
        crypto.open_sealed(message.sealed_raw, purpose="inbound_message.raw", record_id=str(message.id))
        == raw
    )
    detail = get_referral(session, world.coordinator, referral_id)  # type: ignore[arg-type]
    assert "Je viens d'emménager à Bègles" in detail.email_text
    assert detail.email_raw.startswith("From: Marc Petit")


def test_drop_folder_moves_after_commit_and_keeps_failures(
    tmp_path: Path, database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in ALL:
        shutil.copy(path, inbox / path.name)
    real_seal = crypto.seal
    calls = {"n": 0}

    def flaky_seal(plaintext: bytes, **kwargs: str) -> bytes:
        calls["n"] += 1
        if b"Marc Petit" in plaintext:
            raise crypto.CryptoError("clé indisponible")
        return real_seal(plaintext, **kwargs)

    monkeypatch.setattr(email_intake.crypto, "seal", flaky_seal)
    report = ingest_drop_folder(inbox, url=database_url)
    assert len(report.created) == len(ALL) - 1
    assert [name for name, _ in report.failed] == ["06_no_phone.eml"]
    assert sorted(p.name for p in inbox.glob("*.eml")) == ["06_no_phone.eml"]  # left in place
    assert len(list((inbox / "processed").glob("*.eml"))) == len(ALL) - 1
    assert (
        len(session.exec(select(Referral)).all()) == len(ALL) - 1
    )  # the failed one left nothing half-written
    assert len(session.exec(select(InboundMessage)).all()) == len(ALL) - 1

    monkeypatch.setattr(email_intake.crypto, "seal", real_seal)
    again = ingest_drop_folder(inbox, url=database_url)
    assert (len(again.created), again.failed) == (1, [])
    assert list(inbox.glob("*.eml")) == []
    # A copy of an already-received file is recognised and moved aside, not duplicated.
    shutil.copy(ALL[0], inbox / "copie.eml")
    third = ingest_drop_folder(inbox, url=database_url)
    assert (third.created, third.duplicates) == ([], ["copie.eml"])


class _FakeImap:
    """Just enough of IMAP4_SSL to check that \\Seen is set only after the commit."""

    instances: list[_FakeImap] = []

    def __init__(self, host: str, port: int, ssl_context: object) -> None:
        self.messages = {b"1": _raw("01_plain_quoted_printable.eml"), b"2": _raw("06_no_phone.eml")}
        self.seen: list[str] = []
        self.ssl_context = ssl_context
        _FakeImap.instances.append(self)

    def __enter__(self) -> _FakeImap:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        assert (user, password) == ("pole", "secret")

    def select(self, folder: str) -> None:
        assert folder == "INBOX"

    def uid(self, command: str, *args: object):  # type: ignore[no-untyped-def]
        if command == "SEARCH":
            return "OK", [b"1 2"]
        if command == "FETCH":
            uid = str(args[0]).encode()
            assert args[1] == "(BODY.PEEK[])"
            if uid == b"2":
                return "NO", [None]
            return "OK", [(b"1 (BODY[] {100}", self.messages[uid]), b")"]
        if command == "STORE":
            self.seen.append(str(args[0]))
            return "OK", [b""]
        raise AssertionError(command)


def test_imap_marks_seen_only_what_was_committed(
    database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_intake.imaplib, "IMAP4_SSL", _FakeImap)
    report = email_intake.fetch_imap("imap.example.fr", 993, "pole", "secret", url=database_url)
    assert len(report.created) == 1
    assert [uid for uid, _ in report.failed] == ["2"]
    assert _FakeImap.instances[-1].seen == ["1"]
    assert len(session.exec(select(Referral)).all()) == 1


def test_imap_configuration_from_environment() -> None:
    assert imap_config_from_env({}) is None
    config = imap_config_from_env(
        {
            "CPTS_IMAP_HOST": "imap.example.fr",
            "CPTS_IMAP_USER": "pole",
            "CPTS_IMAP_PASSWORD": "s",
            "CPTS_IMAP_FOLDER": "Signalements",
        }
    )
    assert config is not None
    assert (config.host, config.port, config.folder) == ("imap.example.fr", 993, "Signalements")
