"""Assembles the Reflex app: theme, pages, the session guard and the HTTP routes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import reflex as rx

from cpts_app.api.app import build_api
from cpts_app.db import migrate
from cpts_app.pages.admin_devices import admin_devices_page
from cpts_app.pages.admin_professional import admin_professional_page
from cpts_app.pages.admin_structures import structure_form_page, structures_list_page
from cpts_app.pages.agenda import professional_agenda_page, structure_agenda_page
from cpts_app.pages.audit_journal import audit_journal_page
from cpts_app.pages.availability import availability_page
from cpts_app.pages.capacity_board import capacity_board_page
from cpts_app.pages.directory import directory_page, professional_page
from cpts_app.pages.field_routes import register_field_pages
from cpts_app.pages.find_slot import find_slot_page
from cpts_app.pages.indicators import indicators_page
from cpts_app.pages.messaging import messaging_page
from cpts_app.pages.orientation import my_referrals_page, new_referral_page, queue_page, referral_detail_page
from cpts_app.pages.patient_merge import patient_merge_page
from cpts_app.pages.self_signal import self_signal_page
from cpts_app.pages.signin import signin_page
from cpts_app.pages.sync_conflicts import sync_conflicts_page
from cpts_app.pages.waiting_list import waiting_list_page
from cpts_app.settings import Mode, get_settings
from cpts_app.state.admin_devices import AdminDevicesState
from cpts_app.state.admin_professional import AdminProfessionalState
from cpts_app.state.admin_structure import AdminStructureState
from cpts_app.state.agenda_view import AgendaViewState
from cpts_app.state.audit_journal import AuditJournalState
from cpts_app.state.availability import AvailabilityState
from cpts_app.state.capacity_board import CapacityBoardState
from cpts_app.state.directory import DirectoryState
from cpts_app.state.find_slot import FindSlotState
from cpts_app.state.inbox import announce
from cpts_app.state.inbox_listener import InboxListenerState
from cpts_app.state.indicators import IndicatorsState
from cpts_app.state.messaging import MessagingState
from cpts_app.state.patient_merge import PatientMergeState
from cpts_app.state.professional_card import ProfessionalCardState
from cpts_app.state.referral_detail import ReferralDetailState
from cpts_app.state.referral_queue import ReferralQueueState
from cpts_app.state.referrals import MyReferralsState, NewReferralState
from cpts_app.state.self_signal import SelfSignalState
from cpts_app.state.session import SessionState
from cpts_app.state.session_guard import SessionGuard
from cpts_app.state.signin import SignInState
from cpts_app.state.sync_conflicts import SyncConflictsState
from cpts_app.state.waiting_list import WaitingListState

FIELD_MODE = get_settings().mode == Mode.FIELD
"""A field laptop (``CPTS_MODE=field``) serves only the /terrain pages: the others need the server DB."""


def index() -> rx.Component:
    """/ sends signed-in users to the directory (and others to sign-in, via the guard)."""
    return rx.center(rx.spinner(), min_height="100vh")


class HomeState(SessionState):
    """The home page has nothing of its own: it only routes."""

    @rx.event
    async def go(self):
        return rx.redirect("/annuaire")


async def _notify_members(user_ids: Sequence[int], thread_id: int) -> None:
    """Messages posted through the API reach the members' open browsers too."""
    await announce(user_ids, thread_id)


app = rx.App(
    html_lang="fr",
    stylesheets=["/styles.css"],
    api_transformer=build_api(_notify_members),
    head_components=[rx.el.meta(name="robots", content="noindex")],
)
app.add_middleware(SessionGuard())


def add_page(component, *, route: str, title: str, on_load, public: bool = False) -> None:
    """Every signed-in page also starts the tab's inbox listener (badge and messages stay live).

    Public pages do not: the session guard sends sign-in-less events of signed-in states to the
    sign-in page.
    """
    if FIELD_MODE:
        return
    events = [on_load] if public else [on_load, InboxListenerState.listen]
    app.add_page(component, route=route, title=title, on_load=events)


