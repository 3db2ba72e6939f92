"""/messagerie: the user's threads, one open thread with its care team, the composer, the search.

Messages are rendered from spans (text, link, mention…) into text components: no HTML from a
message ever reaches the page.
"""

from __future__ import annotations

import reflex as rx

from cpts_app.components.layout import page_frame
from cpts_app.components.messaging_dialogs import add_member_dialog, new_conversation_dialogs
from cpts_app.state.messaging import MessagingState

KIND_ICONS = {"patient": "heart-handshake", "channel": "hash", "direct": "user", "broadcast": "megaphone"}


def _span(span: rx.Var) -> rx.Component:
    return rx.match(
        span["kind"],
        ("strong", rx.text.strong(span["text"])),
        ("em", rx.text.em(span["text"])),
        ("code", rx.code(span["text"], size="2")),
        (
            "link",
            rx.link(span["text"], href=span["href"], is_external=True, rel="noopener noreferrer nofollow"),
        ),
        ("mention", rx.text(span["text"], as_="span", weight="bold", color=rx.color("teal", 11))),
        ("break", rx.el.br()),
        rx.text(span["text"], as_="span"),
    )


def _block(block: rx.Var) -> rx.Component:
    spans = rx.foreach(block["spans"].to(list[dict[str, str]]), _span)
    return rx.cond(
        block["kind"] == "paragraph",
        rx.text(spans, as_="p", size="2", white_space="pre-wrap"),
        rx.hstack(
            rx.text(rx.cond(block["kind"] == "ordered", block["number"], "•"), size="2", min_width="1.2em"),
            rx.text(spans, as_="span", size="2"),
            spacing="1",
            padding_left="0.5em",
            align="start",
        ),
    )


def _attachment(item: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon(rx.cond(item["is_image"], "image", "file-text"), size=16),
        rx.link(item["name"], href=item["href"], is_external=True, class_name="piece-jointe"),
        rx.text(item["size"], size="1", color_scheme="gray"),
        spacing="2",
        align="center",
    )


def _delete_button(row: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                aria_label="Supprimer ce message",
                class_name="supprimer-message",
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Supprimer ce message ?"),
            rx.alert_dialog.description(
                "Le texte et les pièces jointes seront effacés pour tous ; la suppression reste "
                "inscrite au journal d'audit."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Annuler", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Supprimer",
                        color_scheme="red",
                        on_click=MessagingState.delete_message(row["id"].to(int)),
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
        ),
    )


def _message(row: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(row["author"], weight="bold", size="2"),
            rx.text(row["when"], size="1", color_scheme="gray"),
            rx.cond(row["mentions_me"], rx.badge("vous êtes mentionné(e)", color_scheme="orange", size="1")),
            rx.spacer(),
            rx.cond(row["can_delete"], _delete_button(row)),
            align="center",
            spacing="2",
        ),
        rx.cond(
            row["deleted"],
            rx.text(
                row["tombstone"], size="2", color_scheme="gray", font_style="italic", class_name="tombstone"
            ),
            rx.vstack(
                rx.foreach(row["blocks"].to(list[dict]), _block),
                rx.foreach(row["attachments"].to(list[dict]), _attachment),
                spacing="1",
                align="start",
                class_name="corps-message",
            ),
        ),
        rx.cond(
            row["mine"] & (row["read_by"] != ""),
            rx.text("Lu par " + row["read_by"].to(str), size="1", color_scheme="gray", class_name="lu-par"),
        ),
        id="message-" + row["id"].to_string(),
        class_name="message",
        padding="0.6em 0.8em",
        border_radius="8px",
        background_color=rx.cond(row["mine"], rx.color("teal", 2), rx.color("gray", 1)),
        border=f"1px solid {rx.color('gray', 4)}",
        width="100%",
    )


