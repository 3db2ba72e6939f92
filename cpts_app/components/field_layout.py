"""The frame of the field pages: device, online/offline, pending changes, last sync, lock."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import nav_link
from cpts_app.state.field import FieldState as F


def network_badge() -> rx.Component:
    return rx.cond(
        F.online,
        rx.badge(
            rx.icon("wifi", size=14),
            "En ligne",
            color_scheme="green",
            variant="solid",
            id="indicateur-reseau",
        ),
        rx.badge(
            rx.icon("wifi-off", size=14),
            "Hors ligne",
            color_scheme="gray",
            variant="solid",
            id="indicateur-reseau",
        ),
    )


def field_header() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.hstack(
                rx.icon("bus", size=24, color=rx.color("teal", 10)),
                rx.vstack(
                    rx.text("CPTS — Terrain", size="4", weight="bold", white_space="nowrap"),
                    rx.text(F.device_label, size="1", color_scheme="gray", id="appareil"),
                    spacing="0",
                ),
                spacing="2",
                align="center",
            ),
            rx.hstack(
                nav_link("Patients", "/terrain/patients", "users"),
                nav_link("Agenda de la tournée", "/terrain/agenda", "calendar-days"),
                nav_link("Synchronisation", "/terrain/synchronisation", "refresh-cw"),
                spacing="4",
                align="center",
                wrap="wrap",
            ),
            rx.spacer(),
            rx.hstack(
                network_badge(),
                rx.link(
                    rx.badge(
                        F.pending.to_string(),
                        " modification(s) en attente",
                        color_scheme=rx.cond(F.pending > 0, "amber", "gray"),
                        variant="soft",
                        id="modifications-en-attente",
                    ),
                    href="/terrain/synchronisation",
                    underline="none",
                ),
                rx.text(
                    "Dernière synchro : ", rx.el.span(F.last_sync, id="derniere-synchronisation"), size="1"
                ),
                rx.button(
                    rx.icon("lock", size=16),
                    "Verrouiller",
                    on_click=F.lock,
                    variant="soft",
                    size="2",
                    type="button",
                    id="verrouiller",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            align="center",
            spacing="6",
            wrap="wrap",
        ),
        padding_x="1.5em",
        padding_y="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 1),
        as_="header",
    )


def field_frame(*children: rx.Component, title: rx.Var | str) -> rx.Component:
    return rx.box(
        field_header(),
        rx.box(
            rx.cond(
                F.sync_only,
                rx.callout(
                    "Délai hors ligne dépassé : seule la synchronisation est possible "
                    "jusqu'à ce qu'elle réussisse.",
                    icon="triangle-alert",
                    color_scheme="amber",
                    margin_bottom="1em",
                ),
            ),
            rx.heading(title, size="7", margin_bottom="0.75em", as_="h1"),
            *children,
            padding="1.5em",
            max_width="1200px",
            margin_x="auto",
            as_="main",
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
    )


def message_line(text: rx.Var, element_id: str, *, error: bool) -> rx.Component:
    return rx.cond(
        text != "",
        rx.callout(
            text,
            icon="triangle-alert" if error else "check",
            color_scheme="red" if error else "green",
            role="alert" if error else "status",
            id=element_id,
            width="100%",
        ),
    )
