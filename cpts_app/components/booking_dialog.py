"""The booking dialog: patient (search or creation with identity checks), reason, confirmation."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error
from cpts_app.components.patient_picker import patient_picker
from cpts_app.state.booking import BookingState as B
from cpts_app.state.patient_picker import PatientPickerState


def booking_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Réserver ce créneau"),
            rx.dialog.description(B.slot_summary, id="resume-creneau"),
            rx.vstack(
                rx.heading("Patient", size="3"),
                patient_picker(),
                field_error(B.patient_error, "patient"),
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
                                disabled=PatientPickerState.patient_id == 0,
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
            max_width="680px",
        ),
        open=B.open,
        on_open_change=B.set_open,
    )
