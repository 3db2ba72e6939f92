"""A professional as a card in the directory's results."""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var


def _line(icon: str, content: Var | str) -> rx.Component:
    return rx.cond(
        content != "",
        rx.hstack(
            rx.icon(icon, size=14, color=rx.color("gray", 10)),
            rx.text(content, size="2"),
            spacing="2",
            align="center",
        ),
    )


def new_patients_badge(accepts: Var, capacity: Var) -> rx.Component:
    return rx.cond(
        accepts,
        rx.badge("Accepte de nouveaux patients (", capacity, " places)", color_scheme="green"),
        rx.badge("N'accepte pas de nouveaux patients", color_scheme="gray"),
    )


def professional_card(item: Var) -> rx.Component:
    """``item`` is one entry of ``DirectoryState.results``."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(
                    rx.heading(item["full_name"], size="4"),
                    href="/annuaire/professionnel?id=" + item["id"].to(str),
                ),
                rx.spacer(),
                rx.badge(item["profession_label"], variant="soft", color_scheme="teal"),
                width="100%",
                align="center",
            ),
            rx.cond(
                item["specialty"] != "", rx.text(item["specialty"], size="2", style={"font_style": "italic"})
            ),
            _line("building-2", item["structures"]),
            _line("map-pin", item["communes"]),
            _line("phone", item["phone"]),
            _line("mail", item["email"]),
            new_patients_badge(item["accepts_new_patients"], item["capacity"]),
            spacing="2",
            align="start",
        ),
        class_name="professional-card",
        width="100%",
    )
