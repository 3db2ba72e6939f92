"""/terrain/agenda — the tour's slots by day; a free one is booked offline for a patient."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.field_layout import field_frame, message_line
from cpts_app.state.field_agenda import FieldAgendaState as A


def _day_button(day) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.button(
        day[1],
        on_click=A.choose_day(day[0]),
        variant=rx.cond(A.day == day[0], "solid", "soft"),
        size="1",
        type="button",
        class_name="jour",
    )


def _slot(slot) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.row(
        rx.table.cell(slot["heures"]),
        rx.table.cell(slot["commune"], rx.cond(slot["lieu"] != "", " — " + slot["lieu"], "")),
        rx.table.cell(slot["professionnel"]),
        rx.table.cell(rx.badge(slot["statut"], class_name="statut-creneau"), " ", slot["patient"]),
        rx.table.cell(
            rx.cond(
                slot["libre"] == "oui",
                rx.button("Réserver", on_click=A.open_booking(slot["rid"]), size="1", class_name="reserver"),
            )
        ),
        class_name="creneau",
    )


def _booking_form() -> rx.Component:
    return rx.card(
        rx.el.form(
            rx.vstack(
                rx.heading("Réserver le créneau du ", A.booking_label, size="4", as_="h2"),
                rx.el.label("Patient *", html_for="reservation-patient", class_name="field-label"),
                rx.el.select(
                    rx.el.option("— Choisir —", value=""),
                    rx.foreach(A.patient_options, lambda o: rx.el.option(o[1], value=o[0])),
                    name="patient",
                    id="reservation-patient",
                    class_name="native-select",
                ),
                rx.el.label("Motif", html_for="reservation-motif", class_name="field-label"),
                rx.input(name="motif", id="reservation-motif", width="100%"),
                rx.hstack(
                    rx.button(
                        "Annuler",
                        on_click=A.close_booking,
                        variant="soft",
                        color_scheme="gray",
                        type="button",
                    ),
                    rx.button("Réserver hors ligne", type="submit", id="confirmer-reservation"),
                    spacing="3",
                ),
                spacing="2",
                width="100%",
                align="start",
            ),
            on_submit=A.book,
            reset_on_submit=True,
        ),
        width="100%",
        id="reservation",
    )


def field_agenda_page() -> rx.Component:
    return field_frame(
        rx.vstack(
            rx.text(
                "Les créneaux viennent du serveur à chaque synchronisation. Une réservation faite ici est "
                "confirmée à la prochaine synchronisation, ou signalée « à reprogrammer ».",
                color_scheme="gray",
            ),
            rx.hstack(rx.foreach(A.days, _day_button), wrap="wrap", spacing="2", id="jours"),
            message_line(A.error, "erreur-agenda", error=True),
            message_line(A.message, "message-agenda", error=False),
            rx.cond(A.booking_slot != "", _booking_form()),
            rx.cond(
                A.slots.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Heure", "Lieu", "Professionnel", "État", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(A.slots, _slot)),
                    width="100%",
                    variant="surface",
                    id="creneaux",
                ),
                rx.text(
                    "Aucun créneau de la tournée sur ce portable : synchronisez-le.", color_scheme="gray"
                ),
            ),
            spacing="4",
            width="100%",
            on_unmount=A.forget,
        ),
        title="Agenda de la tournée",
    )
