"""/agenda/attente — the waiting list, with the slots offered when one is freed."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, select_field
from cpts_app.components.layout import page_frame
from cpts_app.components.patient_picker import patient_picker
from cpts_app.state.agenda_channel import on_agenda_change
from cpts_app.state.waiting_list import WaitingListState as W


def _form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Inscrire un patient", size="4"),
            patient_picker(),
            field_error(W.errors["patient_id"], "patient_id"),
            rx.el.form(
                rx.vstack(
                    rx.grid(
                        select_field(
                            "Profession",
                            "profession",
                            W.profession_options,
                            "",
                            W.errors["profession"],
                            required=True,
                        ),
                        select_field(
                            "Commune",
                            "commune_id",
                            W.commune_options,
                            "",
                            W.errors["commune_id"],
                            required=True,
                        ),
                        columns="2",
                        spacing="3",
                        width="100%",
                    ),
                    rx.input(name="note", placeholder="Note (facultatif)", width="100%", aria_label="Note"),
                    rx.cond(
                        W.errors["form"] != "",
                        rx.callout(W.errors["form"], icon="triangle-alert", color_scheme="red", role="alert"),
                    ),
                    rx.button("Inscrire", type="submit", id="inscrire-attente"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=W.add,
                reset_on_submit=False,
                no_validate=True,
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _table() -> rx.Component:
    headers = ["Patient", "Profession", "Commune", "Depuis", "Statut", "Créneau proposé", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(
            rx.foreach(
                W.entries,
                lambda e: rx.table.row(
                    rx.table.cell(e["patient"]),
                    rx.table.cell(e["profession_label"]),
                    rx.table.cell(e["commune_name"]),
                    rx.table.cell(e["created_at"]),
                    rx.table.cell(e["status_label"]),
                    rx.table.cell(e["offered_slot"]),
                    rx.table.cell(
                        rx.hstack(
                            rx.button(
                                "Réservé",
                                size="1",
                                variant="soft",
                                on_click=W.close(e["id"].to(int), "booked"),
                            ),
                            rx.button(
                                "Clore",
                                size="1",
                                variant="soft",
                                color_scheme="gray",
                                on_click=W.close(e["id"].to(int), "closed"),
                            ),
                            spacing="1",
                        )
                    ),
                    class_name="entree-attente",
                ),
            )
        ),
        width="100%",
        variant="surface",
        id="liste-attente",
    )


def waiting_list_page() -> rx.Component:
    return page_frame(
        on_agenda_change(W.refresh),
        rx.vstack(
            rx.cond(W.message != "", rx.callout(W.message, icon="check", color_scheme="green")),
            _form(),
            rx.text(
                "Quand un rendez-vous est annulé, le créneau libéré est proposé aux trois plus anciennes "
                "demandes de la même profession dans la commune ou une commune voisine.",
                size="2",
                color_scheme="gray",
            ),
            _table(),
            spacing="4",
            width="100%",
        ),
        title="Liste d'attente",
    )
