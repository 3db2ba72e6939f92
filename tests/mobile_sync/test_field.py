"""A laptop's life against the real enrolment route: enrol, unlock within the lease, status, CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mobile_sync import cli, field
from mobile_sync.client import SyncClient, SyncRefused
from mobile_sync.envelope import FAST_TEST_KDF, WrongPassphrase
from mobile_sync.store import LocalStore

PASSPHRASE = "tournée du mardi à Beaucaire"


@pytest.fixture
def client(api: TestClient) -> SyncClient:
    return SyncClient(api)


def _enrol(folder: Path, client: SyncClient, code: str) -> field.FieldStatus:
    return field.enrol(folder, PASSPHRASE, "https://localhost:3000", code, client, params=FAST_TEST_KDF)


def test_enrolment_creates_one_encrypted_store_and_holds_the_key_sealed(tmp_path, client, code) -> None:
    tmp_path = tmp_path / "portable"  # the test database lives in tmp_path itself
    status = _enrol(tmp_path, client, code)
    assert len(status.device_id) == 32 and status.label == "Médicobus 1" and status.pending == 0
    assert status.lease_days == 7 and not status.lease_expired
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        "terrain.db"
    ]
    with LocalStore.open(field.store_path(tmp_path), PASSPHRASE) as store:
        private = store.get_meta("device_key", secret=True)
    assert private is not None and len(private) == 32
    for path in tmp_path.iterdir():
        assert private not in path.read_bytes(), path  # the device key is only on disk sealed


def test_a_refused_code_leaves_nothing_on_disk_and_a_second_enrolment_is_refused(
    tmp_path, client, code
) -> None:
    with pytest.raises(SyncRefused) as refused:
        _enrol(tmp_path / "a", client, "AAAA-BBBB-CCCC")
    assert refused.value.status == 403
    assert list((tmp_path / "a").iterdir()) == []
    _enrol(tmp_path / "b", client, code)
    with pytest.raises(field.FieldError, match="déjà inscrit"):
        _enrol(tmp_path / "b", client, code)


def test_unlock_checks_the_passphrase_the_lease_and_a_clock_set_back(tmp_path, client, code) -> None:
    status = _enrol(tmp_path, client, code)
    with pytest.raises(WrongPassphrase):
        field.unlock(tmp_path, "pas la bonne phrase de passe")
    field.unlock(tmp_path, PASSPHRASE).close()
    eight_days_later = status.last_sync_ms + 8 * field.DAY_MS
    with pytest.raises(field.LeaseExpired, match="plus de 7 jours"):
        field.unlock(tmp_path, PASSPHRASE, clock_ms=eight_days_later)
    field.unlock(tmp_path, PASSPHRASE, for_sync=True, clock_ms=eight_days_later).close()  # may still sync
    # The clock reading of that sync attempt is now the highest seen: back to « now » is a step back.
    with pytest.raises(field.FieldError, match="reculée"):
        field.unlock(tmp_path, PASSPHRASE)


def test_the_command_line_reports_status_and_refuses_in_french(
    tmp_path, client, code, monkeypatch, capsys
) -> None:
    _enrol(tmp_path, client, code)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    assert cli.main(["--dossier", str(tmp_path), "--phrase-stdin", "status"]) == 0
    out = capsys.readouterr().out
    assert "Modifications en attente d'envoi : 0" in out and "Médicobus 1" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("mauvaise phrase de passe\n"))
    assert cli.main(["--dossier", str(tmp_path), "--phrase-stdin", "unlock"]) == 2
    assert "Phrase de passe incorrecte" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSPHRASE + "\n"))
    assert cli.main(["--dossier", str(tmp_path / "vide"), "--phrase-stdin", "status"]) == 2
    assert "Aucun portable inscrit" in capsys.readouterr().err
