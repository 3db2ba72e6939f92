"""/agenda/professionnel and /agenda/structure — live day and week agendas."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.agenda_grid import (
    agenda_grid,
    cancel_dialog,
    extra_booking_dialog,
    period_navigation,
)
from cpts_app.components.booking_dialog import booking_dialog
from cpts_app.components.layout import page_frame
from cpts_app.state.agenda_channel import on_agenda_change
from cpts_app.state.agenda_view import AgendaViewState as A


def _tour() -> rx.Component:
    return rx.cond(
        A.tour.length() > 0,
        rx.card(
            rx.vstack(
                rx.heading("Où est le médicobus ?", size="4"),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Jour"),
                            rx.table.column_header_cell("Lieu"),
                            rx.table.column_header_cell("Horaires"),
                            rx.table.column_header_cell("Créneaux libres"),
                            rx.table.column_header_cell("Réservés"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            A.tour,
                            lambda t: rx.table.row(
                                rx.table.cell(t["day"]),
                                rx.table.cell(t["where"]),
                                rx.table.cell(t["hours"]),
                                rx.table.cell(t["free"]),
                                rx.table.cell(t["booked"]),
                            ),
                        )
                    ),
                    size="1",
                    width="100%",
                    id="tournee-medicobus",
                ),
                width="100%",
            ),
            width="100%",
        ),
    )


def _body() -> rx.Component:
    return rx.vstack(
        on_agenda_change(A.refresh),
        rx.cond(A.notice != "", rx.callout(A.notice, icon="info")),
        rx.cond(A.error != "", rx.callout(A.error, icon="triangle-alert", color_scheme="red", role="alert")),
        rx.cond(
            A.target_id > 0,
            rx.vstack(
                rx.hstack(
                    rx.heading(A.title, size="5", id="titre-agenda"),
                    rx.spacer(),
                    rx.cond(A.can_book_extra & (A.mode == "professionnel"), extra_booking_dialog()),
                    width="100%",
                    align="center",
                ),
                period_navigation(),
                _tour(),
                agenda_grid(),
                spacing="3",
                width="100%",
            ),
        ),
        booking_dialog(),
        cancel_dialog(),
        spacing="3",
        width="100%",
    )


def professional_agenda_page() -> rx.Component:
    return page_frame(_body(), title="Agenda")


def structure_agenda_page() -> rx.Component:
    return page_frame(_body(), title="Agenda de la structure")
