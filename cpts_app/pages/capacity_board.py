"""/agenda/capacite — same-day capacity (soins non programmés) per commune and half-day."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.state.agenda_channel import on_agenda_change
from cpts_app.state.capacity_board import CapacityBoardState as C


def _cell(count: rx.Var, commune_id: rx.Var) -> rx.Component:
    return rx.table.cell(
        rx.link(
            rx.badge(count, color_scheme=rx.cond(count.to(int) > 0, "green", "red"), size="2"),
            href="/agenda/trouver?type=snp&fenetre=today&commune=" + commune_id.to(str),
        )
    )


def capacity_board_page() -> rx.Component:
    return page_frame(
        on_agenda_change(C.refresh),
        rx.vstack(
            rx.hstack(
                rx.button("Aujourd'hui", on_click=C.show_day(0), variant="soft"),
                rx.button("Demain", on_click=C.show_day(1), variant="soft"),
                rx.heading(C.day_title, size="4"),
                align="center",
                spacing="3",
            ),
            rx.text(
                "Créneaux de soins non programmés encore libres. Cliquez un nombre pour réserver.",
                color_scheme="gray",
            ),
            rx.cond(
                C.error != "", rx.callout(C.error, icon="triangle-alert", color_scheme="red", role="alert")
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Commune"),
                        rx.table.column_header_cell("Matin"),
                        rx.table.column_header_cell("Après-midi"),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        C.rows,
                        lambda r: rx.table.row(
                            rx.table.cell(r["commune"]),
                            _cell(r["matin"], r["commune_id"]),
                            _cell(r["apres_midi"], r["commune_id"]),
                            class_name="ligne-capacite",
                        ),
                    ),
                    rx.table.row(
                        rx.table.cell(rx.text("Total", weight="bold")),
                        rx.table.cell(rx.text(C.total_morning, weight="bold", id="total-matin")),
                        rx.table.cell(rx.text(C.total_afternoon, weight="bold", id="total-apres-midi")),
                    ),
                ),
                variant="surface",
                width="100%",
                id="tableau-capacite",
            ),
            spacing="3",
            width="100%",
        ),
        title="Capacité de soins non programmés",
    )
