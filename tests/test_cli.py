"""The ``cpts`` command against the test database (SQLite file, or PostgreSQL in CI)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from cpts_app import db, settings
from cpts_app.cli import main
from cpts_app.demo import DEMO_CREDENTIALS
from cpts_app.models import (
    AuditEvent,
    InboundMessage,
    Message,
    MessageAttachment,
    MessageAttachmentBlob,
    Professional,
    Referral,
    ReferralSource,
    ReferralStatus,
    Territory,
    ThreadKind,
    ThreadMember,
    User,
)
from cpts_app.services import crypto
from cpts_app.services.orientation.email_intake import RAW_PURPOSE
from cpts_app.services.passwords import verify_password

VALID_EML = """\
From: =?UTF-8?Q?Odette_Rouvi=C3=A8re?= <odette.rouviere@example.fr>
To: orientation@demo-cpts.fr
Subject: =?UTF-8?Q?Recherche_d=27un_m=C3=A9decin_traitant?=
Date: Mon, 16 Mar 2026 08:14:02 +0100
Message-ID: <cli-test-0001@example.fr>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Bonjour,

Je m'appelle Odette ROUVIÈRE, née le 03/02/1941, et j'habite à Beaucaire.
Je n'ai plus de médecin traitant depuis le départ à la retraite de mon docteur.
Vous pouvez me joindre au 06 12 34 56 78.

Bien cordialement,
Odette Rouvière
""".replace("\n", "\r\n").encode("utf-8")
GARBAGE_EML = b"\x00\xff\xfe pas un courriel \x81\x82 --cut"
"""Not an e-mail at all: it must still land as « à qualifier » with its text."""


@pytest.fixture(autouse=True)
def _secrets_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Master keys in a temporary folder, apart from the data folder (the key store refuses it)."""
    monkeypatch.setenv("CPTS_SECRETS_DIR", str(tmp_path_factory.mktemp("cli-secrets") / "secrets"))
    settings.get_settings.cache_clear()
    yield
    settings.get_settings.cache_clear()


