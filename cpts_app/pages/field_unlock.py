"""/terrain — unlock the field laptop (or how to enrol it when it is not yet)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.field_layout import message_line
from cpts_app.state.field_unlock import FieldUnlockState as U


def _not_enrolled() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("laptop")),
        rx.vstack(
            rx.text("Portable non inscrit", weight="bold"),
            rx.text(
                "Demandez un code d'inscription à l'administrateur (« Appareils »), puis, sur ce portable :"
            ),
            rx.code(
                "python -m mobile_sync --dossier ",
                U.folder,
                " enroll --serveur https://… --code XXXX-XXXX-XXXX",
                id="commande-inscription",
            ),
            rx.text("Relancez ensuite l'application en mode terrain.", size="2"),
            spacing="2",
            align="start",
        ),
        color_scheme="amber",
        id="portable-non-inscrit",
        width="100%",
    )


def _unlock_form() -> rx.Component:
    return rx.el.form(
        rx.vstack(
            rx.el.label("Phrase de passe du portable *", html_for="phrase", class_name="field-label"),
            rx.input(
                name="phrase",
                id="phrase",
                type="password",
                auto_complete="current-password",
                width="100%",
                auto_focus=True,
            ),
            rx.el.label(
                "Votre nom (signe vos observations et notes)", html_for="auteur", class_name="field-label"
            ),
            rx.input(name="auteur", id="auteur", width="100%", placeholder="ex. : IDE Dupont"),
            message_line(U.error, "erreur-deverrouillage", error=True),
            rx.button(rx.icon("lock-open", size=16), "Déverrouiller", type="submit", id="deverrouiller"),
            spacing="3",
            width="100%",
            align="start",
        ),
        on_submit=U.unlock,
        reset_on_submit=True,
        key=U.form_key.to_string(),
    )


def field_unlock_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("bus", size=28, color=rx.color("teal", 10)),
                    rx.heading("CPTS — Portable de terrain", size="6", as_="h1"),
                    spacing="2",
                    align="center",
                ),
                rx.text(
                    "Les données des patients sont chiffrées sur ce portable. "
                    "Saisissez la phrase de passe pour travailler, même sans réseau.",
                    color_scheme="gray",
                ),
                rx.cond(
                    U.notice != "",
                    rx.callout(U.notice, icon="info", color_scheme="blue", id="avis-terrain", width="100%"),
                ),
                # The form appears once the page has its state: typed before, a passphrase would
                # be wiped when the form is re-created with the state's key.
                rx.cond(
                    rx.State.is_hydrated,
                    rx.cond(U.enrolled, _unlock_form(), _not_enrolled()),
                    rx.spinner(id="chargement-deverrouillage"),
                ),
                spacing="4",
                width="100%",
            ),
            width="100%",
            max_width="520px",
        ),
        min_height="100vh",
        padding="1em",
        background_color=rx.color("gray", 2),
    )
