"""Search a patient and pick one (``PatientPickerState``)."""

from __future__ import annotations

import reflex as rx

from cpts_app.state.patient_picker import PatientPickerState as P


def patient_picker() -> rx.Component:
    return rx.vstack(
        rx.cond(
            P.patient_id > 0,
            rx.hstack(
                rx.badge(P.patient_label, size="2", color_scheme="teal", id="patient-selectionne"),
                rx.button("Changer", on_click=P.clear, variant="ghost", size="1", type="button"),
                align="center",
            ),
            rx.vstack(
                rx.el.form(
                    rx.hstack(
                        rx.input(
                            name="patient_recherche",
                            id="patient-recherche",
                            placeholder="Nom, prénom ou date de naissance (jj/mm/aaaa)",
                            width="100%",
                            aria_label="Rechercher un patient",
                        ),
                        rx.button(rx.icon("search", size=16), "Chercher", type="submit", variant="soft"),
                        width="100%",
                    ),
                    on_submit=P.search,
                    reset_on_submit=False,
                    width="100%",
                ),
                rx.foreach(
                    P.results,
                    lambda p: rx.button(
                        p["label"],
                        on_click=P.choose(p["id"], p["label"]),
                        variant="outline",
                        width="100%",
                        justify="start",
                        type="button",
                        class_name="patient-trouve",
                    ),
                ),
                rx.cond(
                    P.searched & (P.results.length() == 0),
                    rx.text("Aucun patient trouvé.", size="2", color_scheme="gray"),
                ),
                width="100%",
                spacing="2",
            ),
        ),
        rx.cond(P.error != "", rx.text(P.error, color_scheme="red", size="2")),
        width="100%",
        spacing="2",
    )