@pytest.fixture
def cli_database(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the settings (hence the CLI) at the test database."""
    monkeypatch.setenv("CPTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield database_url
    db.get_engine().dispose()
    db.get_engine.cache_clear()
    settings.get_settings.cache_clear()


def test_migrate(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "Base de données à jour" in capsys.readouterr().out


def test_demo_prints_summary_and_credentials_then_if_empty_is_a_no_op(
    cli_database: str, engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Territoire de démonstration chargé" in out
    assert "Communes : 13" in out
    assert "Médecin généraliste : 44" in out
    assert "Demandes d'orientation : " in out and "À qualifier : " in out and "Clôturée : " in out
    for credential in DEMO_CREDENTIALS:
        assert credential.email in out
        assert credential.password in out

    with Session(engine) as session:
        users_before = len(session.exec(select(User)).all())
        professionals_before = len(session.exec(select(Professional)).all())
        assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "demo.load")).all()) == 1

    assert main(["demo", "--if-empty"]) == 0
    out = capsys.readouterr().out
    assert "déjà un territoire" in out
    assert "Demo-Admin-2026" not in out

    with Session(engine) as session:
        assert len(session.exec(select(Territory)).all()) == 1
        assert len(session.exec(select(User)).all()) == users_before
        assert len(session.exec(select(Professional)).all()) == professionals_before


def test_demo_without_if_empty_reports_it_was_already_there(
    cli_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--if-empty"]) == 0
    assert "chargé dans" in capsys.readouterr().out
    assert main(["demo"]) == 0
    assert "déjà chargé" in capsys.readouterr().out


def test_create_user_reads_the_password_from_stdin(
    cli_database: str, engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("un-long-mot-de-passe\n"))
    status = main(["create-user", "--email", " Chef@Exemple.FR ", "--role", "admin", "--name", "Cheffe"])
    assert status == 0, capsys.readouterr().err
    assert "Compte créé : chef@exemple.fr" in capsys.readouterr().out
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == "chef@exemple.fr")).one()
        assert user.role == "admin"
        assert verify_password("un-long-mot-de-passe", user.password_hash)
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "users.create")).one()

    monkeypatch.setattr("sys.stdin", io.StringIO("un-long-mot-de-passe\n"))
    assert main(["create-user", "--email", "chef@exemple.fr", "--role", "admin", "--name", "Bis"]) == 1
    assert "existe déjà" in capsys.readouterr().err


def test_create_user_refuses_a_short_password_and_an_unknown_professional(
    cli_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("court\n"))
    assert main(["create-user", "--email", "a@exemple.fr", "--role", "coordinator", "--name", "A"]) == 1
    assert "au moins 12 caractères" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO("un-long-mot-de-passe\n"))
    args = ["create-user", "--email", "b@exemple.fr", "--role", "professional", "--name", "B"]
    assert main([*args, "--professional-id", "999999"]) == 1
    assert "professionnel" in capsys.readouterr().err


def test_unknown_role_is_refused_by_argparse(cli_database: str) -> None:
    with pytest.raises(SystemExit):
        main(["create-user", "--email", "a@exemple.fr", "--role", "chef", "--name", "A"])


def _drop_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "depot"
    folder.mkdir()
    (folder / "01-odette.eml").write_bytes(VALID_EML)
    (folder / "02-illisible.eml").write_bytes(GARBAGE_EML)
    return folder


def test_intake_from_a_drop_folder(
    cli_database: str, engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _drop_folder(tmp_path)
    done = tmp_path / "traites"
    assert main(["intake", "--dossier", str(folder), "--traites", str(done)]) == 0
    out = capsys.readouterr().out
    assert "Demandes créées (à qualifier) : 2" in out
    assert "Déjà reçus (doublons) : 0" in out and "Échecs" in out
    assert not list(folder.glob("*.eml"))
    assert sorted(p.name for p in done.iterdir()) == ["01-odette.eml", "02-illisible.eml"]
    with Session(engine) as session:
        referrals = session.exec(select(Referral).order_by(Referral.id)).all()
        assert [r.status for r in referrals] == [ReferralStatus.TO_QUALIFY] * 2
        assert {r.source for r in referrals} == {ReferralSource.PATIENT_EMAIL}
        odette = referrals[0]
        assert odette.contact_phone == "+33612345678" and "ROUVIÈRE" in odette.contact_name
        messages = {m.id: m for m in session.exec(select(InboundMessage))}
        assert {r.inbound_message_id for r in referrals} == set(messages)
        assert sorted(m.parsed for m in messages.values()) == [False, True]

    # The same message dropped again is recognised and moved away, never doubled.
    (folder / "01-odette-bis.eml").write_bytes(VALID_EML)
    assert main(["intake", "--dossier", str(folder), "--traites", str(done)]) == 0
    out = capsys.readouterr().out
    assert "Demandes créées (à qualifier) : 0" in out and "Déjà reçus (doublons) : 1" in out
    assert len(list(done.iterdir())) == 3


def test_intake_needs_a_source_and_an_existing_folder(
    cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["intake"]) == 2
    assert "--dossier" in capsys.readouterr().err
    assert main(["intake", "--dossier", str(tmp_path / "absent")]) == 2
    assert "n'existe pas" in capsys.readouterr().err
    assert main(["intake", "--imap", "--traites", str(tmp_path)]) == 2
    assert "--traites" in capsys.readouterr().err


def test_intake_from_imap_without_configuration(
    cli_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FOLDER"):
        monkeypatch.delenv(f"CPTS_IMAP_{name}", raising=False)
    monkeypatch.setenv("CPTS_IMAP_HOST", "imap.example.fr")  # a host alone is not a configuration
    assert main(["intake", "--imap"]) == 2
    err = capsys.readouterr().err
    assert "la boîte IMAP n'est pas configurée" in err and "CPTS_IMAP_PASSWORD" in err


def test_rotate_key_rewraps_every_sealed_message(
    cli_database: str, engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["intake", "--dossier", str(_drop_folder(tmp_path))]) == 0
    with Session(engine) as session:
        before = {m.id: m.sealed_raw for m in session.exec(select(InboundMessage))}
    old_ids = {crypto.key_id_of(blob) for blob in before.values()}
    capsys.readouterr()

    assert main(["rotate-key"]) == 0
    out = capsys.readouterr().out
    new_id = out.split("Nouvelle clé maîtresse : ", 1)[1].split()[0]
    assert new_id not in old_ids
    assert "rechiffrés : 2" in out and "Illisibles (laissés tels quels) : 0" in out
    with Session(engine) as session:
        after = {m.id: m.sealed_raw for m in session.exec(select(InboundMessage))}
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "crypto.rotate")).one()
    assert set(after) == set(before)
    for message_id, blob in after.items():
        assert crypto.key_id_of(blob) == new_id
        opened = crypto.open_sealed(blob, purpose=RAW_PURPOSE, record_id=str(message_id))
        assert opened == crypto.open_sealed(
            before[message_id], purpose=RAW_PURPOSE, record_id=str(message_id)
        )
    assert any(
        b"cli-test-0001" in crypto.open_sealed(b, purpose=RAW_PURPOSE, record_id=str(i))
        for i, b in after.items()
    )


def _messaging_rows(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A care team with an unread message (an hour old), a PDF attachment and a deleted message."""
    from datetime import timedelta

    from cpts_app.models.types import utcnow
    from cpts_app.services.messaging import attachments
    from tests.services.messaging import rows
    from tests.services.messaging.test_attachments import pdf_bytes

    with Session(engine, expire_on_commit=False) as session:
        nurse = rows.person(session, "Hélène Durand", email="helene.durand@example.fr")
        doctor = rows.person(session, "Paul Roux", email="paul.roux@example.fr")
        care = rows.thread(session, ThreadKind.PATIENT, doctor, patient_row=rows.patient(session))
        rows.member(session, care, nurse)
        rows.member(session, care, doctor)
        draft = attachments.stage_attachment(session, doctor, care.id or 0, "bilan.pdf", pdf_bytes())
        message = rows.message(session, care, doctor, "Bilan joint", created_at=utcnow() - timedelta(hours=1))
        attachments.claim_drafts(session, doctor, care.id or 0, message.id or 0, [draft.id])
        gone = rows.message(session, care, doctor, "Supprimé", created_at=utcnow() - timedelta(hours=1))
        gone.body, gone.deleted_at = None, utcnow()
        session.add(gone)
        session.commit()
        return {"thread": care.id or 0, "message": message.id or 0, "attachment": draft.id}


def test_digest_without_smtp_server(
    cli_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CPTS_SMTP_HOST", "")
    settings.get_settings.cache_clear()
    assert main(["digest"]) == 2
    assert "Aucun serveur SMTP configuré (CPTS_SMTP_HOST) : aucun résumé envoyé." in capsys.readouterr().err


def test_digest_sends_through_the_configured_server(
    cli_database: str, engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.smtp_server import free_port, smtp_server

    _messaging_rows(engine)
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("CPTS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CPTS_SMTP_PORT", str(port))
        monkeypatch.setenv("CPTS_SMTP_SECURITY", "none")
        monkeypatch.setenv("CPTS_PUBLIC_URL", "https://cpts.example.fr")
        settings.get_settings.cache_clear()
        assert main(["digest"]) == 0
        assert capsys.readouterr().out.strip() == "1 courriel(s) de résumé envoyé(s)."
        (mail,) = inbox.received
        assert mail.rcpt_tos == ["helene.durand@example.fr"]
        assert "https://cpts.example.fr/messagerie" in mail.text and "Bilan" not in mail.text
        assert main(["digest"]) == 0
        assert capsys.readouterr().out.strip() == "0 courriel(s) de résumé envoyé(s)."

    monkeypatch.setenv("CPTS_SMTP_PORT", str(free_port()))
    settings.get_settings.cache_clear()
    assert main(["digest"]) == 0  # nothing left to announce: the server is not even contacted
    with Session(engine) as session:  # announce the message again: now the server is down
        for member in session.exec(select(ThreadMember)).all():
            member.digest_through_message_id = 0
            session.add(member)
        session.commit()
    assert main(["digest"]) == 1
    assert "injoignable" in capsys.readouterr().err


def test_rotate_key_rewraps_messages_and_attachments(
    cli_database: str, engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from cpts_app.services.messaging import attachments

    ids = _messaging_rows(engine)
    with Session(engine) as session:
        before_body = session.get(Message, ids["message"]).body  # type: ignore[union-attr]
        before_blob = session.get(MessageAttachmentBlob, ids["attachment"]).content  # type: ignore[union-attr]
    assert before_body is not None
    old_key = crypto.key_id_of(before_body)

    assert main(["rotate-key"]) == 0
    out = capsys.readouterr().out
    new_key = out.split("Nouvelle clé maîtresse : ", 1)[1].split()[0]
    assert new_key != old_key
    assert "Messages de la messagerie rechiffrés : 1" in out  # the deleted message has no body
    assert "Noms de pièces jointes rechiffrés : 1" in out
    assert "Pièces jointes rechiffrées : 1" in out
    assert "Illisibles (laissés tels quels) : 0" in out

    t, m, a = ids["thread"], ids["message"], ids["attachment"]
    with Session(engine) as session:
        message = session.get(Message, m)
        row = session.get(MessageAttachment, a)
        blob = session.get(MessageAttachmentBlob, a)
        assert message and message.body and row and blob
        for sealed in (message.body, row.sealed_name, blob.content):
            assert crypto.key_id_of(sealed) == new_key
        assert crypto.open_text(
            message.body, purpose="message.body", record_id=f"thread-{t}/message-{m}"
        ) == ("Bilan joint")
        assert blob.content[-200:] == before_blob[-200:]  # only the wrapped key changed
        assert attachments.attachment_views(session, [m])[m][0].name == "bilan.pdf"
        record_id = f"thread-{t}/message-{m}/attachment-{a}"
        assert crypto.open_sealed(blob.content, purpose="message.attachment", record_id=record_id).startswith(
            b"%PDF"
        )
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "crypto.rotate")).one()
        assert '"content": 1' in event.detail

    # Running it again rotates again and moves everything once more.
    assert main(["rotate-key"]) == 0
    assert "Pièces jointes rechiffrées : 1" in capsys.readouterr().out


def test_rotate_key_reports_an_unreadable_attachment(
    cli_database: str, engine, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _messaging_rows(engine)
    with Session(engine) as session:
        blob = session.get(MessageAttachmentBlob, ids["attachment"])
        assert blob is not None
        sealed = bytearray(blob.content)
        sealed[30] ^= 0xFF  # inside the wrapped data key
        blob.content = bytes(sealed)
        session.add(blob)
        session.commit()
    assert main(["rotate-key"]) == 1
    captured = capsys.readouterr()
    assert "Illisibles (laissés tels quels) : 1" in captured.out
    assert f"pièce jointe n° {ids['attachment']}" in captured.err
    assert "Messages de la messagerie rechiffrés : 1" in captured.out
