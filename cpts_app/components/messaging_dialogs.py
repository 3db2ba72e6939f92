"""Dialogs of the messaging screen: a new private conversation (everyone); a care team, a team
channel and a broadcast (coordinators); adding a member to a care team or a channel."""

from __future__ import annotations

import reflex as rx

from cpts_app.state.messaging import MessagingState


def _error() -> rx.Component:
    return rx.cond(
        MessagingState.dialog_error != "",
        rx.text(
            MessagingState.dialog_error,
            color_scheme="red",
            size="2",
            role="alert",
            class_name="erreur-dialogue",
        ),
    )


def _people_search(action_label: str, on_pick) -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="personne",
                    placeholder="Nom de la personne",
                    width="100%",
                    aria_label="Nom de la personne",
                    class_name="recherche-personne",
                ),
                rx.button("Chercher", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=MessagingState.find_users,
            reset_on_submit=False,
            width="100%",
        ),
        _error(),
        rx.foreach(
            MessagingState.candidates,
            lambda c: rx.hstack(
                rx.vstack(
                    rx.text(c["name"], size="2", weight="bold"),
                    rx.text(c["detail"], size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                ),
                rx.spacer(),
                rx.button(
                    action_label, size="1", on_click=on_pick(c["user_id"].to(int)), class_name="choisir"
                ),
                width="100%",
                align="center",
            ),
        ),
        spacing="2",
        width="100%",
    )


def _dialog(trigger_label: str, icon: str, title: str, *body: rx.Component, on_open=None) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon(icon, size=14),
                trigger_label,
                size="1",
                variant="soft",
                on_click=on_open if on_open is not None else MessagingState.clear_dialog,
            )
        ),
        rx.dialog.content(
            rx.dialog.title(title),
            *body,
            rx.hstack(
                rx.dialog.close(rx.button("Fermer", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="1em",
            ),
            max_width="560px",
        ),
    )


def new_conversation_dialogs() -> rx.Component:
    direct = _dialog(
        "Message privé",
        "user-plus",
        "Nouvelle conversation privée",
        _people_search("Écrire", MessagingState.open_direct),
    )
    care_team = _dialog(
        "Équipe de soins",
        "heart-handshake",
        "Ouvrir l'équipe de soins d'un patient",
        rx.form(
            rx.hstack(
                rx.input(
                    name="patient",
                    placeholder="Nom du patient ou date de naissance",
                    width="100%",
                    aria_label="Patient",
                ),
                rx.button("Chercher", type="submit", variant="soft"),
                width="100%",
            ),
            on_submit=MessagingState.find_patients,
            reset_on_submit=False,
        ),
        _error(),
        rx.foreach(
            MessagingState.patients,
            lambda p: rx.hstack(
                rx.vstack(
                    rx.text(p["name"], size="2", weight="bold"),
                    rx.text(p["detail"], size="1"),
                    spacing="0",
                    align="start",
                ),
                rx.spacer(),
                rx.button(
                    "Ouvrir l'équipe", size="1", on_click=MessagingState.open_care_team(p["id"].to(int))
                ),
                width="100%",
                align="center",
            ),
        ),
    )
    channel = _dialog(
        "Canal",
        "hash",
        "Nouveau canal d'équipe",
        rx.form(
            rx.vstack(
                rx.input(
                    name="titre",
                    placeholder="Ex. : IDE de Beaucaire",
                    width="100%",
                    aria_label="Nom du canal",
                ),
                _error(),
                rx.button("Créer le canal", type="submit"),
                spacing="2",
            ),
            on_submit=MessagingState.create_channel,
            reset_on_submit=False,
        ),
    )
    broadcast = _dialog(
        "Annonce",
        "megaphone",
        "Annonce à une profession, une commune ou une structure",
        rx.form(
            rx.vstack(
                rx.el.select(
                    rx.el.option("— Destinataires —", value=""),
                    rx.foreach(MessagingState.broadcast_targets, lambda t: rx.el.option(t[1], value=t[0])),
                    name="cible",
                    aria_label="Destinataires",
                    class_name="native-select",
                ),
                rx.input(name="titre", placeholder="Objet de l'annonce", width="100%", aria_label="Objet"),
                rx.text_area(
                    name="texte",
                    placeholder="Texte de l'annonce",
                    rows="4",
                    width="100%",
                    aria_label="Texte de l'annonce",
                ),
                _error(),
                rx.button("Envoyer l'annonce", type="submit"),
                spacing="2",
                width="100%",
            ),
            on_submit=MessagingState.send_broadcast,
            reset_on_submit=False,
        ),
        on_open=MessagingState.load_broadcast_targets,
    )
    return rx.hstack(
        direct,
        rx.cond(MessagingState.can_coordinate_messaging, rx.fragment(care_team, channel, broadcast)),
        wrap="wrap",
        spacing="2",
    )


def add_member_dialog() -> rx.Component:
    return _dialog(
        "Ajouter",
        "user-plus",
        "Ajouter un membre",
        rx.el.select(
            rx.el.option("— Rôle dans l'équipe —", value=""),
            rx.foreach(MessagingState.role_options, lambda r: rx.el.option(r, value=r)),
            on_change=MessagingState.set_new_role,
            aria_label="Rôle dans l'équipe",
            class_name="native-select",
            id="role-membre",
        ),
        _people_search("Ajouter", MessagingState.add_member),
    )
