"""Enrolling, revoking and re-scoping the field laptops in the browser (admin), and refusal for others."""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Page, expect
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.access import Role, User
from cpts_app.models.agenda import Tour
from cpts_app.models.sync import SyncDevice
from cpts_app.services.permissions import Actor
from cpts_app.services.sync import devices
from tests.browser.helpers import ADMIN, COORDINATOR, field_error, sign_in

CODE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")


def _device_count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(SyncDevice)).one()


def _claim(engine: Engine, code: str) -> None:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with Session(engine) as s:
        devices.claim_enrolment(s, code, key)
        s.commit()


def test_admin_enrols_then_revokes_a_laptop(page: Page, app_engine: Engine) -> None:
    label = "Médicobus – portable essai"
    sign_in(page, *ADMIN)
    page.goto("/admin/appareils")
    expect(page.locator("#appareils")).to_be_visible()
    page.fill("#inscrire-libelle", label)
    page.select_option("#inscrire-compte", index=1)
    page.select_option("#inscrire-tournee", index=1)
    page.fill("#inscrire-bail", "10")
    page.click("#inscrire")

    code_box = page.locator("#code-inscription")
    expect(code_box).to_have_text(CODE)
    code = code_box.inner_text().strip()
    command = page.locator("#commande-inscription")
    expect(command).to_contain_text("python -m mobile_sync enroll --serveur http")
    expect(command).to_contain_text(f"--code {code}")
    expect(page.get_by_text("valable 24 h, utilisable une fois")).to_be_visible()
    row = page.locator(".appareil", has_text=label)
    expect(row).to_contain_text("en attente d'inscription")
    expect(row).to_contain_text("10 j")
    # The form is blank again after a success.
    expect(page.locator("#inscrire-libelle")).to_have_value("")

    # « J'ai noté le code »: the code is gone.
    page.click("#fermer-code")
    expect(code_box).to_have_count(0)

    # The laptop claims its code; the page shows it active (and never the code again).
    _claim(app_engine, code)
    page.reload()
    expect(row).to_contain_text("actif")
    expect(page.locator("#code-inscription")).to_have_count(0)
    expect(page.get_by_text(code)).to_have_count(0)

    # Revocation needs a reason.
    row.get_by_role("button", name="Révoquer").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#confirmer-revocation").click()
    expect(dialog.locator("#erreur-motif")).to_contain_text("motif de la révocation")
    dialog.locator("#revoquer-motif").fill("Portable volé dans le médicobus")
    dialog.locator("#confirmer-revocation").click()
    expect(dialog).to_have_count(0)
    expect(row).to_contain_text("révoqué")
    expect(row.get_by_role("button", name="Révoquer")).to_have_count(0)
    with Session(app_engine) as s:
        device = s.exec(select(SyncDevice).where(SyncDevice.label == label)).one()
        assert device.revoked_at is not None and device.revoked_reason == "Portable volé dans le médicobus"


def _enrolled_permanence_laptop(engine: Engine, label: str) -> None:
    """A laptop enrolled without a tour (permanence), as the admin and the laptop would do it."""
    with Session(engine) as s:
        admin = s.exec(select(User).where(User.email == ADMIN[0])).one()
        # A permanence laptop (no tour) serves its account's structure: the demo GP has one.
        bus = s.exec(select(User).where(User.email == "medecin@demo-cpts.fr")).one()
        actor = Actor(user_id=admin.id, role=Role.ADMIN, display_name=admin.display_name)
        _, code = devices.create_enrolment(s, actor, label=label, user_id=bus.id, tour_id=None)
        s.commit()
    _claim(engine, code)


def _device(engine: Engine, label: str) -> SyncDevice:
    with Session(engine) as s:
        return s.exec(select(SyncDevice).where(SyncDevice.label == label)).one()


def test_admin_changes_a_laptops_tour(page: Page, app_engine: Engine) -> None:
    label = "Permanence – portable à réaffecter"
    _enrolled_permanence_laptop(app_engine, label)
    with Session(app_engine) as s:
        tour = s.exec(select(Tour).order_by(Tour.name)).first()
        assert tour is not None, "the demo has a médicobus tour"
        tour_id, tour_name = tour.id, tour.name
    epoch = _device(app_engine, label).scope_epoch

    sign_in(page, *ADMIN)
    page.goto("/admin/appareils")
    row = page.locator(".appareil", has_text=label)
    scope_cell = row.locator("td").nth(2)
    expect(scope_cell).to_have_text("permanence")
    row.get_by_role("button", name="Changer de tournée").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(label)
    expect(
        dialog.locator("#changer-tournee-choix option", has_text="Permanence (sans tournée)")
    ).to_have_count(1)

    # No choice: a French error in the dialog, nothing saved.
    dialog.locator("#confirmer-tournee").click()
    expect(dialog.locator("#erreur-changer-tournee")).to_contain_text("Choisissez la nouvelle tournée")
    assert _device(app_engine, label).scope_epoch == epoch

    dialog.locator("#changer-tournee-choix").select_option(label=tour_name)
    dialog.locator("#confirmer-tournee").click()
    expect(dialog).to_have_count(0)
    expect(scope_cell).to_have_text(tour_name)
    expect(page.get_by_text("Tournée changée : le portable effacera")).to_be_visible()
    device = _device(app_engine, label)
    assert device.tour_id == tour_id
    assert device.scope_epoch == epoch + 1


def test_empty_label_is_refused_in_french(page: Page, app_engine: Engine) -> None:
    before = _device_count(app_engine)
    sign_in(page, *ADMIN)
    page.goto("/admin/appareils")
    page.select_option("#inscrire-compte", index=1)
    page.click("#inscrire")
    expect(field_error(page, "label")).to_contain_text("Donnez un nom à l'appareil")
    expect(page.locator("#code-inscription")).to_have_count(0)
    assert _device_count(app_engine) == before


def test_coordinator_is_refused(page: Page) -> None:
    sign_in(page, *COORDINATOR)
    page.goto("/admin/appareils")
    expect(page.locator("#acces-refuse")).to_contain_text("Accès refusé")
    expect(page.locator("#appareils")).to_have_count(0)
    expect(page.locator("#inscrire")).to_have_count(0)
