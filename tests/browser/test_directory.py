"""The directory in a real browser: search, card, and the admin form's French validation."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from stdnum import luhn

from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Professional, Structure
from tests.browser.helpers import ADMIN, COORDINATOR, field_error, sign_in

RPPS_BODY = "1099999999"
GOOD_RPPS = RPPS_BODY + luhn.calc_check_digit(RPPS_BODY)
BAD_RPPS = RPPS_BODY + str((int(luhn.calc_check_digit(RPPS_BODY)) + 1) % 10)


def test_coordinator_searches_the_directory_and_opens_a_card(page: Page) -> None:
    sign_in(page, *COORDINATOR)
    page.goto("/annuaire")
    expect(page.locator("#nombre-resultats")).to_have_text("160 professionnels trouvés")
    expect(page.locator("#numero-page")).to_have_text(re.compile(r"Page 1 sur \d+"))

    # Accent-insensitive search by name.
    page.fill("#recherche-nom", "lefevre antoine")
    page.click("#bouton-rechercher")
    expect(page.locator("#nombre-resultats")).to_have_text("1 professionnel trouvé")
    card = page.locator(".professional-card").first
    expect(card).to_contain_text("Antoine LEFÈVRE")
    expect(card).to_contain_text("Médecin généraliste")

    # Filters: GPs of Beaucaire who accept new patients.
    page.fill("#recherche-nom", "")
    page.select_option("#filtre-profession", label="Médecin généraliste")
    page.select_option("#filtre-commune", label="Beaucaire")
    page.check("#filtre-nouveaux")
    page.click("#bouton-rechercher")
    expect(page.locator("#nombre-resultats")).to_have_text(re.compile(r"^\d+ professionnels? trouvés?$"))
    cards = page.locator(".professional-card")
    expect(cards.first).to_be_visible()
    for i in range(cards.count()):
        expect(cards.nth(i)).to_contain_text("Médecin généraliste")
        expect(cards.nth(i)).to_contain_text("Beaucaire")
        expect(cards.nth(i)).to_contain_text("Accepte de nouveaux patients")

    # The card: structures, communes, contact.
    name = cards.first.locator("h2, h3, h4, .rt-Heading").first.inner_text()
    cards.first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/annuaire/professionnel/?\?id=\d+"))
    expect(page.locator("#fiche-nom")).to_have_text(name)
    fiche = page.locator("#fiche-professionnel")
    expect(fiche).to_contain_text("Lieux d'exercice")
    expect(fiche).to_contain_text("RPPS")
    expect(page.locator("#fiche-communes")).to_contain_text("Beaucaire (30300)")
    # A coordinator does not manage the directory: no edit button, and the form refuses by URL.
    expect(fiche.get_by_role("button", name="Modifier")).to_have_count(0)
    page.goto("/admin/professionnels/nouveau")
    expect(page.locator("#acces-refuse")).to_contain_text("Accès refusé")


def test_admin_form_refuses_a_bad_rpps_in_french_and_saves_nothing(page: Page, app_engine: Engine) -> None:
    with Session(app_engine) as s:
        before = s.exec(select(func.count()).select_from(Professional)).one()
    sign_in(page, *ADMIN)
    page.goto("/admin/professionnels/nouveau")
    page.fill("#champ-first_name", "Hélène")
    page.fill("#champ-last_name", "Testeuse")
    page.select_option("#champ-profession", label="Médecin généraliste")
    page.fill("#champ-rpps", BAD_RPPS)  # 11 digits, wrong Luhn key
    page.fill("#champ-phone", "12 34")
    page.fill("#champ-email", "pas-une-adresse")
    page.click("#bouton-enregistrer")

    expect(field_error(page, "rpps")).to_contain_text("RPPS")
    expect(field_error(page, "rpps")).to_contain_text("clé de contrôle")
    expect(field_error(page, "phone")).to_contain_text("téléphone")
    expect(field_error(page, "email")).to_contain_text("e-mail")
    expect(field_error(page, "first_name")).to_have_count(0)
    expect(page.locator("#erreur-formulaire")).to_contain_text("rien n'a été enregistré")
    # What the user typed is still there.
    expect(page.locator("#champ-first_name")).to_have_value("Hélène")
    with Session(app_engine) as s:
        assert s.exec(select(func.count()).select_from(Professional)).one() == before
        assert s.exec(select(Professional).where(Professional.last_name == "Testeuse")).first() is None

    # Corrected, it is saved once, with an audit event, and the card opens.
    page.fill("#champ-rpps", GOOD_RPPS)
    page.fill("#champ-phone", "04 66 12 34 56")
    page.fill("#champ-email", "helene.testeuse@demo-cpts.fr")
    page.check("input[name^='commune_'] >> nth=0")
    page.select_option("#champ-structure-ajout", index=1)
    expect(page.locator("#structures-choisies .rt-Badge")).to_have_count(1)
    page.click("#bouton-enregistrer")
    expect(page).to_have_url(re.compile(r"/annuaire/professionnel/?\?id=\d+"))
    expect(page.locator("#fiche-nom")).to_have_text("Hélène TESTEUSE")
    with Session(app_engine) as s:
        saved = s.exec(select(Professional).where(Professional.last_name == "Testeuse")).one()
        assert saved.rpps == GOOD_RPPS and saved.phone == "+33466123456"
        assert s.exec(select(func.count()).select_from(Professional)).one() == before + 1
        events = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "directory.professional.create", AuditEvent.target_id == str(saved.id)
            )
        ).all()
        assert len(events) == 1


def test_admin_structure_form_requires_a_valid_finess(page: Page, app_engine: Engine) -> None:
    with Session(app_engine) as s:
        before = s.exec(select(func.count()).select_from(Structure)).one()
    sign_in(page, *ADMIN)
    page.goto("/admin/structures/nouvelle")
    page.fill("#champ-name", "Pharmacie des Arènes")
    page.select_option("#champ-kind", label="Officine (pharmacie)")
    page.select_option("#champ-commune_id", label="Saint-Gilles")
    page.click("#bouton-enregistrer")
    expect(field_error(page, "finess")).to_contain_text("FINESS")
    with Session(app_engine) as s:
        assert s.exec(select(func.count()).select_from(Structure)).one() == before