@app.register_lifespan_task
async def apply_migrations() -> None:
    """Bring the schema up to date when the backend starts (before the first request is served)."""
    if FIELD_MODE:
        return
    await asyncio.to_thread(migrate)


add_page(signin_page, route="/connexion", title="Connexion — CPTS", on_load=SignInState.load, public=True)
add_page(index, route="/", title="CPTS", on_load=HomeState.go, public=True)
add_page(directory_page, route="/annuaire", title="Annuaire — CPTS", on_load=DirectoryState.load)
add_page(
    professional_page,
    route="/annuaire/professionnel",
    title="Fiche professionnel — CPTS",
    on_load=ProfessionalCardState.load,
)
add_page(
    admin_professional_page,
    route="/admin/professionnels/nouveau",
    title="Nouveau professionnel — CPTS",
    on_load=AdminProfessionalState.load,
)
add_page(
    admin_professional_page,
    route="/admin/professionnels/modifier",
    title="Modifier un professionnel — CPTS",
    on_load=AdminProfessionalState.load,
)
add_page(
    structures_list_page,
    route="/admin/structures",
    title="Structures — CPTS",
    on_load=AdminStructureState.load_list,
)
add_page(
    structure_form_page,
    route="/admin/structures/nouvelle",
    title="Nouvelle structure — CPTS",
    on_load=AdminStructureState.load_form,
)
add_page(
    structure_form_page,
    route="/admin/structures/modifier",
    title="Modifier une structure — CPTS",
    on_load=AdminStructureState.load_form,
)
add_page(
    find_slot_page, route="/agenda/trouver", title="Trouver un créneau — CPTS", on_load=FindSlotState.load
)
add_page(
    professional_agenda_page,
    route="/agenda/professionnel",
    title="Agenda — CPTS",
    on_load=AgendaViewState.load_professional,
)
add_page(
    structure_agenda_page,
    route="/agenda/structure",
    title="Agenda de la structure — CPTS",
    on_load=AgendaViewState.load_structure,
)
add_page(
    capacity_board_page,
    route="/agenda/capacite",
    title="Capacité SNP — CPTS",
    on_load=CapacityBoardState.load,
)
add_page(
    availability_page,
    route="/agenda/disponibilites",
    title="Disponibilités — CPTS",
    on_load=AvailabilityState.load,
)
add_page(
    audit_journal_page, route="/admin/journal", title="Journal d'audit — CPTS", on_load=AuditJournalState.load
)
add_page(
    admin_devices_page,
    route="/admin/appareils",
    title="Portables de terrain — CPTS",
    on_load=AdminDevicesState.load,
)
add_page(
    sync_conflicts_page,
    route="/synchronisation/conflits",
    title="Conflits de synchronisation — CPTS",
    on_load=SyncConflictsState.load,
)
add_page(
    waiting_list_page, route="/agenda/attente", title="Liste d'attente — CPTS", on_load=WaitingListState.load
)
add_page(
    self_signal_page,
    route="/signalement",
    title="Je n'ai pas de médecin traitant — CPTS",
    on_load=SelfSignalState.load,
    public=True,
)
add_page(
    new_referral_page,
    route="/orientation/nouvelle",
    title="Orienter un patient — CPTS",
    on_load=NewReferralState.load,
)
add_page(
    my_referrals_page,
    route="/orientation/mes-demandes",
    title="Mes demandes — CPTS",
    on_load=MyReferralsState.load,
)
add_page(
    queue_page, route="/orientation/file", title="File d'orientation — CPTS", on_load=ReferralQueueState.load
)
add_page(
    referral_detail_page,
    route="/orientation/demande",
    title="Demande d'orientation — CPTS",
    on_load=ReferralDetailState.load,
)
add_page(messaging_page, route="/messagerie", title="Messagerie — CPTS", on_load=MessagingState.load)
add_page(indicators_page, route="/indicateurs", title="Indicateurs — CPTS", on_load=IndicatorsState.load)
add_page(
    patient_merge_page,
    route="/patients/fusion",
    title="Fusion de dossiers — CPTS",
    on_load=PatientMergeState.load,
)

if FIELD_MODE:
    register_field_pages(app)
