"""Orientation pages: a professional's referral and « Mes demandes »; the coordinator's queue and
one referral's follow-up until the patient has care."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.form_field import field_error, select_field
from cpts_app.components.layout import page_frame
from cpts_app.components.patient_picker import patient_picker
from cpts_app.state.agenda_channel import on_orientation_change
from cpts_app.state.referral_detail import ReferralDetailState as D
from cpts_app.state.referral_queue import ReferralQueueState as Q
from cpts_app.state.referrals import MyReferralsState as M
from cpts_app.state.referrals import NewReferralState as N


def _status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(
            status,
            ("orientee", "green"),
            ("cloturee", "gray"),
            ("injoignable", "orange"),
            ("refusee", "red"),
            ("a_qualifier", "purple"),
            "blue",
        ),
        class_name="statut-demande",
    )


def new_referral_page() -> rx.Component:
    e = N.errors
    return page_frame(
        rx.card(
            rx.vstack(
                rx.heading("Patient", size="4"),
                patient_picker(),
                field_error(e["patient_id"], "patient_id"),
                rx.el.form(
                    rx.vstack(
                        rx.grid(
                            select_field("Motif", "reason", N.reason_options, "", e["reason"], required=True),
                            select_field(
                                "Urgence", "urgency", N.urgency_options, "", e["urgency"], required=True
                            ),
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="3",
                            width="100%",
                        ),
                        rx.el.label("Précisions", html_for="free_text", class_name="field-label"),
                        rx.text_area(
                            name="free_text",
                            id="free_text",
                            width="100%",
                            placeholder="Traitement, situation, disponibilités du patient…",
                        ),
                        rx.el.label(
                            rx.el.input(type="checkbox", name="consent_to_contact", id="consentement"),
                            " Le patient accepte d'être contacté par la coordination",
                            class_name="checkbox-label",
                        ),
                        field_error(e["consent_to_contact"], "consent_to_contact"),
                        rx.cond(
                            e["form"] != "",
                            rx.callout(
                                e["form"],
                                icon="triangle-alert",
                                color_scheme="red",
                                role="alert",
                                id="erreur-demande",
                            ),
                        ),
                        rx.button(
                            rx.icon("send", size=16),
                            "Envoyer à la coordination",
                            type="submit",
                            id="envoyer-demande",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=N.submit,
                    reset_on_submit=False,
                    no_validate=True,
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        title="Orienter un patient sans médecin traitant",
    )


def my_referrals_page() -> rx.Component:
    headers = ["Reçue le", "Patient", "Motif", "Urgence", "Statut"]
    return page_frame(
        on_orientation_change(M.refresh),
        rx.vstack(
            rx.link(rx.button(rx.icon("plus", size=16), "Nouvelle demande"), href="/orientation/nouvelle"),
            rx.cond(
                M.error != "", rx.callout(M.error, icon="triangle-alert", color_scheme="red", role="alert")
            ),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(
                    rx.foreach(
                        M.items,
                        lambda i: rx.table.row(
                            rx.table.cell(i["received_at"]),
                            rx.table.cell(i["patient_label"]),
                            rx.table.cell(i["reason_label"]),
                            rx.table.cell(i["urgency_label"]),
                            rx.table.cell(_status_badge(i["status"], i["status_label"])),
                            class_name="ma-demande",
                        ),
                    )
                ),
                width="100%",
                variant="surface",
                id="mes-demandes",
            ),
            spacing="3",
            width="100%",
        ),
        title="Mes demandes d'orientation",
    )


def _gauge() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Capacité mensuelle du pôle", weight="bold"),
                rx.spacer(),
                rx.text(
                    Q.oriented_this_month,
                    " / ",
                    Q.monthly_capacity,
                    " nouveaux patients",
                    id="jauge-capacite",
                ),
                width="100%",
            ),
            rx.progress(value=Q.gauge_percent, width="100%"),
            width="100%",
        ),
        width="100%",
    )


def _queue_row(i: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.badge(i["priority"], color_scheme="red", variant="solid"), title=i["priority_parts"]
        ),
        rx.table.cell(
            rx.vstack(
                rx.link(i["patient_label"], href="/orientation/demande?id=" + i["id"].to(str), weight="bold"),
                rx.text(i["age"], " — ", i["commune_name"], size="1"),
                rx.text(
                    i["priority_parts"], size="1", color_scheme="gray", class_name="explication-priorite"
                ),
                spacing="0",
            )
        ),
        rx.table.cell(i["reason_label"]),
        rx.table.cell(i["urgency_label"]),
        rx.table.cell(i["source_label"], rx.text(i["referrer"], size="1", color_scheme="gray")),
        rx.table.cell(i["received_at"]),
        rx.table.cell(
            _status_badge(i["status"], i["status_label"]),
            rx.text(
                i["first_contact_due"],
                size="1",
                color=rx.cond(i["overdue"].to(bool), "var(--red-11)", "inherit"),
            ),
        ),
        class_name="ligne-file",
    )


def queue_page() -> rx.Component:
    headers = ["Priorité", "Patient", "Motif", "Urgence", "Origine", "Reçue", "Statut et échéance"]
    return page_frame(
        on_orientation_change(Q.refresh),
        rx.vstack(
            _gauge(),
            rx.el.form(
                rx.hstack(
                    rx.el.select(
                        rx.el.option("Demandes ouvertes", value=""),
                        rx.foreach(Q.status_options, lambda o: rx.el.option(o[1], value=o[0])),
                        name="statut",
                        class_name="native-select",
                        aria_label="Statut",
                    ),
                    rx.el.select(
                        rx.el.option("Toutes les communes", value=""),
                        rx.foreach(Q.commune_options, lambda o: rx.el.option(o[1], value=o[0])),
                        name="commune",
                        class_name="native-select",
                        aria_label="Commune",
                    ),
                    rx.el.select(
                        rx.el.option("Tous les motifs", value=""),
                        rx.foreach(Q.reason_options, lambda o: rx.el.option(o[1], value=o[0])),
                        name="motif",
                        class_name="native-select",
                        aria_label="Motif",
                    ),
                    rx.button(rx.icon("filter", size=16), "Filtrer", type="submit"),
                    wrap="wrap",
                    spacing="2",
                ),
                on_submit=Q.filter,
                reset_on_submit=False,
            ),
            rx.cond(
                Q.error != "", rx.callout(Q.error, icon="triangle-alert", color_scheme="red", role="alert")
            ),
            rx.text(Q.total, " demandes", color_scheme="gray"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(Q.items, _queue_row)),
                width="100%",
                variant="surface",
                id="file-orientation",
            ),
            rx.hstack(
                rx.button("Précédent", on_click=Q.change_page(-1), disabled=Q.page <= 1, variant="soft"),
                rx.text("Page ", Q.page, " sur ", Q.page_count),
                rx.button(
                    "Suivant", on_click=Q.change_page(1), disabled=Q.page >= Q.page_count, variant="soft"
                ),
                justify="center",
                width="100%",
                align="center",
            ),
            spacing="3",
            width="100%",
        ),
        title="File d'orientation",
    )


def _identity_block() -> rx.Component:
    i, d = D.item, D.detail
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(i["patient_label"], size="5", id="demande-patient"),
                _status_badge(i["status"], i["status_label"]),
                rx.badge("Priorité ", i["priority"], color_scheme="red"),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(i["priority_parts"], size="2", color_scheme="gray"),
            rx.text(
                i["reason_label"],
                " — ",
                i["urgency_label"],
                " — ",
                i["source_label"],
                " (",
                i["referrer"],
                ")",
            ),
            rx.text("Reçue le ", i["received_at"], " — ", i["first_contact_due"], size="2"),
            rx.cond(d["contact_phone"] != "", rx.text("Téléphone : ", d["contact_phone"], weight="bold")),
            rx.text("Consentement à être contacté : ", d["consent"], size="2"),
            rx.cond(d["free_text"] != "", rx.blockquote(d["free_text"], size="2")),
            rx.cond(
                d["appointment"] != "",
                rx.callout(d["appointment"], icon="calendar-check", color_scheme="green"),
            ),
            rx.cond(
                d["doctor"] != "",
                rx.callout(
                    "Médecin traitant : " + d["doctor"].to(str), icon="stethoscope", color_scheme="green"
                ),
            ),
            rx.cond(d["status_reason"] != "", rx.text("Motif : ", d["status_reason"], size="2")),
            spacing="2",
            align="start",
            width="100%",
        ),
        width="100%",
    )


def _email_block() -> rx.Component:
    d = D.detail
    return rx.cond(
        (d["email_text"] != "") | (d["email_error"] != ""),
        rx.card(
            rx.vstack(
                rx.heading("Message reçu", size="4"),
                rx.cond(d["email_error"] != "", rx.text(d["email_error"], color_scheme="red")),
                rx.el.pre(d["email_text"], style={"white_space": "pre-wrap", "font_size": "13px"}),
                rx.cond(d["attachments"] != "", rx.text("Pièces jointes : ", d["attachments"], size="1")),
                width="100%",
            ),
            width="100%",
        ),
    )


def _qualify_block() -> rx.Component:
    return rx.cond(
        D.item["status"] == "a_qualifier",
        rx.card(
            rx.vstack(
                rx.heading("Qualifier : rattacher au bon patient", size="4"),
                rx.foreach(
                    D.duplicates,
                    lambda c: rx.hstack(
                        rx.text(c["label"], weight="bold"),
                        rx.text(c["reasons"], size="1"),
                        rx.spacer(),
                        rx.button("C'est ce patient", size="1", on_click=D.qualify_with(c["id"])),
                        width="100%",
                    ),
                ),
                patient_picker(),
                rx.button(
                    "Rattacher le patient choisi",
                    on_click=D.qualify_with_picked,
                    variant="soft",
                    id="rattacher-patient",
                ),
                width="100%",
                spacing="2",
            ),
            width="100%",
        ),
    )


def _contact_block() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Tentatives de contact", size="4"),
            rx.foreach(
                D.attempts,
                lambda a: rx.text(
                    a["at"],
                    " — ",
                    a["channel_label"],
                    " : ",
                    a["outcome_label"],
                    " ",
                    a["note"],
                    " (",
                    a["by"],
                    ")",
                    size="2",
                ),
            ),
            rx.el.form(
                rx.hstack(
                    rx.el.select(
                        rx.foreach(D.channel_options, lambda o: rx.el.option(o[1], value=o[0])),
                        name="canal",
                        class_name="native-select",
                        aria_label="Canal",
                        id="canal-contact",
                    ),
                    rx.el.select(
                        rx.foreach(D.outcome_options, lambda o: rx.el.option(o[1], value=o[0])),
                        name="resultat",
                        class_name="native-select",
                        aria_label="Résultat",
                        id="resultat-contact",
                    ),
                    rx.input(name="note", placeholder="Note", aria_label="Note"),
                    rx.button("Enregistrer", type="submit", variant="soft", id="enregistrer-contact"),
                    wrap="wrap",
                    spacing="2",
                ),
                on_submit=D.add_attempt,
                reset_on_submit=True,
            ),
            width="100%",
            spacing="2",
        ),
        width="100%",
    )


def _orient_block() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Orienter", size="4"),
            rx.hstack(
                rx.button(
                    "Créneau dans la demi-journée",
                    on_click=D.find_slots("half_day"),
                    id="chercher-demi-journee",
                ),
                rx.button("Aujourd'hui", on_click=D.find_slots("today"), variant="soft"),
                rx.button("48 heures", on_click=D.find_slots("48h"), variant="soft", id="chercher-48h"),
                rx.button(
                    "Trouver un médecin traitant",
                    on_click=D.find_doctors,
                    variant="soft",
                    id="chercher-medecin-traitant",
                ),
                wrap="wrap",
                spacing="2",
            ),
            rx.foreach(
                D.offers,
                lambda o: rx.hstack(
                    rx.text(o["when"], weight="bold"),
                    rx.text(o["who"], size="2"),
                    rx.badge(o["kind"], variant="soft"),
                    rx.spacer(),
                    rx.button("Réserver", size="1", on_click=D.book(o["slot_id"].to(int))),
                    width="100%",
                    class_name="creneau-orientation",
                ),
            ),
            rx.foreach(
                D.doctors,
                lambda doc: rx.hstack(
                    rx.text(doc["name"], weight="bold"),
                    rx.text(doc["where"], size="2"),
                    rx.badge(doc["capacity"], " places", color_scheme="green"),
                    rx.spacer(),
                    rx.button("Désigner", size="1", on_click=D.choose_doctor(doc["id"].to(int))),
                    width="100%",
                    class_name="medecin-propose",
                ),
            ),
            rx.el.form(
                rx.hstack(
                    rx.el.select(
                        rx.foreach(D.close_options, lambda o: rx.el.option(o[1], value=o[0])),
                        name="statut",
                        class_name="native-select",
                        aria_label="Clôture",
                    ),
                    rx.input(name="motif", placeholder="Motif (obligatoire)", aria_label="Motif de clôture"),
                    rx.button("Clore la demande", type="submit", variant="soft", color_scheme="gray"),
                    wrap="wrap",
                    spacing="2",
                ),
                on_submit=D.close,
                reset_on_submit=True,
            ),
            width="100%",
            spacing="3",
        ),
        width="100%",
    )


def referral_detail_page() -> rx.Component:
    return page_frame(
        on_orientation_change(D.refresh),
        rx.cond(
            D.error != "",
            rx.callout(D.error, icon="triangle-alert", color_scheme="red", role="alert"),
            rx.vstack(
                rx.cond(
                    D.action_error != "",
                    rx.callout(
                        D.action_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        role="alert",
                        id="erreur-action",
                    ),
                ),
                _identity_block(),
                _email_block(),
                _qualify_block(),
                _contact_block(),
                _orient_block(),
                rx.card(
                    rx.vstack(
                        rx.heading("Historique", size="4"),
                        rx.foreach(
                            D.events,
                            lambda ev: rx.text(
                                ev["at"],
                                " — ",
                                ev["from_label"],
                                " → ",
                                ev["to_label"],
                                " ",
                                ev["reason"],
                                " (",
                                ev["by"],
                                ")",
                                size="2",
                            ),
                        ),
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.link("← Retour à la file", href="/orientation/file"),
                spacing="3",
                width="100%",
            ),
        ),
        title="Demande d'orientation",
    )