def _thread_link(item: rx.Var) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon(
                rx.match(item["kind"], *[(k, v) for k, v in KIND_ICONS.items()], "message-circle").to(str),
                size=16,
            ),
            rx.vstack(
                rx.text(
                    item["title"], weight=rx.cond(item["unread"].to(int) > 0, "bold", "regular"), size="2"
                ),
                rx.text(item["subtitle"], size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            rx.spacer(),
            rx.cond(
                item["unread"].to(int) > 0,
                rx.badge(
                    item["unread"],
                    color_scheme=rx.cond(item["mentions"].to(int) > 0, "red", "teal"),
                    variant="solid",
                    radius="full",
                    class_name="non-lus-fil",
                ),
            ),
            rx.cond(item["left"], rx.badge("quitté", color_scheme="gray", size="1")),
            align="center",
            spacing="2",
            width="100%",
        ),
        href=item["href"],
        underline="none",
        color_scheme="gray",
        high_contrast=True,
        class_name="fil",
        padding="0.5em",
        border_radius="6px",
        background_color=rx.cond(item["selected"], rx.color("teal", 3), "transparent"),
        display="block",
    )


def _search() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="recherche",
                    id="recherche-messages",
                    placeholder="Rechercher dans mes messages",
                    width="100%",
                    aria_label="Rechercher dans mes messages",
                ),
                rx.icon_button(rx.icon("search", size=16), type="submit", aria_label="Rechercher"),
                width="100%",
            ),
            on_submit=MessagingState.run_search,
            reset_on_submit=False,
            width="100%",
        ),
        rx.cond(
            MessagingState.search_error != "",
            rx.text(MessagingState.search_error, color_scheme="red", size="2", role="alert"),
        ),
        rx.cond(
            MessagingState.search_done,
            rx.vstack(
                rx.hstack(
                    rx.text(
                        MessagingState.hits.length().to_string() + " résultat(s)", size="2", weight="bold"
                    ),
                    rx.spacer(),
                    rx.button("Effacer", size="1", variant="ghost", on_click=MessagingState.clear_search),
                    width="100%",
                ),
                rx.foreach(
                    MessagingState.hits,
                    lambda hit: rx.link(
                        rx.vstack(
                            rx.text(hit["thread"], size="1", weight="bold"),
                            rx.text(hit["excerpt"], size="1"),
                            rx.text(
                                hit["author"].to(str) + " · " + hit["when"].to(str),
                                size="1",
                                color_scheme="gray",
                            ),
                            spacing="0",
                            align="start",
                        ),
                        href=hit["href"],
                        underline="none",
                        color_scheme="gray",
                        high_contrast=True,
                        class_name="resultat-recherche",
                    ),
                ),
                spacing="2",
                width="100%",
                id="resultats-recherche",
            ),
        ),
        spacing="2",
        width="100%",
    )


def _sidebar() -> rx.Component:
    return rx.vstack(
        _search(),
        rx.select.root(
            rx.select.trigger(aria_label="Type de conversation", width="100%"),
            rx.select.content(
                rx.foreach(MessagingState.kind_filters, lambda k: rx.select.item(k[1], value=k[0])),
            ),
            value=MessagingState.kind_filter,
            on_change=MessagingState.set_kind_filter,
        ),
        rx.vstack(
            rx.foreach(MessagingState.threads, _thread_link),
            rx.cond(
                MessagingState.threads.length() == 0,
                rx.text("Aucune conversation pour l'instant.", size="2", color_scheme="gray"),
            ),
            spacing="1",
            width="100%",
            id="liste-fils",
        ),
        new_conversation_dialogs(),
        spacing="3",
        width="100%",
    )


def _members() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text("Membres", weight="bold", size="2"),
            rx.spacer(),
            rx.cond(MessagingState.thread["manageable"].to(bool), add_member_dialog()),
            align="center",
        ),
        rx.foreach(
            MessagingState.members,
            lambda m: rx.hstack(
                rx.text(m["name"], size="2", text_decoration=rx.cond(m["left"], "line-through", "none")),
                rx.text(m["role"], size="1", color_scheme="gray"),
                rx.cond(m["left"], rx.badge("a quitté l'équipe", size="1", color_scheme="gray")),
                rx.spacer(),
                rx.cond(
                    MessagingState.thread["manageable"].to(bool) & ~m["left"].to(bool),
                    rx.button(
                        "Retirer",
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=MessagingState.remove_member(m["user_id"].to(int)),
                    ),
                ),
                align="center",
                spacing="2",
                width="100%",
                class_name="membre",
            ),
        ),
        padding="0.75em",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        width="100%",
        id="membres",
    )


