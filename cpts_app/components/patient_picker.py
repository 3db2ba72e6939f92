"""Search a patient, or create one with the INS traits (``PatientPickerState``)."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import select_field, text_field
from cpts_app.state.patient_picker import PatientPickerState as P

SEX_OPTIONS = [["F", "Féminin"], ["M", "Masculin"], ["I", "Indéterminé"]]
FLAG_LABELS = [
    ("ald", "ALD"),
    ("css", "CSS"),
    ("ame", "AME"),
    ("handicap", "Situation de handicap"),
    ("without_attending_doctor", "Sans médecin traitant"),
]


def _search() -> rx.Component:
    return rx.vstack(
        rx.el.form(
            rx.hstack(
                rx.input(
                    name="patient_recherche",
                    id="patient-recherche",
                    placeholder="Nom, prénom ou date de naissance (jj/mm/aaaa)",
                    width="100%",
                    aria_label="Rechercher un patient",
                ),
                rx.button(rx.icon("search", size=16), "Chercher", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=P.search,
            reset_on_submit=False,
            width="100%",
        ),
        rx.foreach(
            P.results,
            lambda p: rx.button(
                p["label"],
                on_click=P.choose(p["id"], p["label"]),
                variant="outline",
                width="100%",
                justify="start",
                type="button",
                class_name="patient-trouve",
            ),
        ),
        rx.cond(
            P.searched & (P.results.length() == 0),
            rx.text("Aucun patient trouvé.", size="2", color_scheme="gray"),
        ),
        rx.button(
            rx.icon("user-plus", size=16),
            "Nouveau patient",
            on_click=P.start_creating,
            variant="ghost",
            type="button",
            id="nouveau-patient",
        ),
        width="100%",
        spacing="2",
    )


def _duplicates() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("users")),
        rx.vstack(
            rx.text("Ce patient existe peut-être déjà :", weight="bold"),
            rx.foreach(
                P.duplicates,
                lambda d: rx.hstack(
                    rx.vstack(rx.text(d["label"], weight="bold", size="2"), rx.text(d["detail"], size="1")),
                    rx.spacer(),
                    rx.button(
                        "C'est ce patient", size="1", type="button", on_click=P.choose(d["id"], d["label"])
                    ),
                    width="100%",
                    class_name="doublon-probable",
                ),
            ),
            rx.button(
                "Non, c'est une autre personne : créer",
                size="1",
                variant="soft",
                color_scheme="orange",
                type="button",
                on_click=P.create_anyway,
                id="creer-quand-meme",
            ),
            spacing="2",
            width="100%",
        ),
        color_scheme="orange",
        width="100%",
        id="doublons-probables",
    )


def _create_form() -> rx.Component:
    e = P.errors
    return rx.el.form(
        rx.vstack(
            rx.grid(
                text_field("Nom de naissance", "birth_name", "", e["birth_name"], required=True),
                text_field("Prénom(s)", "first_names", "", e["first_names"], required=True),
                text_field(
                    "Date de naissance", "birth_date", "", e["birth_date"], required=True, input_type="date"
                ),
                select_field("Sexe", "sex", SEX_OPTIONS, "", e["sex"], required=True),
                text_field("Téléphone", "phone", "", e["phone"]),
                select_field("Commune", "commune_id", P.commune_options, "", e["commune_id"]),
                text_field("Matricule INS (NIR)", "ins_nir", "", e["ins_nir"], placeholder="15 caractères"),
                text_field("Lieu de naissance (code INSEE)", "birthplace_insee", "", e["birthplace_insee"]),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            rx.flex(
                *[
                    rx.el.label(
                        rx.el.input(type="checkbox", name=name), " ", label, class_name="checkbox-label"
                    )
                    for name, label in FLAG_LABELS
                ],
                wrap="wrap",
                gap="2 4",
            ),
            rx.cond(e["form"] != "", rx.text(e["form"], color_scheme="red", size="2", role="alert")),
            rx.button("Enregistrer le patient", type="submit", variant="soft", id="enregistrer-patient"),
            spacing="3",
            width="100%",
        ),
        on_submit=P.create,
        reset_on_submit=False,
        no_validate=True,
        width="100%",
    )


def patient_picker() -> rx.Component:
    return rx.vstack(
        rx.cond(
            P.patient_id > 0,
            rx.hstack(
                rx.badge(P.patient_label, size="2", color_scheme="teal", id="patient-selectionne"),
                rx.button("Changer", on_click=P.clear, variant="ghost", size="1", type="button"),
                align="center",
            ),
            rx.cond(
                P.creating,
                rx.vstack(
                    rx.cond(P.duplicates.length() > 0, _duplicates()),
                    _create_form(),
                    rx.button(
                        "Chercher plutôt un patient existant",
                        on_click=P.clear,
                        variant="ghost",
                        size="1",
                        type="button",
                    ),
                    width="100%",
                    spacing="2",
                ),
                _search(),
            ),
        ),
        rx.cond(P.error != "", rx.text(P.error, color_scheme="red", size="2")),
        width="100%",
        spacing="2",
    )
