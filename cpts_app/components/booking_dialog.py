"""The booking dialog: patient (search or quick creation), reason, confirmation."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, select_field, text_field
from cpts_app.state.booking import BookingState as B

SEX_OPTIONS = [["F", "Féminin"], ["M", "Masculin"], ["I", "Indéterminé"]]


def _patient_search() -> rx.Component:
    return rx.vstack(
        rx.el.form(
            rx.hstack(
                rx.input(
                    name="recherche_patient",
                    id="recherche-patient",
                    placeholder="Nom, prénom ou date de naissance (jj/mm/aaaa)",
                    width="100%",
                    aria_label="Rechercher un patient",
                ),
                rx.button(rx.icon("search", size=16), "Chercher", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=B.search_patient,
            reset_on_submit=False,
            width="100%",
        ),
        rx.foreach(
            B.patient_results,
            lambda p: rx.button(
                rx.text(p["label"], weight="bold"),
                rx.text("né·e le ", p["birth_date"], " — ", p["commune"], size="1"),
                on_click=B.choose_patient(p["id"], p["label"]),
                variant="outline",
                width="100%",
                justify="start",
                class_name="patient-result",
            ),
        ),
        rx.cond(
            B.searched & (B.patient_results.length() == 0),
            rx.text("Aucun patient trouvé.", size="2", color_scheme="gray"),
        ),
        rx.button(
            rx.icon("user-plus", size=16),
            "Nouveau patient",
            on_click=B.show_patient_form,
            variant="ghost",
            id="nouveau-patient",
        ),
        spacing="2",
        width="100%",
    )


def _patient_form() -> rx.Component:
    e = B.errors
    return rx.el.form(
        rx.vstack(
            rx.grid(
                text_field("Nom de naissance", "birth_name", "", e["birth_name"], required=True),
                text_field("Prénom(s)", "first_names", "", e["first_names"], required=True),
                text_field(
                    "Date de naissance", "birth_date", "", e["birth_date"], required=True, input_type="date"
                ),
                select_field("Sexe", "sex", SEX_OPTIONS, "", e["sex"], required=True),
                text_field("Téléphone", "phone", "", e["phone"]),
                select_field("Commune", "commune_id", B.commune_options, "", e["commune_id"]),
                columns="2",
                spacing="3",
                width="100%",
            ),
            rx.button("Enregistrer le patient", type="submit", variant="soft", id="enregistrer-patient"),
            spacing="3",
            width="100%",
        ),
        on_submit=B.create_patient,
        reset_on_submit=False,
        no_validate=True,
        width="100%",
    )


def booking_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Réserver ce créneau"),
            rx.dialog.description(B.slot_summary, id="resume-creneau"),
            rx.vstack(
                rx.heading("Patient", size="3"),
                rx.cond(
                    B.patient_id > 0,
                    rx.hstack(
                        rx.badge(B.patient_label, size="2", color_scheme="teal", id="patient-choisi"),
                        rx.button("Changer", on_click=B.show_patient_form, variant="ghost", size="1"),
                        align="center",
                    ),
                    rx.cond(B.creating_patient, _patient_form(), _patient_search()),
                ),
                field_error(B.errors["patient"], "patient"),
                rx.el.form(
                    rx.vstack(
                        rx.el.label("Motif", html_for="motif", class_name="field-label"),
                        rx.text_area(
                            name="motif", id="motif", placeholder="Motif (facultatif)", width="100%"
                        ),
                        rx.el.label(
                            "Pour le compte de", html_for="pour-le-compte-de", class_name="field-label"
                        ),
                        rx.input(
                            name="pour_le_compte_de",
                            id="pour-le-compte-de",
                            placeholder="Ex. : Pharmacie du Centre, SAS, orientation…",
                            width="100%",
                        ),
                        rx.cond(
                            B.error != "",
                            rx.callout(
                                B.error,
                                icon="triangle-alert",
                                color_scheme="red",
                                role="alert",
                                id="erreur-reservation",
                            ),
                        ),
                        rx.hstack(
                            rx.dialog.close(
                                rx.button("Annuler", variant="soft", color_scheme="gray", type="button")
                            ),
                            rx.button(
                                rx.icon("calendar-check", size=16),
                                "Confirmer la réservation",
                                type="submit",
                                id="confirmer-reservation",
                                disabled=B.patient_id == 0,
                            ),
                            justify="end",
                            width="100%",
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    on_submit=B.confirm,
                    reset_on_submit=True,
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="640px",
        ),
        open=B.open,
        on_open_change=B.set_open,
    )