def _composer() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text_area(
                name="texte",
                id="composer",
                placeholder="Votre message (« - » pour une liste, @Nom pour mentionner un membre)",
                rows="3",
                width="100%",
                aria_label="Votre message",
            ),
            rx.cond(
                MessagingState.compose_error != "",
                rx.callout(
                    MessagingState.compose_error,
                    color_scheme="red",
                    role="alert",
                    size="1",
                    id="erreur-message",
                ),
            ),
            rx.hstack(
                rx.foreach(
                    MessagingState.drafts,
                    lambda d: rx.badge(
                        rx.icon("paperclip", size=12),
                        d["name"].to(str) + " (" + d["size"].to(str) + ")",
                        rx.icon(
                            "x",
                            size=12,
                            cursor="pointer",
                            on_click=MessagingState.discard_draft(d["id"].to(int)),
                        ),
                        variant="soft",
                        class_name="brouillon-piece-jointe",
                    ),
                ),
                wrap="wrap",
                spacing="2",
            ),
            rx.hstack(
                rx.upload(
                    rx.button(
                        rx.icon("paperclip", size=16),
                        "Joindre un fichier (PDF, image)",
                        type="button",
                        variant="soft",
                        loading=MessagingState.uploading,
                    ),
                    id="pj",
                    multiple=True,
                    no_drag=True,
                    border="none",
                    padding="0",
                    on_drop=MessagingState.upload_attachment(rx.upload_files_chunk(upload_id="pj")),
                ),
                rx.spacer(),
                rx.button(rx.icon("send", size=16), "Envoyer", type="submit", id="envoyer"),
                width="100%",
                align="center",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=MessagingState.send,
        reset_on_submit=False,
        width="100%",
    )


def _thread_view() -> rx.Component:
    return rx.cond(
        MessagingState.error != "",
        rx.callout(
            MessagingState.error, color_scheme="red", icon="shield-alert", id="erreur-fil", role="alert"
        ),
        rx.cond(
            MessagingState.thread_id == 0,
            rx.text("Choisissez une conversation à gauche.", color_scheme="gray"),
            rx.vstack(
                rx.hstack(
                    rx.vstack(
                        rx.heading(
                            MessagingState.thread["title"].to(str), size="5", as_="h2", id="titre-fil"
                        ),
                        rx.text(MessagingState.thread["subtitle"].to(str), size="2", color_scheme="gray"),
                        spacing="0",
                        align="start",
                    ),
                    rx.spacer(),
                    rx.cond(
                        MessagingState.thread["is_member"].to(bool)
                        & ~MessagingState.thread["left"].to(bool)
                        & (MessagingState.thread["kind"].to(str) != "direct"),
                        rx.button(
                            "Quitter",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            id="quitter",
                            on_click=MessagingState.leave_thread,
                        ),
                    ),
                    width="100%",
                    align="center",
                ),
                rx.cond(MessagingState.thread["kind"].to(str) != "direct", _members()),
                rx.cond(
                    MessagingState.has_older,
                    rx.button(
                        "Messages plus anciens", size="1", variant="ghost", on_click=MessagingState.load_older
                    ),
                ),
                rx.vstack(
                    rx.foreach(MessagingState.rows, _message),
                    rx.foreach(MessagingState.fresh, _message),
                    spacing="2",
                    width="100%",
                    id="messages",
                ),
                rx.cond(
                    MessagingState.thread["can_post"].to(bool),
                    _composer(),
                    rx.callout(
                        rx.cond(
                            MessagingState.thread["left"].to(bool),
                            "Vous avez quitté cette équipe : vous ne voyez plus les nouveaux messages.",
                            "Cette conversation est en lecture seule.",
                        ),
                        color_scheme="gray",
                        size="1",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )


def messaging_page() -> rx.Component:
    return page_frame(
        rx.grid(
            rx.box(_sidebar(), min_width="0"),
            rx.box(_thread_view(), min_width="0"),
            columns="minmax(240px, 1fr) 3fr",
            spacing="5",
            width="100%",
        ),
        title="Messagerie sécurisée",
    )
