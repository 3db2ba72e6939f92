"""/terrain/patients/<id> — identity, observations and consultation notes (append-only)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.field_layout import field_frame, message_line
from cpts_app.pages.field_patients import identity_fields, labelled
from cpts_app.state.field_patients import FieldPatientState as P


def _entry(entry) -> rx.Component:  # type: ignore[no-untyped-def]
    """An entry is shown, never editable: no edit nor delete button exists for it."""
    return rx.box(
        rx.text(entry["texte"], white_space="pre-wrap"),
        rx.text(entry["auteur"], " — ", entry["quand"], size="1", color_scheme="gray"),
        padding="0.5em",
        border_left=f"3px solid {rx.color('teal', 7)}",
        class_name="entree",
        width="100%",
    )


def _append_form(
    handler, field_id: str, button_id: str, placeholder: str, *extra: rx.Component
) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.el.form(
        rx.vstack(
            *extra,
            rx.text_area(name="texte", id=field_id, placeholder=placeholder, width="100%"),
            rx.button(rx.icon("plus", size=16), "Ajouter", type="submit", id=button_id, size="2"),
            spacing="2",
            width="100%",
            align="start",
        ),
        on_submit=handler,
        reset_on_submit=True,
        width="100%",
    )


def _identity() -> rx.Component:
    return rx.card(
        rx.el.form(
            rx.vstack(
                rx.heading("Identité", size="4", as_="h2"),
                identity_fields("identite", P.identity),
                rx.button(
                    rx.icon("save", size=16),
                    "Enregistrer l'identité",
                    type="submit",
                    id="enregistrer-identite",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=P.save_identity,
            reset_on_submit=False,
            key=P.form_key.to_string(),
        ),
        width="100%",
    )


def _observations() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Observations", size="4", as_="h2"),
            rx.text(
                "Une observation enregistrée ne se modifie pas et ne s'efface pas.",
                size="1",
                color_scheme="gray",
            ),
            rx.vstack(rx.foreach(P.observations, _entry), spacing="2", width="100%", id="observations"),
            _append_form(
                P.add_observation, "nouvelle-observation", "ajouter-observation", "Nouvelle observation"
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _consultation(visit) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.card(
        rx.vstack(
            rx.text(visit.date, " — ", visit.professionnel, weight="bold"),
            rx.cond(visit.motif != "", rx.text("Motif : ", visit.motif, size="2")),
            rx.vstack(rx.foreach(visit.notes, _entry), spacing="2", width="100%", class_name="notes"),
            _append_form(
                P.add_note,
                "note-" + visit.rid,
                "ajouter-note-" + visit.rid,
                "Nouvelle note de consultation",
                rx.el.input(type="hidden", name="consultation", value=visit.rid),
            ),
            spacing="2",
            width="100%",
        ),
        class_name="consultation",
        width="100%",
    )


def _consultations() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Consultations", size="4", as_="h2"),
            rx.el.form(
                rx.hstack(
                    labelled(
                        "Professionnel",
                        rx.input(name="professionnel", id="consultation-professionnel", placeholder="Dr …"),
                        "consultation-professionnel",
                    ),
                    labelled("Motif", rx.input(name="motif", id="consultation-motif"), "consultation-motif"),
                    rx.button("Ouvrir une consultation", type="submit", id="ouvrir-consultation"),
                    align="end",
                    spacing="3",
                    wrap="wrap",
                ),
                on_submit=P.start_consultation,
                reset_on_submit=True,
            ),
            rx.vstack(
                rx.foreach(P.consultations, _consultation), spacing="3", width="100%", id="consultations"
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def field_patient_page() -> rx.Component:
    return field_frame(
        rx.vstack(
            rx.link("← Tous les patients", href="/terrain/patients"),
            message_line(P.error, "erreur-dossier", error=True),
            message_line(P.message, "message-dossier", error=False),
            rx.cond(
                P.found,
                rx.vstack(_identity(), _observations(), _consultations(), spacing="4", width="100%"),
                rx.text("Dossier introuvable sur ce portable.", color_scheme="gray"),
            ),
            spacing="4",
            width="100%",
            on_unmount=P.forget,
        ),
        title=rx.cond(P.title != "", P.title, "Dossier patient"),
    )
