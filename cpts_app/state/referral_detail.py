"""One referral, for the coordinator: identity, contact log, and the ways to close the loop —
a same-day slot through the agenda, or a médecin traitant who accepts new patients."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.agenda import search
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.orientation import attending_doctor, queue, workflow
from cpts_app.services.orientation.labels import CONTACT_CHANNEL_LABELS, CONTACT_OUTCOME_LABELS
from cpts_app.state.agenda_channel import (
    announce_agenda_change,
    announce_orientation_change,
    link_orientation_channel,
)
from cpts_app.state.agenda_view import paris_today
from cpts_app.state.patient_picker import PatientPickerState
from cpts_app.state.referrals import item_view
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

WINDOW_BY_URGENCY = {"demi_journee": "half_day", "sous_48h": "48h", "programme": "dates"}
CLOSE_OPTIONS = [["cloturee", "Clôturée"], ["injoignable", "Injoignable"], ["refusee", "Refusée"]]


class ReferralDetailState(SessionState):
    referral_id: int = 0
    item: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    attempts: list[dict[str, str]] = []
    events: list[dict[str, str]] = []
    duplicates: list[dict[str, str]] = []
    offers: list[dict[str, Any]] = []
    window: str = "half_day"
    doctors: list[dict[str, Any]] = []
    error: str = ""
    action_error: str = ""
    channel_options: list[list[str]] = [[k, v] for k, v in CONTACT_CHANNEL_LABELS.items()]
    outcome_options: list[list[str]] = [[k, v] for k, v in CONTACT_OUTCOME_LABELS.items()]
    close_options: list[list[str]] = CLOSE_OPTIONS
    _commune_ids: dict[str, int] = {}

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        await link_orientation_channel(self)
        raw = self.router.url.query_parameters.get("id", "")
        self.offers, self.doctors, self.action_error = [], [], ""
        if not raw.isdigit() or len(raw) > 12:
            self.error, self.referral_id = "Cette demande n'existe pas.", 0
            return None
        self.referral_id = int(raw)
        communes = await run_service(directory.commune_options)
        self._commune_ids = {c.name: c.id for c in communes}
        picker = await self.get_state(PatientPickerState)
        picker._reset()
        return await self.refresh()

    @rx.event
    async def refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if not self.referral_id:
            return None
        referral_id = self.referral_id
        try:
            detail = await run_service(lambda s: queue.get_referral(s, actor, referral_id), write=True)
        except DomainError as error:
            self.error, self.item = error.message, {}
            return None
        self.error = ""
        self.item = item_view(detail.item)
        self.window = WINDOW_BY_URGENCY.get(detail.item.urgency, "today")
        self.detail = {
            "patient_id": detail.patient_id or 0,
            "contact_name": detail.contact_name,
            "contact_phone": detail.contact_phone,
            "consent": "oui" if detail.consent_to_contact else "non",
            "free_text": detail.free_text,
            "status_reason": detail.status_reason,
            "appointment": detail.appointment_label,
            "doctor": detail.attending_doctor_name,
            "email_text": detail.email_text,
            "email_error": detail.email_error,
            "attachments": ", ".join(detail.email_attachments),
        }
        self.attempts = [dataclasses.asdict(a) for a in detail.attempts]
        self.events = [dataclasses.asdict(e) for e in detail.events]
        self.duplicates = [
            {
                "id": str(c.patient_id),
                "label": f"{c.display_name} ({c.birth_date})",
                "reasons": ", ".join(c.reasons),
            }
            for c in detail.duplicates
        ]
        return None

    async def _act(self, work, *, agenda: bool = False):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        try:
            await run_service(lambda s: work(s, actor), write=True)
        except ValidationFailed as failure:
            self.action_error = " ".join(m for m in failure.errors.values() if m) or failure.message
            return None
        except DomainError as error:
            self.action_error = error.message
            return None
        self.action_error = ""
        await announce_orientation_change(self)
        if agenda:
            await announce_agenda_change(self)
        return await self.refresh()

    @rx.event
    async def add_attempt(self, form_data: dict[str, Any]):
        channel = str(form_data.get("canal") or "")
        outcome = str(form_data.get("resultat") or "")
        note = str(form_data.get("note") or "").strip()[:1000]
        referral_id = self.referral_id
        return await self._act(
            lambda s, actor: workflow.record_contact_attempt(
                s, actor, referral_id, channel=channel, outcome=outcome, note=note
            )
        )

    @rx.event
    async def qualify_with(self, patient_id: str):
        if not str(patient_id).isdigit():
            return None
        referral_id = self.referral_id
        return await self._act(lambda s, actor: workflow.qualify(s, actor, referral_id, int(patient_id)))

    @rx.event
    async def qualify_with_picked(self):
        picker = await self.get_state(PatientPickerState)
        if not picker.patient_id:
            self.action_error = "Choisissez ou créez d'abord le patient."
            return None
        return await self.qualify_with(str(picker.patient_id))

    @rx.event
    async def find_slots(self, window: str = ""):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if window in ("half_day", "today", "48h", "dates"):
            self.window = window
        commune = self._commune_ids.get(str(self.item.get("commune_name", "")))
        today = paris_today()
        query = search.SlotSearch(
            profession="medecin_generaliste",
            commune_id=commune,
            window=self.window,
            date_from=today if self.window == "dates" else None,
            date_to=today + timedelta(days=14) if self.window == "dates" else None,
            limit=8,
        )
        try:
            offers = await run_service(lambda s: search.find_slots(s, actor, query))
        except DomainError as error:
            self.action_error = error.message
            return None
        self.offers = [
            {
                "slot_id": o.slot_id,
                "when": f"{o.day_label}, {o.time_label}",
                "who": f"{o.professional_name} — {o.structure_name or o.commune_name}",
                "kind": o.kind_label,
            }
            for o in offers
        ]
        self.action_error = "" if offers else "Aucun créneau libre dans cette fenêtre : élargissez-la."
        return None

    @rx.event
    async def book(self, slot_id: int):
        if not isinstance(slot_id, int) or slot_id <= 0:
            return None
        referral_id = self.referral_id
        self.offers = []
        return await self._act(
            lambda s, actor: workflow.book_for_referral(s, actor, referral_id, slot_id), agenda=True
        )

    @rx.event
    async def find_doctors(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        commune = self._commune_ids.get(str(self.item.get("commune_name", "")))
        if commune is None:
            self.action_error = "La commune du patient n'est pas connue : complétez son identité."
            return None
        options = await run_service(lambda s: attending_doctor.find_attending_doctors(s, actor, commune))
        self.doctors = [
            {
                "id": d.professional_id,
                "name": d.name,
                "where": f"{d.structure_name}, {d.commune_name}",
                "capacity": d.remaining_capacity,
            }
            for d in options
        ]
        self.action_error = (
            "" if options else "Aucun médecin généraliste n'accepte de nouveaux patients à proximité."
        )
        return None

    @rx.event
    async def choose_doctor(self, professional_id: int):
        if not isinstance(professional_id, int) or professional_id <= 0:
            return None
        referral_id = self.referral_id
        self.doctors = []
        return await self._act(
            lambda s, actor: workflow.record_attending_doctor(s, actor, referral_id, professional_id)
        )

    @rx.event
    async def close(self, form_data: dict[str, Any]):
        status = str(form_data.get("statut") or "")
        reason = str(form_data.get("motif") or "").strip()[:500]
        referral_id = self.referral_id
        return await self._act(lambda s, actor: workflow.close(s, actor, referral_id, status, reason))
