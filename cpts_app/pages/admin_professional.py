"""/admin/professionnels/nouveau and /modifier — the professional form (admins only)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, select_field, text_field
from cpts_app.components.layout import page_frame
from cpts_app.state.admin_professional import AdminProfessionalState as S


def _structures() -> rx.Component:
    return rx.vstack(
        rx.el.label("Lieux d'exercice", html_for="champ-structure-ajout", class_name="field-label"),
        rx.hstack(
            rx.foreach(
                S.selected_structures,
                lambda s: rx.badge(
                    s[1],
                    rx.icon(
                        "x",
                        size=12,
                        on_click=S.remove_structure(s[0]),
                        cursor="pointer",
                        aria_label="Retirer",
                    ),
                    size="2",
                    variant="soft",
                ),
            ),
            wrap="wrap",
            spacing="2",
            id="structures-choisies",
        ),
        rx.el.select(
            rx.el.option("Ajouter un lieu d'exercice…", value=""),
            rx.foreach(S.structure_options, lambda o: rx.el.option(o[1], value=o[0])),
            value="",
            on_change=S.add_structure,
            id="champ-structure-ajout",
            name="structure_ajout",
            aria_label="Ajouter un lieu d'exercice",
            class_name="native-select",
        ),
        field_error(S.errors["structure_ids"], "structure_ids"),
        spacing="2",
        width="100%",
        align="start",
    )


def _communes() -> rx.Component:
    return rx.vstack(
        rx.text("Communes desservies", class_name="field-label"),
        rx.flex(
            rx.foreach(
                S.commune_options,
                lambda c: rx.el.label(
                    rx.el.input(
                        type="checkbox",
                        name="commune_" + c[0],
                        default_checked=S.selected_communes.contains(c[0]),
                    ),
                    " ",
                    c[1],
                    class_name="checkbox-label",
                ),
            ),
            wrap="wrap",
            gap="2 5",
        ),
        field_error(S.errors["commune_ids"], "commune_ids"),
        spacing="2",
        width="100%",
        align="start",
    )


def _form() -> rx.Component:
    v, e = S.values, S.errors
    return rx.el.form(
        rx.vstack(
            rx.grid(
                text_field("Prénom", "first_name", v["first_name"], e["first_name"], required=True),
                text_field("Nom", "last_name", v["last_name"], e["last_name"], required=True),
                select_field(
                    "Profession",
                    "profession",
                    S.profession_options,
                    v["profession"],
                    e["profession"],
                    required=True,
                ),
                text_field("Spécialité", "specialty", v["specialty"], e["specialty"]),
                text_field("Numéro RPPS", "rpps", v["rpps"], e["rpps"], placeholder="11 chiffres"),
                text_field("Numéro ADELI", "adeli", v["adeli"], e["adeli"], placeholder="9 caractères"),
                text_field("Téléphone", "phone", v["phone"], e["phone"], placeholder="04 66 00 00 00"),
                text_field("E-mail", "email", v["email"], e["email"], input_type="email"),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            rx.hstack(
                rx.el.label(
                    rx.el.input(
                        type="checkbox",
                        name="accepts_new_patients",
                        default_checked=S.accepts_new_patients,
                        id="champ-accepts_new_patients",
                    ),
                    " Accepte de nouveaux patients (médecin traitant)",
                    class_name="checkbox-label",
                ),
                text_field(
                    "Places disponibles",
                    "new_patient_capacity",
                    v["new_patient_capacity"],
                    e["new_patient_capacity"],
                ),
                spacing="5",
                align="end",
                width="100%",
            ),
            _structures(),
            _communes(),
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
                rx.link(rx.button("Annuler", variant="soft", type="button"), href="/annuaire"),
                spacing="3",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=S.save,
        reset_on_submit=False,
        no_validate=True,
        key=S.form_key,
        id="formulaire-professionnel",
    )


def admin_professional_page() -> rx.Component:
    return page_frame(
        rx.cond(
            S.denied != "",
            rx.callout(S.denied, icon="shield-alert", color_scheme="red", role="alert", id="acces-refuse"),
            rx.cond(
                S.form_ready, rx.card(_form(), width="100%"), rx.center(rx.spinner(size="3"), padding="3em")
            ),
        ),
        title=rx.cond(S.editing_id != "", "Modifier un professionnel", "Nouveau professionnel"),
    )
