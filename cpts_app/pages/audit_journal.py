"""/admin/journal — the audit trail: sign-ins, failures, edits, reads of patient data."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.state.audit_journal import AuditJournalState as J


def audit_journal_page() -> rx.Component:
    headers = ["Date", "Utilisateur", "Action", "Cible", "Résultat", "Adresse IP"]
    return page_frame(
        rx.vstack(
            rx.cond(
                J.error != "", rx.callout(J.error, icon="shield-alert", color_scheme="red", role="alert")
            ),
            rx.el.form(
                rx.hstack(
                    rx.input(name="action", placeholder="Action (ex. : auth.)", aria_label="Action"),
                    rx.el.label(
                        rx.el.input(type="checkbox", name="echecs"),
                        " Échecs et refus seulement",
                        class_name="checkbox-label",
                    ),
                    rx.button(rx.icon("filter", size=16), "Filtrer", type="submit"),
                    align="center",
                    spacing="3",
                ),
                on_submit=J.filter,
                reset_on_submit=False,
            ),
            rx.text(J.total, " événements", color_scheme="gray"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(
                    rx.foreach(
                        J.rows,
                        lambda r: rx.table.row(
                            rx.table.cell(r["at"]),
                            rx.table.cell(r["actor"]),
                            rx.table.cell(rx.code(r["action"])),
                            rx.table.cell(r["target"]),
                            rx.table.cell(r["outcome"]),
                            rx.table.cell(r["ip"]),
                        ),
                    )
                ),
                size="1",
                variant="surface",
                width="100%",
                id="journal-audit",
            ),
            rx.hstack(
                rx.button("Précédent", on_click=J.change_page(-1), disabled=J.page <= 1, variant="soft"),
                rx.text("Page ", J.page, " sur ", J.page_count),
                rx.button(
                    "Suivant", on_click=J.change_page(1), disabled=J.page >= J.page_count, variant="soft"
                ),
                justify="center",
                align="center",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        title="Journal d'audit",
    )
