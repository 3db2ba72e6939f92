"""/connexion — sign-in with e-mail and password (a native form posted to /auth/connexion)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import APP_TITLE
from cpts_app.components.native_form import native_form
from cpts_app.state.signin import SignInState


def _demo_accounts() -> rx.Component:
    return rx.cond(
        SignInState.demo_accounts.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("info")),
            rx.vstack(
                rx.text("Mode démonstration — comptes disponibles :", weight="bold", size="2"),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Rôle"),
                            rx.table.column_header_cell("E-mail"),
                            rx.table.column_header_cell("Mot de passe"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            SignInState.demo_accounts,
                            lambda a: rx.table.row(
                                rx.table.cell(a["role"]),
                                rx.table.cell(rx.code(a["email"])),
                                rx.table.cell(rx.code(a["password"])),
                            ),
                        )
                    ),
                    size="1",
                    id="comptes-demo",
                ),
                spacing="2",
            ),
            color_scheme="blue",
            width="100%",
        ),
    )


def signin_page() -> rx.Component:
    form = native_form(
        rx.vstack(
            rx.el.label("Adresse e-mail", html_for="email", class_name="field-label"),
            rx.input(
                name="email", id="email", type="email", auto_complete="username", required=True, width="100%"
            ),
            rx.el.label("Mot de passe", html_for="password", class_name="field-label"),
            rx.input(
                name="password",
                id="password",
                type="password",
                auto_complete="current-password",
                required=True,
                width="100%",
            ),
            rx.el.input(type="hidden", name="suite", value=SignInState.next_path),
            rx.button("Se connecter", type="submit", size="3", width="100%", id="bouton-connexion"),
            spacing="3",
            width="100%",
        ),
        action="/auth/connexion",
        method="post",
        width="100%",
    )
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("heart-pulse", size=28, color=rx.color("teal", 10)),
                    rx.heading(APP_TITLE, size="6"),
                    align="center",
                    spacing="2",
                ),
                rx.text(
                    "Connectez-vous pour accéder à l'espace de coordination du territoire.",
                    color_scheme="gray",
                ),
                rx.cond(
                    SignInState.error != "",
                    rx.callout(
                        SignInState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        role="alert",
                        id="erreur-connexion",
                    ),
                ),
                rx.cond(
                    SignInState.info != "",
                    rx.callout(SignInState.info, icon="check", color_scheme="green"),
                ),
                form,
                _demo_accounts(),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="min(560px, 95vw)",
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
    )
