"""Day and week agenda: one column per day, one line per slot or appointment."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, text_field
from cpts_app.components.patient_picker import patient_picker
from cpts_app.state.agenda_view import AgendaViewState as A
from cpts_app.state.booking import BookingState

STATUS_COLORS = {"free": "green", "busy": "red", "busy-unavailable": "gray", "extra": "orange"}


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("free", rx.badge("Libre", color_scheme="green")),
        ("busy", rx.badge("Pris", color_scheme="red")),
        ("extra", rx.badge("Surnuméraire", color_scheme="orange")),
        rx.badge("Indisponible", color_scheme="gray"),
    )


def _entry(row: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(row.time_label, weight="bold", size="2", min_width="92px"),
            _status_badge(row.status),
            rx.badge(row.kind_label, variant="soft"),
            rx.cond(A.mode == "structure", rx.text(row.professional_name, size="2")),
            rx.cond(
                row.patient_label != "", rx.text(row.patient_label, size="2", class_name="patient-du-creneau")
            ),
            rx.spacer(),
            rx.cond(
                row.can_book & (row.status == "free"),
                rx.button(
                    "Réserver",
                    size="1",
                    on_click=BookingState.open_for(row.slot_id, row.summary),
                    class_name="bouton-reserver",
                ),
            ),
            rx.cond(
                row.can_cancel & (row.appointment_id > 0),
                rx.button(
                    "Annuler",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=A.ask_cancel(row.appointment_id, row.summary),
                    class_name="bouton-annuler",
                ),
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.cond(row.reason != "", rx.text(row.reason, size="1", color_scheme="gray")),
        padding_y="0.35em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name=rx.cond(row.status == "free", "creneau creneau-libre", "creneau creneau-pris"),
        data_slot=row.slot_id.to_string(),
        width="100%",
    )


def _column(column: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(column.label, weight="bold", class_name="jour-agenda"),
                rx.spacer(),
                rx.text(column.free_count, " libres", size="1", color_scheme="gray"),
                width="100%",
            ),
            rx.cond(
                column.rows.length() == 0,
                rx.text("Aucun créneau publié.", size="2", color_scheme="gray"),
                rx.vstack(rx.foreach(column.rows, _entry), spacing="0", width="100%"),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="colonne-jour",
    )


def period_navigation() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=16), on_click=A.shift(-1), variant="soft", aria_label="Précédent"
        ),
        rx.button("Aujourd'hui", on_click=A.shift(0), variant="soft"),
        rx.button(
            rx.icon("chevron-right", size=16), on_click=A.shift(1), variant="soft", aria_label="Suivant"
        ),
        rx.heading(A.period_label, size="4", id="periode-agenda"),
        rx.spacer(),
        rx.segmented_control.root(
            rx.segmented_control.item("Jour", value="jour"),
            rx.segmented_control.item("Semaine", value="semaine"),
            value=A.view,
            on_change=A.set_view,
        ),
        align="center",
        width="100%",
        spacing="3",
        wrap="wrap",
    )


def agenda_grid() -> rx.Component:
    return rx.grid(
        rx.foreach(A.columns, _column),
        columns=rx.cond(A.view == "semaine", rx.breakpoints(initial="1", md="2", xl="4"), "1"),
        spacing="3",
        width="100%",
        id="grille-agenda",
    )


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Annuler ce rendez-vous"),
            rx.dialog.description(A.cancel_summary),
            rx.el.form(
                rx.vstack(
                    rx.el.label(
                        "Motif de l'annulation *", html_for="motif-annulation", class_name="field-label"
                    ),
                    rx.text_area(name="motif_annulation", id="motif-annulation", width="100%"),
                    rx.cond(
                        A.cancel_error != "",
                        rx.text(A.cancel_error, color_scheme="red", size="2", role="alert"),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Retour", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button(
                            "Annuler le rendez-vous",
                            type="submit",
                            color_scheme="red",
                            id="confirmer-annulation",
                        ),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=A.confirm_cancel,
                reset_on_submit=True,
            ),
        ),
        open=A.cancel_open,
        on_open_change=A.set_cancel_open,
    )


def extra_booking_dialog() -> rx.Component:
    """Coordinators: a surnuméraire appointment outside the published slots, with its reason."""
    e = A.extra_errors
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("calendar-plus-2", size=16),
                "Rendez-vous surnuméraire",
                variant="soft",
                id="ouvrir-surnumeraire",
            ),
        ),
        rx.dialog.content(
            rx.dialog.title("Rendez-vous surnuméraire"),
            rx.dialog.description(
                "En dehors des créneaux publiés ; la justification est conservée dans le journal."
            ),
            rx.vstack(
                patient_picker(),
                field_error(e["patient_id"], "patient_id"),
                rx.el.form(
                    rx.vstack(
                        rx.grid(
                            text_field("Jour", "jour", A.day, e["start"], required=True, input_type="date"),
                            text_field("Début", "debut", "", e["start"], required=True, input_type="time"),
                            text_field("Fin", "fin", "", e["end"], required=True, input_type="time"),
                            columns="3",
                            spacing="3",
                            width="100%",
                        ),
                        rx.input(
                            name="motif",
                            placeholder="Motif de consultation",
                            width="100%",
                            aria_label="Motif",
                        ),
                        rx.el.label(
                            "Justification du surnuméraire *",
                            html_for="justification",
                            class_name="field-label",
                        ),
                        rx.text_area(name="justification", id="justification", width="100%"),
                        field_error(e["extra_reason"], "extra_reason"),
                        rx.cond(
                            e["form"] != "", rx.text(e["form"], color_scheme="red", size="2", role="alert")
                        ),
                        rx.hstack(
                            rx.dialog.close(
                                rx.button("Annuler", variant="soft", color_scheme="gray", type="button")
                            ),
                            rx.button("Enregistrer", type="submit", id="enregistrer-surnumeraire"),
                            justify="end",
                            width="100%",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=A.book_extra,
                    reset_on_submit=False,
                    no_validate=True,
                ),
                spacing="3",
                width="100%",
            ),
            max_width="620px",
        ),
        open=A.extra_open,
        on_open_change=A.set_extra_open,
    )
