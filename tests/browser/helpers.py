"""Steps the browser tests share."""

from __future__ import annotations

from playwright.sync_api import Page, expect

COORDINATOR = ("coordination@demo-cpts.fr", "Demo-Coord-2026")
ADMIN = ("admin@demo-cpts.fr", "Demo-Admin-2026")


def sign_in(page: Page, email: str, password: str, *, start: str = "/connexion") -> None:
    """Fill the sign-in form and wait for the signed-in header."""
    page.goto(start)
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#bouton-connexion")
    expect(page.locator("#utilisateur-connecte")).not_to_be_empty()


def field_error(page: Page, name: str):
    """The French message shown right below the field ``name``."""
    return page.locator(f"#erreur-{name}")
