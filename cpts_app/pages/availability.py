"""/agenda/disponibilites — weekly availability rules, absences, and publication of slots."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, select_field, text_field
from cpts_app.components.layout import page_frame
from cpts_app.state.availability import AvailabilityState as S


def _schedules() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.foreach(
                S.schedules,
                lambda sch: rx.button(
                    sch["label"],
                    on_click=S.choose_schedule(sch["id"]),
                    variant=rx.cond(S.schedule_id.to_string() == sch["id"], "solid", "soft"),
                ),
            ),
            wrap="wrap",
            spacing="2",
        ),
        rx.el.form(
            rx.hstack(
                rx.el.select(
                    rx.el.option("Lieu d'exercice…", value=""),
                    rx.foreach(S.structure_options, lambda o: rx.el.option(o[1], value=o[0])),
                    name="structure",
                    class_name="native-select",
                    aria_label="Lieu d'exercice",
                ),
                rx.button(rx.icon("plus", size=16), "Nouvel agenda", type="submit", variant="soft"),
            ),
            on_submit=S.create_schedule,
            reset_on_submit=True,
        ),
        spacing="2",
    )


def _rules() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("Jour", "Horaires", "Durée", "Type", "Public", "Validité", "")
                ]
            )
        ),
        rx.table.body(
            rx.foreach(
                S.rules,
                lambda r: rx.table.row(
                    rx.table.cell(r["day"]),
                    rx.table.cell(r["hours"]),
                    rx.table.cell(r["duration"]),
                    rx.table.cell(r["kind"]),
                    rx.table.cell(r["audience"]),
                    rx.table.cell(r["validity"]),
                    rx.table.cell(
                        rx.button(
                            "Supprimer",
                            size="1",
                            variant="soft",
                            color_scheme="red",
                            on_click=S.remove_rule(r["id"].to(int)),
                        )
                    ),
                ),
            )
        ),
        width="100%",
        variant="surface",
        id="regles-disponibilite",
    )


def _rule_form() -> rx.Component:
    e = S.errors
    return rx.el.form(
        rx.vstack(
            rx.heading("Ajouter une disponibilité hebdomadaire", size="4"),
            rx.grid(
                select_field("Jour", "weekday", S.weekday_options, "0", e["weekday"], required=True),
                text_field("Début", "start_time", "08:30", e["start_time"], required=True, input_type="time"),
                text_field("Fin", "end_time", "12:00", e["end_time"], required=True, input_type="time"),
                text_field(
                    "Durée d'un créneau (min)", "slot_minutes", "15", e["slot_minutes"], required=True
                ),
                select_field("Type", "kind", S.kind_options, "consultation", e["kind"], required=True),
                text_field(
                    "À partir du", "valid_from", S.today, e["valid_from"], required=True, input_type="date"
                ),
                text_field("Jusqu'au (facultatif)", "valid_until", "", e["valid_until"], input_type="date"),
                columns=rx.breakpoints(initial="1", md="3"),
                spacing="3",
                width="100%",
            ),
            rx.text("Qui peut voir et réserver ces créneaux ?", class_name="field-label"),
            rx.hstack(
                rx.foreach(
                    S.audience_options,
                    lambda a: rx.el.label(
                        rx.el.input(
                            type="checkbox",
                            name="audience_" + a[0],
                            default_checked=(a[0] == "PRO") | (a[0] == "CPTS"),
                        ),
                        " ",
                        a[1],
                        class_name="checkbox-label",
                    ),
                ),
                spacing="4",
                wrap="wrap",
            ),
            field_error(e["audience"], "audience"),
            rx.el.label(
                rx.el.input(type="checkbox", name="skip_public_holidays", default_checked=True),
                " Fermé les jours fériés",
                class_name="checkbox-label",
            ),
            rx.cond(
                e["form"] != "",
                rx.callout(e["form"], icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            rx.button(
                rx.icon("calendar-plus", size=16),
                "Enregistrer et publier 8 semaines",
                type="submit",
                id="publier-disponibilite",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.add_rule,
        reset_on_submit=False,
        no_validate=True,
        key=S.form_key,
    )


def _absence_form() -> rx.Component:
    e = S.exception_errors
    return rx.el.form(
        rx.vstack(
            rx.heading("Déclarer une absence", size="4"),
            rx.grid(
                text_field("Du", "starts_at", "", e["starts_at"], required=True, input_type="datetime-local"),
                text_field("Au", "ends_at", "", e["ends_at"], required=True, input_type="datetime-local"),
                text_field("Motif", "reason", "", e["reason"], placeholder="Congés, formation…"),
                columns=rx.breakpoints(initial="1", md="3"),
                spacing="3",
                width="100%",
            ),
            rx.cond(
                e["form"] != "",
                rx.callout(e["form"], icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            rx.button("Enregistrer l'absence", type="submit", variant="soft"),
            spacing="3",
            width="100%",
        ),
        on_submit=S.add_absence,
        reset_on_submit=True,
        no_validate=True,
    )


def _calendar_feed() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Abonnement calendrier (iCalendar)", size="4"),
            rx.text(
                "Un lien secret pour voir ses rendez-vous dans son agenda habituel (heures seulement, "
                "sans nom de patient). Créer un nouveau lien révoque le précédent.",
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                S.feed_url != "",
                rx.vstack(
                    rx.code(S.feed_url, id="lien-ical", style={"word_break": "break-all"}),
                    rx.text(
                        "Copiez ce lien maintenant : il ne sera plus affiché.",
                        size="1",
                        color_scheme="orange",
                    ),
                    spacing="1",
                ),
            ),
            rx.hstack(
                rx.button(
                    rx.icon("link", size=16),
                    "Créer un lien d'abonnement",
                    on_click=S.create_feed,
                    variant="soft",
                    id="creer-lien-ical",
                ),
                rx.button(
                    "Révoquer",
                    on_click=S.revoke_feed,
                    variant="soft",
                    color_scheme="red",
                    id="revoquer-lien-ical",
                ),
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def availability_page() -> rx.Component:
    return page_frame(
        rx.vstack(
            rx.cond(
                S.error != "", rx.callout(S.error, icon="triangle-alert", color_scheme="red", role="alert")
            ),
            rx.cond(
                S.message != "", rx.callout(S.message, icon="check", color_scheme="green", id="message-dispo")
            ),
            rx.cond(
                S.professional_id > 0,
                rx.vstack(
                    rx.heading(S.professional_name, size="5"),
                    _schedules(),
                    rx.cond(
                        S.schedule_id > 0,
                        rx.vstack(
                            _rules(),
                            rx.card(_rule_form(), width="100%"),
                            rx.card(_absence_form(), width="100%"),
                            _calendar_feed(),
                            spacing="4",
                            width="100%",
                        ),
                        rx.text("Créez d'abord un agenda pour un lieu d'exercice.", color_scheme="gray"),
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        title="Disponibilités",
    )
