"""/terrain/synchronisation — the « Synchroniser » button, its progress, what bounced."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.field_layout import field_frame, message_line
from cpts_app.state.field_sync import FieldSyncState as S


def _progress() -> rx.Component:
    return rx.vstack(
        rx.progress(value=S.percent, max=100, width="100%", id="barre-synchronisation"),
        rx.hstack(
            rx.text(S.progress_message, size="2", id="etape-synchronisation"),
            rx.spacer(),
            rx.text(S.percent.to_string(), " %", size="2", id="pourcentage-synchronisation"),
            width="100%",
        ),
        width="100%",
        spacing="1",
    )


def _rejection(r) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.row(
        rx.table.cell(r["quand"]),
        rx.table.cell(r["raison"]),
        rx.table.cell(
            rx.cond(r["agenda"] == "oui", rx.link("Choisir un autre créneau", href="/terrain/agenda"))
        ),
        class_name="a-reprogrammer",
    )


def _conflict(c) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.row(
        rx.table.cell(c["table"], " · ", c["champ"]),
        rx.table.cell(c["gardee"]),
        rx.table.cell(c["ecartee"]),
        rx.table.cell(c["raison"]),
        class_name="conflit",
    )


def _table(headers: list[str], rows, render, element_id: str) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(rows, render)),
        width="100%",
        variant="surface",
        size="1",
        id=element_id,
    )


def field_sync_page() -> rx.Component:
    return field_frame(
        rx.vstack(
            rx.text(
                "Envoie les modifications faites sur ce portable et reçoit celles du serveur. "
                "Il faut une connexion au réseau.",
                color_scheme="gray",
            ),
            rx.text("Travail hors ligne autorisé jusqu'au ", S.lease_end, size="2", id="fin-bail"),
            rx.button(
                rx.icon("refresh-cw", size=16),
                "Synchroniser",
                on_click=S.synchronise,
                loading=S.running,
                disabled=S.running,
                id="synchroniser",
                size="3",
            ),
            rx.cond(S.running | (S.phase != ""), _progress()),
            message_line(S.error, "erreur-synchronisation", error=True),
            rx.cond(
                S.report.length() > 0,
                rx.card(rx.vstack(rx.foreach(S.report, rx.text), spacing="1"), id="bilan-synchronisation"),
            ),
            rx.heading("À reprogrammer", size="4", as_="h2"),
            rx.cond(
                S.rejections.length() > 0,
                _table(["Quand", "Raison", "", ""], S.rejections, _rejection, "a-reprogrammer"),
                rx.text("Rien à reprogrammer.", color_scheme="gray"),
            ),
            rx.heading("Conflits (arbitrés par la coordination)", size="4", as_="h2"),
            rx.cond(
                S.conflicts.length() > 0,
                _table(
                    ["Donnée", "Valeur gardée", "Valeur écartée", "Raison"],
                    S.conflicts,
                    _conflict,
                    "conflits",
                ),
                rx.text("Aucun conflit.", color_scheme="gray"),
            ),
            spacing="4",
            width="100%",
        ),
        title="Synchronisation",
    )
