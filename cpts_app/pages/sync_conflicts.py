"""/synchronisation/conflits — the values that lost a merge between laptops, kept or restored."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.state.sync_conflicts import SyncConflictsState as C

HEADERS = [
    "Table",
    "Patient",
    "Champ",
    "Valeur gardée",
    "Valeur écartée",
    "Motif",
    "Portable",
    "Date",
    "",
]


def _actions(r) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.cond(
        r["open"] == "oui",
        rx.hstack(
            rx.button(
                "Garder",
                on_click=C.ask(r["id"], False),
                variant="soft",
                size="1",
                class_name="garder",
                type="button",
            ),
            rx.cond(
                r["restorable"] == "oui",
                rx.button(
                    "Rétablir l'autre valeur",
                    on_click=C.ask(r["id"], True),
                    color_scheme="amber",
                    variant="soft",
                    size="1",
                    class_name="retablir",
                    type="button",
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        rx.vstack(
            rx.badge(r["resolution"], color_scheme="gray", class_name="arbitrage"),
            rx.text(r["resolved_by"], size="1", color_scheme="gray"),
            spacing="1",
        ),
    )


def _row(r) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.row(
        rx.table.cell(r["table"]),
        rx.table.cell(r["concerns"], class_name="concerne"),
        rx.table.cell(r["field"]),
        rx.table.cell(r["kept"], class_name="valeur-gardee"),
        rx.table.cell(r["discarded"], class_name="valeur-ecartee"),
        rx.table.cell(rx.text(r["reason"], size="1")),
        rx.table.cell(r["device"]),
        rx.table.cell(r["created"], white_space="nowrap"),
        rx.table.cell(_actions(r)),
        class_name="conflit",
        data_conflit=r["id"],
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in HEADERS])),
        rx.table.body(rx.foreach(C.rows, _row)),
        width="100%",
        variant="surface",
        size="1",
        id="conflits",
    )


def _empty() -> rx.Component:
    return rx.callout(
        rx.cond(C.show_resolved, "Aucun conflit enregistré.", "Aucun conflit à arbitrer"),
        icon="circle-check",
        color_scheme="green",
        id="aucun-conflit",
    )


def _pager() -> rx.Component:
    return rx.cond(
        (C.offset > 0) | C.has_more,
        rx.hstack(
            rx.button(
                "Page précédente",
                on_click=C.previous_page,
                disabled=C.offset == 0,
                variant="soft",
                type="button",
            ),
            rx.button(
                "Page suivante", on_click=C.next_page, disabled=~C.has_more, variant="soft", type="button"
            ),
            spacing="3",
        ),
    )


def _confirm_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.cond(C.confirm_restore, "Rétablir l'autre valeur ?", "Garder la valeur actuelle ?")
            ),
            rx.alert_dialog.description(C.confirm_text),
            rx.vstack(
                rx.text(rx.text.strong("Valeur gardée : "), C.confirm_kept),
                rx.text(rx.text.strong("Valeur écartée : "), C.confirm_discarded),
                rx.text(
                    rx.cond(
                        C.confirm_restore,
                        "La valeur écartée remplacera la valeur actuelle ; tous les portables la "
                        "recevront à leur prochaine synchronisation.",
                        "La valeur actuelle reste en place ; la valeur écartée ne sera plus proposée.",
                    ),
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    C.confirm_error != "",
                    rx.text(
                        C.confirm_error, color_scheme="red", size="2", role="alert", id="erreur-arbitrage"
                    ),
                ),
                spacing="2",
                margin_y="1em",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Annuler", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    rx.cond(C.confirm_restore, "Rétablir", "Garder"),
                    on_click=C.confirm,
                    color_scheme=rx.cond(C.confirm_restore, "amber", "teal"),
                    type="button",
                    id="confirmer-arbitrage",
                ),
                justify="end",
                spacing="3",
            ),
        ),
        open=C.confirm_open,
        on_open_change=C.set_confirm_open,
    )


def sync_conflicts_page() -> rx.Component:
    return page_frame(
        rx.cond(
            C.denied != "",
            rx.callout(C.denied, icon="shield-alert", color_scheme="red", role="alert", id="acces-refuse"),
            rx.cond(
                C.loaded,
                rx.vstack(
                    rx.text(
                        "Quand un même champ a été modifié sur un portable et ailleurs, la modification la "
                        "plus récente est gardée et l'autre est mise de côté ici. Gardez la valeur actuelle "
                        "ou rétablissez l'autre : elle repart vers tous les portables.",
                        color_scheme="gray",
                    ),
                    rx.hstack(
                        rx.badge(
                            C.open_count.to_string() + " à arbitrer",
                            color_scheme=rx.cond(C.open_count > 0, "amber", "green"),
                            size="2",
                            id="nombre-conflits",
                        ),
                        rx.spacer(),
                        rx.el.label(
                            rx.hstack(
                                rx.switch(
                                    checked=C.show_resolved,
                                    on_change=C.set_show_resolved,
                                    id="voir-arbitres",
                                ),
                                rx.text("Voir aussi les conflits arbitrés", size="2"),
                                spacing="2",
                                align="center",
                            ),
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.cond(C.rows.length() > 0, _table(), _empty()),
                    _pager(),
                    _confirm_dialog(),
                    spacing="4",
                    width="100%",
                    on_unmount=C.forget,
                ),
                rx.center(rx.spinner(), width="100%", padding="2em"),
            ),
        ),
        title="Conflits de synchronisation",
    )
