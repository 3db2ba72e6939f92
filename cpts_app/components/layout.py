"""The frame of every signed-in page: header, navigation, who is signed in, sign-out."""

from __future__ import annotations

import reflex as rx

from cpts_app.components.native_form import native_form
from cpts_app.state.messaging_nav import MessagingNavState
from cpts_app.state.session import SessionState
from cpts_app.state.sync_conflicts import SyncConflictsNavState

APP_TITLE = "CPTS — Coordination des soins"
SHORT_TITLE = "CPTS Coordination"


def nav_link(label: str, href: str, icon: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label), spacing="2", align="center"),
        href=href,
        color_scheme="gray",
        high_contrast=True,
        underline="none",
    )


def _messaging_link() -> rx.Component:
    """« Messagerie » with the unread count, live (the inbox channel re-counts at each change)."""
    return rx.link(
        rx.hstack(
            rx.icon("messages-square", size=16),
            rx.text("Messagerie"),
            rx.cond(
                MessagingNavState.unread_total > 0,
                rx.badge(
                    MessagingNavState.unread_total,
                    color_scheme=rx.cond(MessagingNavState.unread_mentions > 0, "red", "teal"),
                    variant="solid",
                    radius="full",
                    id="badge-non-lus",
                    aria_label=MessagingNavState.unread_total.to_string() + " message(s) non lu(s)",
                ),
            ),
            spacing="2",
            align="center",
        ),
        href="/messagerie",
        color_scheme="gray",
        high_contrast=True,
        underline="none",
        id="lien-messagerie",
    )


def _conflicts_link() -> rx.Component:
    """« Conflits de synchro » with the count waiting for a decision (reviewers only)."""
    return rx.link(
        rx.hstack(
            rx.icon("git-compare-arrows", size=16),
            rx.text("Conflits de synchro"),
            rx.cond(
                SyncConflictsNavState.open_conflicts > 0,
                rx.badge(
                    SyncConflictsNavState.open_conflicts,
                    color_scheme="amber",
                    variant="solid",
                    radius="full",
                    id="badge-conflits",
                    aria_label=SyncConflictsNavState.open_conflicts.to_string() + " conflit(s) à arbitrer",
                ),
            ),
            spacing="2",
            align="center",
        ),
        href="/synchronisation/conflits",
        color_scheme="gray",
        high_contrast=True,
        underline="none",
        id="lien-conflits",
    )


def sign_out_button() -> rx.Component:
    """A native form post: the server revokes the session and clears the HttpOnly cookie."""
    return native_form(
        rx.button(rx.icon("log-out", size=16), "Se déconnecter", type="submit", variant="soft", size="2"),
        action="/auth/deconnexion",
        method="post",
    )


def header() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.hstack(
                rx.icon("heart-pulse", size=24, color=rx.color("teal", 10)),
                rx.heading(SHORT_TITLE, size="4", as_="p", white_space="nowrap"),
                spacing="2",
                align="center",
            ),
            rx.hstack(
                nav_link("Annuaire", "/annuaire", "book-user"),
                nav_link("Trouver un créneau", "/agenda/trouver", "calendar-search"),
                nav_link("Agenda", "/agenda/professionnel", "calendar-days"),
                _messaging_link(),
                rx.cond(
                    SessionState.can_view_capacity, nav_link("Capacité SNP", "/agenda/capacite", "gauge")
                ),
                rx.cond(
                    SessionState.can_manage_availability,
                    nav_link("Disponibilités", "/agenda/disponibilites", "calendar-cog"),
                ),
                rx.cond(
                    SessionState.can_manage_directory,
                    rx.fragment(
                        nav_link("Structures", "/admin/structures", "building-2"),
                        nav_link("Nouveau pro.", "/admin/professionnels/nouveau", "user-plus"),
                        nav_link("Journal", "/admin/journal", "scroll-text"),
                        nav_link("Appareils", "/admin/appareils", "laptop"),
                    ),
                ),
                rx.cond(SyncConflictsNavState.can_review_conflicts, _conflicts_link()),
                spacing="4",
                align="center",
                wrap="wrap",
            ),
            rx.spacer(),
            rx.hstack(
                rx.vstack(
                    rx.text(
                        SessionState.user_name,
                        weight="bold",
                        size="2",
                        id="utilisateur-connecte",
                        white_space="nowrap",
                    ),
                    rx.text(SessionState.role_label, size="1", color_scheme="gray"),
                    spacing="0",
                    align="end",
                ),
                sign_out_button(),
                spacing="3",
                align="center",
            ),
            align="center",
            spacing="6",
        ),
        padding_x="1.5em",
        padding_y="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 1),
        as_="header",
    )


def page_frame(*children: rx.Component, title: str) -> rx.Component:
    """A signed-in page: the header, then the page's heading and content."""
    return rx.box(
        # The badge's first count; the page's inbox listener (every on_load) keeps it live.
        rx.box(on_mount=MessagingNavState.load_badge, display="none"),
        rx.box(on_mount=SyncConflictsNavState.load_conflicts_badge, display="none"),
        header(),
        rx.box(
            rx.heading(title, size="7", margin_bottom="0.75em", as_="h1"),
            *children,
            padding="1.5em",
            max_width="1200px",
            margin_x="auto",
            as_="main",
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
    )
