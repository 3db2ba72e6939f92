"""/admin/structures — list, add and edit structures (admins only)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import select_field, text_field
from cpts_app.components.layout import page_frame
from cpts_app.state.admin_structure import AdminStructureState as S


def _denied() -> rx.Component:
    return rx.callout(S.denied, icon="shield-alert", color_scheme="red", role="alert", id="acces-refuse")


def structures_list_page() -> rx.Component:
    table = rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Nom"),
                rx.table.column_header_cell("Type"),
                rx.table.column_header_cell("Commune"),
                rx.table.column_header_cell("FINESS"),
                rx.table.column_header_cell("Téléphone"),
                rx.table.column_header_cell(""),
            )
        ),
        rx.table.body(
            rx.foreach(
                S.rows,
                lambda r: rx.table.row(
                    rx.table.cell(r["name"]),
                    rx.table.cell(r["kind_label"]),
                    rx.table.cell(r["commune"]),
                    rx.table.cell(r["finess"]),
                    rx.table.cell(r["phone"]),
                    rx.table.cell(
                        rx.link("Modifier", href="/admin/structures/modifier?id=" + r["id"].to(str))
                    ),
                ),
            )
        ),
        width="100%",
        variant="surface",
    )
    return page_frame(
        rx.cond(
            S.denied != "",
            _denied(),
            rx.vstack(
                rx.hstack(
                    rx.el.form(
                        rx.hstack(
                            rx.input(
                                name="q", placeholder="Nom de la structure…", aria_label="Nom de la structure"
                            ),
                            rx.button(rx.icon("search", size=16), "Rechercher", type="submit"),
                        ),
                        on_submit=S.search,
                        reset_on_submit=False,
                    ),
                    rx.spacer(),
                    rx.link(
                        rx.button(rx.icon("plus", size=16), "Nouvelle structure"),
                        href="/admin/structures/nouvelle",
                    ),
                    width="100%",
                ),
                rx.text(S.total, " structures", color_scheme="gray"),
                table,
                rx.hstack(
                    rx.button("Précédent", on_click=S.change_page(-1), disabled=S.page <= 1, variant="soft"),
                    rx.text("Page ", S.page, " sur ", S.page_count),
                    rx.button(
                        "Suivant", on_click=S.change_page(1), disabled=S.page >= S.page_count, variant="soft"
                    ),
                    justify="center",
                    width="100%",
                    align="center",
                ),
                spacing="4",
                width="100%",
            ),
        ),
        title="Structures du territoire",
    )


def structure_form_page() -> rx.Component:
    v, e = S.values, S.errors
    form = rx.el.form(
        rx.vstack(
            rx.grid(
                text_field("Nom", "name", v["name"], e["name"], required=True),
                select_field(
                    "Type de structure", "kind", S.kind_options, v["kind"], e["kind"], required=True
                ),
                text_field("Numéro FINESS", "finess", v["finess"], e["finess"], placeholder="9 caractères"),
                select_field(
                    "Commune",
                    "commune_id",
                    S.commune_options,
                    v["commune_id"],
                    e["commune_id"],
                    required=True,
                ),
                text_field("Adresse", "address", v["address"], e["address"]),
                text_field("Téléphone", "phone", v["phone"], e["phone"]),
                text_field("E-mail", "email", v["email"], e["email"], input_type="email"),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            rx.cond(
                S.form_error != "",
                rx.callout(
                    S.form_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    id="erreur-formulaire",
                ),
            ),
            rx.hstack(
                rx.button(rx.icon("save", size=16), "Enregistrer", type="submit", id="bouton-enregistrer"),
                rx.link(rx.button("Annuler", variant="soft", type="button"), href="/admin/structures"),
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=S.save,
        reset_on_submit=False,
        no_validate=True,
        key=S.form_key,
    )
    return page_frame(
        rx.cond(S.denied != "", _denied(), rx.card(form, width="100%")),
        title=rx.cond(S.editing_id != "", "Modifier une structure", "Nouvelle structure"),
    )
