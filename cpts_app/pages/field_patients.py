"""/terrain/patients — search the laptop's patients and create one."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.field_layout import field_frame, message_line
from cpts_app.state.field_patients import FieldPatientsState as L

SEXES = [("F", "Femme"), ("M", "Homme"), ("I", "Indéterminé")]


def labelled(label: str, control: rx.Component, element_id: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=element_id, class_name="field-label"),
        control,
        spacing="1",
        width="100%",
        align="start",
    )


def identity_fields(prefix: str, values: rx.Var | None = None) -> rx.Component:
    """The identity inputs, blank (creation) or filled from ``values`` (edit)."""

    def value(name: str):  # type: ignore[no-untyped-def]
        return values[name] if values is not None else ""

    def text(label: str, name: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
        element_id = f"{prefix}-{name}"
        return labelled(
            label,
            rx.input(name=name, id=element_id, default_value=value(name), width="100%", **props),
            element_id,
        )

    sex_id = f"{prefix}-sexe"
    sex = rx.el.select(
        *[rx.el.option(label, value=code) for code, label in SEXES],
        name="sexe",
        id=sex_id,
        default_value=value("sexe") if values is not None else "F",
        class_name="native-select",
    )
    snmt_id = f"{prefix}-sans_medecin_traitant"
    return rx.grid(
        text("Nom *", "nom"),
        text("Prénoms *", "prenoms"),
        text("Date de naissance *", "date_naissance", type="date"),
        labelled("Sexe *", sex, sex_id),
        text("Téléphone", "telephone", type="tel"),
        text("Code INSEE de la commune", "commune_insee", placeholder="30033"),
        text("Adresse", "adresse"),
        rx.hstack(
            rx.el.input(
                type="checkbox",
                name="sans_medecin_traitant",
                id=snmt_id,
                default_checked=(value("sans_medecin_traitant") == "on") if values is not None else False,
            ),
            rx.el.label("Sans médecin traitant", html_for=snmt_id),
            align="center",
            spacing="2",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )


def _create_form() -> rx.Component:
    """Shown once the state is there: the form's key comes with it (typed text would be wiped)."""
    return rx.card(
        rx.cond(rx.State.is_hydrated, _create_fields(), rx.spinner()),
        width="100%",
    )


def _create_fields() -> rx.Component:
    return rx.el.form(
        rx.vstack(
            rx.heading("Nouveau patient", size="4", as_="h2"),
            identity_fields("nouveau"),
            message_line(L.create_error, "erreur-creation", error=True),
            rx.button(rx.icon("user-plus", size=16), "Créer le dossier", type="submit", id="creer-patient"),
            spacing="3",
            width="100%",
        ),
        on_submit=L.create,
        reset_on_submit=False,
        key=L.create_key.to_string(),
    )


def _row(row) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.row(
        rx.table.cell(rx.link(row["nom"], " ", row["prenoms"], href="/terrain/patients/" + row["rid"])),
        rx.table.cell(row["date_naissance"]),
        rx.table.cell(row["commune_insee"]),
        class_name="patient",
    )


def field_patients_page() -> rx.Component:
    return field_frame(
        rx.vstack(
            rx.input(
                placeholder="Rechercher un patient (nom, prénom)",
                # Uncontrolled on purpose: a controlled input would pull in react-debounce-input,
                # a front-end package the offline build (reflex.lock) does not carry.
                on_change=L.set_search,
                id="recherche-patient",
                width="100%",
            ),
            rx.cond(
                L.rows.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Patient"),
                            rx.table.column_header_cell("Né(e) le"),
                            rx.table.column_header_cell("Commune (INSEE)"),
                        )
                    ),
                    rx.table.body(rx.foreach(L.rows, _row)),
                    width="100%",
                    variant="surface",
                    id="patients",
                ),
                rx.text("Aucun patient sur ce portable pour cette recherche.", color_scheme="gray"),
            ),
            _create_form(),
            spacing="4",
            width="100%",
            on_unmount=L.forget,
        ),
        title="Patients",
    )
