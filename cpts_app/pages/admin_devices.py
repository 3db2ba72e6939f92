"""/admin/appareils — enrol, revoke and re-scope the field laptops that work offline (admins only)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var

from cpts_app.components.form_field import field_error
from cpts_app.components.layout import page_frame
from cpts_app.state.admin_devices import PERMANENCE
from cpts_app.state.admin_devices import AdminDevicesState as D

STATE_COLOURS = {
    "actif": "green",
    "en attente d'inscription": "amber",
    "révoqué": "red",
    "effacé": "gray",
}


def _field(label: str, name: str, element_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=element_id, class_name="field-label"),
        control,
        field_error(D.errors[name], name),
        spacing="1",
        width="100%",
        align="start",
    )


def _select(name: str, element_id: str, options: Var, empty_label: str) -> rx.Component:
    return rx.el.select(
        rx.el.option(empty_label, value=""),
        rx.foreach(options, lambda opt: rx.el.option(opt[1], value=opt[0])),
        name=name,
        id=element_id,
        default_value=D.values[name],
        class_name="native-select",
        aria_describedby=f"erreur-{name}",
        aria_invalid=rx.cond(D.errors[name] != "", "true", "false"),
    )


def _input(name: str, element_id: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.input(
        name=name,
        id=element_id,
        default_value=D.values[name],
        width="100%",
        color_scheme=rx.cond(D.errors[name] != "", "red", "gray"),
        aria_invalid=rx.cond(D.errors[name] != "", "true", "false"),
        aria_describedby=f"erreur-{name}",
        **props,
    )


def _enrol_form() -> rx.Component:
    form = rx.el.form(
        rx.vstack(
            rx.heading("Inscrire un portable", size="4", as_="h2"),
            rx.grid(
                _field(
                    "Nom de l'appareil *",
                    "label",
                    "inscrire-libelle",
                    _input("label", "inscrire-libelle", placeholder="Médicobus – portable 1"),
                ),
                _field(
                    "Compte utilisé sur le portable *",
                    "user_id",
                    "inscrire-compte",
                    _select("user_id", "inscrire-compte", D.user_options, "— Choisir —"),
                ),
                _field(
                    "Tournée du médicobus",
                    "tour_id",
                    "inscrire-tournee",
                    _select("tour_id", "inscrire-tournee", D.tour_options, "Aucune (permanence)"),
                ),
                _field(
                    "Jours hors ligne autorisés *",
                    "lease_days",
                    "inscrire-bail",
                    _input("lease_days", "inscrire-bail", type="number", min=1, max=60, step=1),
                ),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            rx.cond(
                D.form_error != "",
                rx.callout(
                    D.form_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    id="erreur-formulaire",
                ),
            ),
            rx.button(rx.icon("laptop", size=16), "Inscrire", type="submit", id="inscrire"),
            spacing="4",
            width="100%",
        ),
        on_submit=D.enrol,
        reset_on_submit=False,
        no_validate=True,
        key=D.form_key,
    )
    return rx.card(form, width="100%")


def _code_callout() -> rx.Component:
    command = rx.code(
        "python -m mobile_sync enroll --serveur ",
        D.server_address,
        " --code ",
        D.enrolment_code,
        id="commande-inscription",
    )
    return rx.callout.root(
        rx.callout.icon(rx.icon("key-round")),
        rx.vstack(
            rx.text(
                "Code d'inscription de « ", D.enrolled_label, " » (affiché une seule fois) :", weight="bold"
            ),
            rx.code(D.enrolment_code, id="code-inscription", size="6", variant="outline"),
            rx.text("Sur le portable : ", command, " — valable 24 h, utilisable une fois."),
            rx.button(
                "J'ai noté le code", on_click=D.clear_code, variant="soft", type="button", id="fermer-code"
            ),
            spacing="2",
            align="start",
        ),
        color_scheme="teal",
        role="status",
        width="100%",
        # Leaving the page (client-side navigation) wipes the code too.
        on_unmount=D.clear_code,
    )


def _row(r) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.table.row(
        rx.table.cell(r["label"]),
        rx.table.cell(r["user"]),
        rx.table.cell(r["scope"]),
        rx.table.cell(r["lease"]),
        rx.table.cell(
            rx.badge(
                r["state"],
                color_scheme=rx.match(
                    r["state"], *[(state, colour) for state, colour in STATE_COLOURS.items()], "gray"
                ),
                class_name="etat-appareil",
            )
        ),
        rx.table.cell(r["enrolled_at"]),
        rx.table.cell(r["last_contact_at"]),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    r["scope_changeable"] == "oui",
                    rx.button(
                        "Changer de tournée",
                        on_click=D.open_scope(r["device_id"]),
                        variant="soft",
                        size="1",
                        class_name="changer-tournee",
                    ),
                ),
                rx.cond(
                    r["revocable"] == "oui",
                    rx.button(
                        "Révoquer",
                        on_click=D.open_revoke(r["device_id"]),
                        color_scheme="red",
                        variant="soft",
                        size="1",
                        class_name="revoquer",
                    ),
                ),
                spacing="2",
            )
        ),
        class_name="appareil",
    )


def _table() -> rx.Component:
    headers = ["Appareil", "Compte", "Tournée", "Hors ligne", "État", "Inscrit le", "Dernier contact", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(D.rows, _row)),
        width="100%",
        variant="surface",
        size="1",
        id="appareils",
    )


def _revoke_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Révoquer un appareil"),
            rx.dialog.description(
                "« ",
                D.revoke_label,
                " » sera refusé dès sa prochaine connexion et devra effacer ses clés et ses données.",
            ),
            rx.el.form(
                rx.vstack(
                    rx.el.label(
                        "Motif de la révocation *", html_for="revoquer-motif", class_name="field-label"
                    ),
                    rx.text_area(name="motif", id="revoquer-motif", width="100%", placeholder="ex. : vol"),
                    rx.cond(
                        D.revoke_error != "",
                        rx.text(
                            D.revoke_error, color_scheme="red", size="2", role="alert", id="erreur-motif"
                        ),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Retour", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Révoquer", type="submit", color_scheme="red", id="confirmer-revocation"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=D.confirm_revoke,
                reset_on_submit=True,
            ),
        ),
        open=D.revoke_open,
        on_open_change=D.set_revoke_open,
    )


def _scope_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Changer de tournée"),
            rx.dialog.description(
                "« ",
                D.scope_label,
                " » (actuellement : ",
                D.scope_current,
                ") effacera les données de son ancienne tournée à sa prochaine synchronisation, "
                "puis recevra celles de la nouvelle.",
            ),
            rx.el.form(
                rx.vstack(
                    rx.el.label(
                        "Nouvelle tournée *", html_for="changer-tournee-choix", class_name="field-label"
                    ),
                    rx.el.select(
                        rx.el.option("— Choisir —", value=""),
                        rx.foreach(D.tour_options, lambda opt: rx.el.option(opt[1], value=opt[0])),
                        rx.el.option("Permanence (sans tournée)", value=PERMANENCE),
                        name="tour_id",
                        id="changer-tournee-choix",
                        default_value="",
                        class_name="native-select",
                        aria_describedby="erreur-changer-tournee",
                        aria_invalid=rx.cond(D.scope_error != "", "true", "false"),
                    ),
                    rx.cond(
                        D.scope_error != "",
                        rx.text(
                            D.scope_error,
                            color_scheme="red",
                            size="2",
                            role="alert",
                            id="erreur-changer-tournee",
                        ),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Retour", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Changer de tournée", type="submit", id="confirmer-tournee"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=D.confirm_scope,
                reset_on_submit=False,
            ),
        ),
        open=D.scope_open,
        on_open_change=D.set_scope_open,
    )


def admin_devices_page() -> rx.Component:
    return page_frame(
        rx.cond(
            D.denied != "",
            rx.callout(D.denied, icon="shield-alert", color_scheme="red", role="alert", id="acces-refuse"),
            rx.cond(
                D.loaded,
                rx.vstack(
                    rx.text(
                        "Les portables du médicobus et des permanences travaillent hors ligne. "
                        "Un portable révoqué est refusé à sa prochaine connexion et doit s'effacer ; "
                        "un portable qui change de tournée efface l'ancienne à sa prochaine synchronisation.",
                        color_scheme="gray",
                    ),
                    rx.cond(D.enrolment_code != "", _code_callout()),
                    _enrol_form(),
                    rx.heading("Appareils inscrits", size="4", as_="h2"),
                    _table(),
                    _revoke_dialog(),
                    _scope_dialog(),
                    spacing="4",
                    width="100%",
                ),
                rx.center(rx.spinner(), width="100%", padding="2em"),
            ),
        ),
        title="Portables de terrain",
    )
