"""A coordinator keeps or restores values that lost a merge between two laptops; others are refused."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.access import User
from cpts_app.models.sync import SyncConflict, SyncDevice
from cpts_app.services.sync import devices, push, records
from cpts_app.settings import get_settings
from mobile_sync.hlc import Timestamp
from mobile_sync.protocol import PROTOCOL_VERSION, Operation, PushBatch
from tests.browser.conftest import AppInstance
from tests.browser.helpers import ADMIN, COORDINATOR, sign_in
from tests.browser.messaging_data import actor_of

DOCTOR = ("medecin@demo-cpts.fr", "Demo-Medecin-2026")
PAGE = "/synchronisation/conflits"
OLD_PHONE, NEW_PHONE = "06 11 22 33 44", "07 99 88 77 66"
OLD_ADDRESS, NEW_ADDRESS = "3 rue des Lilas", "5 chemin du Moulin"


@pytest.fixture
def app_keys(single_app: AppInstance) -> Iterator[None]:
    """Seal records with the running app's master key (the app must open what the test writes)."""
    saved = {name: os.environ.get(name) for name in ("CPTS_SECRETS_DIR", "CPTS_DATA_DIR")}
    os.environ["CPTS_SECRETS_DIR"] = str(single_app.data_dir.parent / "secrets")
    os.environ["CPTS_DATA_DIR"] = str(single_app.data_dir)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def _laptop(session: Session, label: str) -> SyncDevice:
    admin = actor_of(session, ADMIN[0])
    # A permanence laptop (no tour) serves its account's structure: the demo GP has one.
    bus = session.exec(select(User).where(User.email == "medecin@demo-cpts.fr")).one()
    _, code = devices.create_enrolment(session, admin, label=label, user_id=bus.id, tour_id=None)
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return devices.claim_enrolment(session, code, key)


def _push(session: Session, device: SyncDevice, rid: str, fields: dict, *, base: int, at_ms: int) -> None:
    seq = device.acknowledged_seq + 1
    hlc = Timestamp(at_ms, 0, device.device_id).encode()
    operation = Operation(
        op_id=secrets.token_hex(16),
        seq=seq,
        table="patient",
        record_id=rid,
        base_version=base,
        hlc=hlc,
        fields=fields,
    )
    batch = PushBatch(
        protocol=PROTOCOL_VERSION,
        device_id=device.device_id,
        batch_id=secrets.token_hex(16),
        first_seq=seq,
        operations=[operation],
        sent_at_hlc=hlc,
    )
    answer = push.push(session, device, batch, received_ms=records.now_ms())
    assert answer.results[0].status in ("applied", "conflict")


@pytest.fixture
def conflicted_patient(app_engine: Engine, app_keys: None) -> tuple[str, str]:
    """Two laptops changed the phone and the address of one patient offline; the later one won."""
    rid, surname = f"pat-{secrets.token_hex(4)}", f"Essai{secrets.token_hex(2)}"
    with Session(app_engine) as s:
        tag = secrets.token_hex(2)
        bus1 = _laptop(s, f"Médicobus – portable A {tag}")
        bus2 = _laptop(s, f"Médicobus – portable B {tag}")
        now = records.now_ms()
        identity = {"nom": surname, "prenoms": "Lucie", "date_naissance": "1948-06-30", "sexe": "F"}
        _push(s, bus1, rid, identity, base=0, at_ms=now - 60_000)
        _push(s, bus1, rid, {"telephone": OLD_PHONE, "adresse": OLD_ADDRESS}, base=1, at_ms=now - 30_000)
        _push(s, bus2, rid, {"telephone": NEW_PHONE, "adresse": NEW_ADDRESS}, base=1, at_ms=now - 5_000)
        s.commit()
    return rid, f"{surname.upper()} Lucie"


def _record_values(engine: Engine, rid: str) -> tuple[int, dict]:
    with Session(engine) as s:
        row = records.find(s, "patient", rid)
        assert row is not None
        return row.version, records.open_state(row).values()


def test_coordinator_restores_one_value_and_keeps_the_other(
    page: Page, app_engine: Engine, conflicted_patient: tuple[str, str]
) -> None:
    rid, name = conflicted_patient
    version, values = _record_values(app_engine, rid)
    assert (values["telephone"], values["adresse"]) == (NEW_PHONE, NEW_ADDRESS)

    sign_in(page, *COORDINATOR)
    expect(page.locator("#lien-conflits")).to_be_visible()
    expect(page.locator("#badge-conflits")).not_to_be_empty()
    page.click("#lien-conflits")
    expect(page).to_have_url(re.compile(r"/synchronisation/conflits$"))
    table = page.locator("#conflits")
    expect(table).to_contain_text("Valeur gardée")
    expect(table).to_contain_text("Valeur écartée")

    phone = page.locator(".conflit", has_text=name).filter(has_text="Téléphone")
    expect(phone).to_have_count(1)
    expect(phone.locator(".valeur-gardee")).to_have_text(NEW_PHONE)
    expect(phone.locator(".valeur-ecartee")).to_have_text(OLD_PHONE)
    expect(phone).to_contain_text("Patient")
    expect(phone).to_contain_text("Médicobus – portable B")
    expect(phone).to_contain_text("la modification la plus récente est gardée")

    # « Rétablir l'autre valeur », then confirm: the row leaves the open list.
    phone.get_by_role("button", name="Rétablir l'autre valeur").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Rétablir l'autre valeur ?")
    expect(dialog).to_contain_text(OLD_PHONE)
    dialog.locator("#confirmer-arbitrage").click()
    expect(dialog).to_have_count(0)
    expect(phone).to_have_count(0)

    new_version, values = _record_values(app_engine, rid)
    assert new_version == version + 1
    assert values["telephone"] == OLD_PHONE and values["adresse"] == NEW_ADDRESS

    # « Garder » on the address: the merged value stays, the record does not change.
    address = page.locator(".conflit", has_text=name).filter(has_text="Adresse")
    address.get_by_role("button", name="Garder").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Garder la valeur actuelle ?")
    dialog.locator("#confirmer-arbitrage").click()
    expect(address).to_have_count(0)
    assert _record_values(app_engine, rid) == (version + 1, values)

    with Session(app_engine) as s:
        decided = {
            c.field: c.resolution
            for c in s.exec(select(SyncConflict).where(SyncConflict.record_id == rid)).all()
        }
        still_open = s.exec(select(SyncConflict).where(SyncConflict.resolved_at.is_(None))).all()
    assert decided == {"telephone": "restored", "adresse": "kept"}
    if not still_open:
        expect(page.locator("#aucun-conflit")).to_contain_text("Aucun conflit à arbitrer")

    # The resolved ones come back with the toggle, without buttons.
    page.click("#voir-arbitres")
    resolved = page.locator(".conflit", has_text=name)
    expect(resolved).to_have_count(2)
    expect(resolved.filter(has_text="Téléphone")).to_contain_text("autre valeur rétablie")
    expect(resolved.filter(has_text="Adresse")).to_contain_text("valeur gardée")
    expect(resolved.get_by_role("button")).to_have_count(0)


def test_professional_is_refused(page: Page) -> None:
    sign_in(page, *DOCTOR)
    expect(page.locator("#lien-conflits")).to_have_count(0)
    page.goto(PAGE)
    expect(page.locator("#acces-refuse")).to_contain_text("Accès refusé")
    expect(page.locator("#conflits")).to_have_count(0)
    expect(page.locator("#lien-conflits")).to_have_count(0)
