"""/annuaire — search the territory's professionals; /annuaire/professionnel — one card."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.components.professional_card import new_patients_badge, professional_card
from cpts_app.state.directory import DirectoryState
from cpts_app.state.professional_card import ProfessionalCardState


def _filters() -> rx.Component:
    return rx.el.form(
        rx.hstack(
            rx.input(
                name="q",
                id="recherche-nom",
                placeholder="Nom, prénom ou RPPS…",
                default_value=DirectoryState.query_text,
                width="260px",
                aria_label="Nom, prénom ou RPPS",
            ),
            rx.el.select(
                rx.el.option("Toutes les professions", value=""),
                rx.foreach(DirectoryState.profession_options, lambda o: rx.el.option(o[1], value=o[0])),
                name="profession",
                id="filtre-profession",
                aria_label="Profession",
                class_name="native-select",
            ),
            rx.el.select(
                rx.el.option("Toutes les communes", value=""),
                rx.foreach(DirectoryState.commune_options, lambda o: rx.el.option(o[1], value=o[0])),
                name="commune",
                id="filtre-commune",
                aria_label="Commune",
                class_name="native-select",
            ),
            rx.el.label(
                rx.el.input(type="checkbox", name="nouveaux_patients", id="filtre-nouveaux"),
                " Accepte de nouveaux patients",
                html_for="filtre-nouveaux",
                class_name="checkbox-label",
            ),
            rx.button(rx.icon("search", size=16), "Rechercher", type="submit", id="bouton-rechercher"),
            spacing="3",
            wrap="wrap",
            align="center",
        ),
        on_submit=DirectoryState.search,
        reset_on_submit=False,
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Précédent",
            on_click=DirectoryState.previous_page,
            disabled=DirectoryState.page <= 1,
            variant="soft",
            id="page-precedente",
        ),
        rx.text(DirectoryState.page_label, id="numero-page"),
        rx.button(
            "Suivant",
            rx.icon("chevron-right", size=16),
            on_click=DirectoryState.next_page,
            disabled=DirectoryState.page >= DirectoryState.page_count,
            variant="soft",
            id="page-suivante",
        ),
        spacing="3",
        align="center",
        justify="center",
        width="100%",
    )


def directory_page() -> rx.Component:
    return page_frame(
        rx.vstack(
            _filters(),
            rx.cond(
                DirectoryState.error != "",
                rx.callout(DirectoryState.error, icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            rx.text(DirectoryState.total_label, color_scheme="gray", id="nombre-resultats"),
            rx.grid(
                rx.foreach(DirectoryState.results, professional_card),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
                id="resultats",
            ),
            _pager(),
            spacing="4",
            width="100%",
        ),
        title="Annuaire des professionnels",
    )


def _structure_block(s: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(s["name"], weight="bold"), rx.badge(s["kind_label"], variant="soft")),
            rx.text(s["address"], " — ", s["commune"], size="2"),
            rx.cond(s["phone"] != "", rx.text("Tél. ", s["phone"], size="2")),
            rx.cond(s["email"] != "", rx.text(s["email"], size="2")),
            rx.link("Agenda de la structure", href="/agenda/structure?id=" + s["id"], size="2"),
            spacing="1",
            align="start",
        ),
        width="100%",
    )


def professional_page() -> rx.Component:
    card = ProfessionalCardState.card
    return page_frame(
        rx.cond(
            ProfessionalCardState.error != "",
            rx.callout(ProfessionalCardState.error, icon="triangle-alert", color_scheme="red", role="alert"),
            rx.cond(
                card.contains("id"),
                rx.card(
                    rx.vstack(
                        rx.hstack(
                            rx.heading(card["full_name"], size="6", id="fiche-nom"),
                            rx.badge(card["profession_label"], color_scheme="teal", size="2"),
                            align="center",
                            spacing="3",
                        ),
                        rx.cond(card["specialty"] != "", rx.text("Spécialité : ", card["specialty"])),
                        rx.cond(card["rpps"] != "", rx.text("RPPS : ", rx.code(card["rpps"]))),
                        rx.cond(card["adeli"] != "", rx.text("ADELI : ", rx.code(card["adeli"]))),
                        rx.cond(card["phone"] != "", rx.text("Téléphone : ", card["phone"])),
                        rx.cond(card["email"] != "", rx.text("E-mail : ", card["email"])),
                        new_patients_badge(card["accepts_new_patients"].to(bool), card["capacity"].to(str)),
                        rx.heading("Lieux d'exercice", size="4", margin_top="0.5em"),
                        rx.foreach(ProfessionalCardState.structures, _structure_block),
                        rx.heading("Communes desservies", size="4", margin_top="0.5em"),
                        rx.text(ProfessionalCardState.communes.join(", "), id="fiche-communes"),
                        rx.hstack(
                            rx.link(
                                rx.button(rx.icon("calendar-days", size=16), "Voir l'agenda", variant="soft"),
                                href="/agenda/professionnel?id=" + card["id"].to(str),
                            ),
                            rx.cond(
                                ProfessionalCardState.can_manage_availability,
                                rx.link(
                                    rx.button(
                                        rx.icon("calendar-cog", size=16), "Disponibilités", variant="soft"
                                    ),
                                    href="/agenda/disponibilites?pro=" + card["id"].to(str),
                                ),
                            ),
                            spacing="2",
                        ),
                        rx.cond(
                            ProfessionalCardState.can_manage_directory,
                            rx.link(
                                rx.button(rx.icon("pencil", size=16), "Modifier", variant="soft"),
                                href="/admin/professionnels/modifier?id=" + card["id"].to(str),
                            ),
                        ),
                        spacing="2",
                        align="start",
                    ),
                    width="100%",
                    id="fiche-professionnel",
                ),
                rx.spinner(),
            ),
        ),
        rx.link("← Retour à l'annuaire", href="/annuaire", margin_top="1em", display="block"),
        title="Fiche professionnel",
    )
