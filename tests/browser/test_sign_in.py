"""Sign-in, sign-out and the session guard, in a real browser against the production build."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cpts_app.models.access import UserSession
from cpts_app.models.audit import AuditEvent
from tests.browser.helpers import COORDINATOR, sign_in

BAD_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."


def test_protected_page_sends_to_sign_in_with_demo_accounts(page: Page) -> None:
    page.goto("/annuaire")
    expect(page).to_have_url(re.compile(r"/connexion/?\?erreur=session"))
    expect(page.get_by_role("alert")).to_contain_text("Veuillez vous connecter")
    expect(page.locator("#comptes-demo")).to_contain_text("coordination@demo-cpts.fr")


def test_wrong_password_and_unknown_email_get_the_same_french_answer(page: Page, app_engine: Engine) -> None:
    with Session(app_engine) as s:
        failures_before = len(s.exec(select(AuditEvent).where(AuditEvent.outcome == "failure")).all())
    for email, password in [
        (COORDINATOR[0], "mauvais-mot-de-passe"),
        ("personne@exemple.fr", "peu-importe-123"),
    ]:
        page.goto("/connexion")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("#bouton-connexion")
        expect(page).to_have_url(re.compile(r"/connexion/?\?erreur=identifiants"))
        expect(page.locator("#erreur-connexion")).to_have_text(BAD_CREDENTIALS)
        assert not [c for c in page.context.cookies() if c["name"] == "cpts_session"]
    with Session(app_engine) as s:
        failures = s.exec(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")).all()
        assert len([e for e in failures if e.outcome == "failure"]) == failures_before + 2
        assert all("mauvais" not in e.detail for e in failures)


def test_session_cookie_is_http_only_and_sign_out_revokes_it(
    browser: Browser, base_url: str, page: Page
) -> None:
    sign_in(page, *COORDINATOR)
    cookie = next(c for c in page.context.cookies() if c["name"] == "cpts_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("cpts_session") == -1
    expect(page.locator("#utilisateur-connecte")).to_have_text("Claire Martin — coordinatrice")

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion/?\?info=deconnexion"))
    page.goto("/annuaire")
    expect(page).to_have_url(re.compile(r"/connexion/?\?erreur=session"))

    # The old secret, replayed from another browser, is refused: the session is revoked server-side.
    thief = browser.new_context(base_url=base_url)
    thief.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "secure")}])
    stolen = thief.new_page()
    stolen.goto("/annuaire")
    expect(stolen).to_have_url(re.compile(r"/connexion/?\?erreur=session"))
    thief.close()


def test_stale_second_tab_is_sent_to_sign_in_after_sign_out(page: Page, app_engine: Engine) -> None:
    sign_in(page, *COORDINATOR, start="/connexion?suite=/annuaire")
    second = page.context.new_page()
    second.goto("/annuaire")
    expect(second.locator(".professional-card").first).to_be_visible()
    with Session(app_engine) as s:
        revoked_before = len(s.exec(select(UserSession).where(UserSession.revoked_at.is_not(None))).all())  # type: ignore[union-attr]

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion"))
    with Session(app_engine) as s:
        revoked = s.exec(select(UserSession).where(UserSession.revoked_at.is_not(None))).all()  # type: ignore[union-attr]
        assert len(revoked) == revoked_before + 1

    # The second tab still shows the directory; its next action is refused by the server.
    second.click("#page-suivante")
    expect(second).to_have_url(re.compile(r"/connexion/?\?erreur=session"))


def test_admin_reads_the_audit_journal_and_a_coordinator_cannot(page: Page) -> None:
    page.goto("/connexion")
    page.fill("#email", "admin@demo-cpts.fr")
    page.fill("#password", "pas-le-bon")
    page.click("#bouton-connexion")
    expect(page.locator("#erreur-connexion")).to_be_visible()
    sign_in(page, "admin@demo-cpts.fr", "Demo-Admin-2026")
    page.goto("/admin/journal")
    journal = page.locator("#journal-audit")
    expect(journal).to_contain_text("auth.sign_in")
    page.fill("input[name='action']", "auth.")
    page.check("input[name='echecs']")
    page.get_by_role("button", name="Filtrer").click()
    expect(journal.locator("tbody tr").first).to_contain_text("échec")
    page.get_by_role("button", name="Se déconnecter").click()
    sign_in(page, *COORDINATOR)
    page.goto("/admin/journal")
    expect(page.get_by_role("alert")).to_contain_text("Accès refusé")
