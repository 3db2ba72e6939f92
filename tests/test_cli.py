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
from cpts_app.models import AuditEvent, Professional, Territory, User
from cpts_app.services.passwords import verify_password


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
