"""/patients/fusion — merge two records of the same person (coordination, audited)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.state.patient_merge import PatientMergeState as F


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["label"]),
        rx.table.cell(r["birth_date"]),
        rx.table.cell(r["commune"]),
        rx.table.cell(
            rx.button(
                "Garder",
                size="1",
                variant=rx.cond(F.keep_id == r["id"], "solid", "soft"),
                on_click=F.choose("garder", r["id"]),
                class_name="garder",
            )
        ),
        rx.table.cell(
            rx.button(
                "Fusionner dans le dossier gardé",
                size="1",
                color_scheme="orange",
                variant=rx.cond(F.merge_id == r["id"], "solid", "soft"),
                on_click=F.choose("fusionner", r["id"]),
                class_name="fusionner",
            )
        ),
        class_name="dossier-patient",
    )


def patient_merge_page() -> rx.Component:
    return page_frame(
        rx.vstack(
            rx.el.form(
                rx.hstack(
                    rx.input(
                        name="recherche",
                        placeholder="Nom, prénom ou date de naissance",
                        width="320px",
                        aria_label="Rechercher",
                    ),
                    rx.button(rx.icon("search", size=16), "Chercher", type="submit"),
                ),
                on_submit=F.search,
                reset_on_submit=False,
            ),
            rx.cond(
                F.error != "",
                rx.callout(
                    F.error, icon="triangle-alert", color_scheme="red", role="alert", id="erreur-fusion"
                ),
            ),
            rx.cond(
                F.message != "", rx.callout(F.message, icon="check", color_scheme="green", id="fusion-faite")
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Patient", "Né·e le", "Commune", "", "")]
                    )
                ),
                rx.table.body(rx.foreach(F.results, _row)),
                width="100%",
                variant="surface",
            ),
            rx.el.form(
                rx.hstack(
                    rx.input(
                        name="motif",
                        placeholder="Motif de la fusion (obligatoire)",
                        width="360px",
                        aria_label="Motif de la fusion",
                    ),
                    rx.button("Fusionner", type="submit", color_scheme="orange", id="confirmer-fusion"),
                ),
                on_submit=F.merge,
                reset_on_submit=True,
            ),
            spacing="3",
            width="100%",
        ),
        title="Fusionner deux dossiers patients",
    )
