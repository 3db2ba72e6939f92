"""/agenda/trouver — « Trouver un créneau » and one-click booking with confirmation."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.booking_dialog import booking_dialog
from cpts_app.components.layout import page_frame
from cpts_app.state.agenda_channel import on_agenda_change
from cpts_app.state.booking import BookingState
from cpts_app.state.find_slot import FindSlotState as F


def _select(name: str, label: str, options, value, empty: str | None) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"filtre-{name}", class_name="field-label"),
        rx.el.select(
            *([rx.el.option(empty, value="")] if empty is not None else []),
            rx.foreach(options, lambda o: rx.el.option(o[1], value=o[0])),
            name=name,
            id=f"filtre-{name}",
            default_value=value,
            class_name="native-select",
        ),
        spacing="1",
    )


def _filters() -> rx.Component:
    return rx.el.form(
        rx.flex(
            _select("profession", "Profession", F.profession_options, F.profession, "Toutes"),
            _select("commune", "Commune du patient", F.commune_options, F.commune_id, "Tout le territoire"),
            _select("type", "Type de créneau", F.kind_options, F.kind, "Tous"),
            _select("fenetre", "Quand", F.window_options, F.window, None),
            rx.vstack(
                rx.el.label("Du", html_for="filtre-du", class_name="field-label"),
                rx.el.input(type="date", name="du", id="filtre-du", class_name="native-select"),
                spacing="1",
            ),
            rx.vstack(
                rx.el.label("Au", html_for="filtre-au", class_name="field-label"),
                rx.el.input(type="date", name="au", id="filtre-au", class_name="native-select"),
                spacing="1",
            ),
            rx.el.label(
                rx.el.input(type="checkbox", name="voisines", id="filtre-voisines", default_checked=True),
                " Communes voisines",
                class_name="checkbox-label",
            ),
            rx.button(rx.icon("search", size=16), "Trouver", type="submit", id="bouton-trouver"),
            gap="3",
            wrap="wrap",
            align="end",
        ),
        on_submit=F.search,
        reset_on_submit=False,
    )


def _result(row: rx.Var) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text(row["when"], weight="bold", size="3"),
                rx.text(row["professional"], " — ", row["profession"], size="2"),
                rx.text(row["place"], size="2", color_scheme="gray"),
                rx.hstack(
                    rx.badge(row["kind_label"], variant="soft"),
                    rx.cond(row["neighbour"].to(bool), rx.badge("commune voisine", color_scheme="orange")),
                    spacing="2",
                ),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("calendar-plus", size=16),
                "Réserver",
                on_click=BookingState.open_for(row["slot_id"].to(int), row["summary"].to(str)),
                class_name="bouton-reserver",
            ),
            align="center",
            width="100%",
        ),
        class_name="creneau-propose",
        width="100%",
    )


def find_slot_page() -> rx.Component:
    return page_frame(
        on_agenda_change(F.refresh),
        rx.vstack(
            _filters(),
            rx.cond(
                F.error != "", rx.callout(F.error, icon="triangle-alert", color_scheme="red", role="alert")
            ),
            rx.cond(
                F.searched,
                rx.cond(
                    F.results.length() > 0,
                    rx.text(
                        "Les créneaux libres les plus proches :", color_scheme="gray", id="nombre-creneaux"
                    ),
                    rx.callout(
                        "Aucun créneau libre ne correspond. Élargissez la fenêtre, le type ou les communes.",
                        icon="calendar-x",
                        id="aucun-creneau",
                    ),
                ),
            ),
            rx.vstack(rx.foreach(F.results, _result), spacing="2", width="100%", id="resultats-creneaux"),
            spacing="4",
            width="100%",
        ),
        booking_dialog(),
        title="Trouver un créneau",
    )
