"""The sign-in page's state: the French message for the last attempt and, in demo mode, the demo accounts.

Public on purpose (not a ``SessionState``): it holds nothing but what the page shows.
"""

from __future__ import annotations

import reflex as rx

from cpts_app.settings import get_settings
from cpts_app.state.session import resolve_actor

MESSAGES = {
    "identifiants": "Adresse e-mail ou mot de passe incorrect.",
    "champs": "Indiquez votre adresse e-mail et votre mot de passe.",
    "session": "Votre session a expiré ou vous n'êtes pas connecté·e. Veuillez vous connecter.",
}


class SignInState(rx.State):
    """What the sign-in page shows."""

    error: str = ""
    info: str = ""
    next_path: str = ""
    demo_accounts: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        """Read the outcome of the last attempt from the URL (codes only, never free text)."""
        query = self.router.url.query_parameters
        code = query.get("erreur", "")
        if code == "verrouille":
            minutes = query.get("minutes", "15")
            minutes = minutes if minutes.isdigit() and len(minutes) < 4 else "15"
            unit = "minute" if minutes == "1" else "minutes"
            self.error = f"Trop de tentatives de connexion. Réessayez dans {minutes} {unit}."
        else:
            self.error = MESSAGES.get(code, "")
        self.info = "Vous êtes déconnecté·e." if query.get("info") == "deconnexion" else ""
        suite = query.get("suite", "")
        self.next_path = suite if suite.startswith("/") and not suite.startswith("//") else ""
        self.demo_accounts = _demo_accounts() if get_settings().demo else []
        if code == "" and await resolve_actor(self.router.headers.cookie, None) is not None:
            return rx.redirect(self.next_path or "/annuaire")
        return None


def _demo_accounts() -> list[dict[str, str]]:
    from cpts_app.demo import DEMO_CREDENTIALS
    from cpts_app.services.labels import ROLE_LABELS

    return [
        {"role": ROLE_LABELS.get(c.role, str(c.role)), "email": c.email, "password": c.password}
        for c in DEMO_CREDENTIALS
    ]
