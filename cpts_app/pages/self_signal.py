"""/signalement — public page: a patient without a médecin traitant asks to be called back."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, select_field, text_field
from cpts_app.components.layout import APP_TITLE
from cpts_app.state.self_signal import SelfSignalState as S


def self_signal_page() -> rx.Component:
    e = S.errors
    form = rx.el.form(
        rx.vstack(
            rx.grid(
                text_field("Nom de naissance", "birth_name", "", e["birth_name"], required=True),
                text_field("Prénom(s)", "first_names", "", e["first_names"], required=True),
                text_field(
                    "Date de naissance", "birth_date", "", e["birth_date"], required=True, input_type="date"
                ),
                text_field("Téléphone", "phone", "", e["phone"], required=True, placeholder="06 12 34 56 78"),
                select_field("Commune", "commune_id", S.commune_options, "", e["commune_id"]),
                select_field("Votre besoin", "reason", S.reason_options, "", e["reason"], required=True),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            rx.el.label("Message (facultatif)", html_for="message", class_name="field-label"),
            rx.text_area(name="message", id="message", width="100%"),
            rx.el.label(
                rx.el.input(type="checkbox", name="consent", id="consentement"),
                " J'accepte d'être rappelé·e par la coordination de la CPTS",
                class_name="checkbox-label",
            ),
            field_error(e["consent"], "consent"),
            rx.cond(
                e["form"] != "",
                rx.callout(
                    e["form"],
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    id="erreur-signalement",
                ),
            ),
            rx.button("Envoyer", type="submit", size="3", id="envoyer-signalement"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.send,
        reset_on_submit=False,
        no_validate=True,
    )
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading(APP_TITLE, size="6"),
                rx.heading("Vous n'avez pas de médecin traitant ?", size="4"),
                rx.text(
                    "Laissez vos coordonnées : la coordination de la CPTS vous rappelle pour vous proposer "
                    "un rendez-vous ou un médecin traitant. En cas d'urgence vitale, appelez le 15.",
                    color_scheme="gray",
                ),
                rx.cond(
                    S.sent,
                    rx.callout(
                        "Votre demande est bien reçue. Nous vous rappelons au numéro indiqué.",
                        icon="check",
                        color_scheme="green",
                        id="signalement-recu",
                    ),
                    form,
                ),
                spacing="3",
                width="100%",
            ),
            size="4",
            width="min(760px, 96vw)",
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
        padding_y="2em",
    )
