"""Referrals by professionals: the new-referral form and « Mes demandes » (their status only)."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.orientation import queue, referrals
from cpts_app.services.orientation.labels import REASON_LABELS, URGENCY_LABELS
from cpts_app.state.agenda_channel import announce_orientation_change, link_orientation_channel
from cpts_app.state.patient_picker import PatientPickerState
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

FIELDS = ["patient_id", "reason", "urgency", "consent_to_contact", "free_text", "form"]


def item_view(item: queue.QueueItem) -> dict[str, Any]:
    """A referral line as plain values for the browser."""
    view = dataclasses.asdict(item)
    view["priority_parts"] = ", ".join(item.priority_parts)
    view["age"] = "" if item.age is None else f"{item.age} ans"
    return view


class NewReferralState(SessionState):
    reason_options: list[list[str]] = [[k.value, v] for k, v in REASON_LABELS.items()]
    urgency_options: list[list[str]] = [[k.value, v] for k, v in URGENCY_LABELS.items()]
    errors: dict[str, str] = dict.fromkeys(FIELDS, "")

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        self.errors = dict.fromkeys(FIELDS, "")
        picker = await self.get_state(PatientPickerState)
        picker._reset()
        return None

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        picker = await self.get_state(PatientPickerState)
        form = referrals.ReferralForm(
            patient_id=str(picker.patient_id or ""),
            reason=str(form_data.get("reason") or ""),
            urgency=str(form_data.get("urgency") or ""),
            consent_to_contact=str(form_data.get("consent_to_contact") or "") in ("on", "true"),
            free_text=str(form_data.get("free_text") or "").strip()[:4000],
        )
        try:
            await run_service(lambda s: referrals.refer(s, actor, form), write=True)
        except ValidationFailed as failure:
            self.errors = dict.fromkeys(FIELDS, "") | failure.errors | {"form": failure.message}
            return None
        except DomainError as error:
            self.errors = dict.fromkeys(FIELDS, "") | {"form": error.message}
            return None
        picker._reset()
        await announce_orientation_change(self)
        return [
            rx.toast.success("Demande envoyée à la coordination.", duration=5000),
            rx.redirect("/orientation/mes-demandes"),
        ]


class MyReferralsState(SessionState):
    items: list[dict[str, Any]] = []
    error: str = ""

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        await link_orientation_channel(self)
        return await self.refresh()

    @rx.event
    async def refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        try:
            items = await run_service(lambda s: queue.my_referrals(s, actor), write=True)
        except DomainError as error:
            self.error, self.items = error.message, []
            return None
        self.error = ""
        self.items = [item_view(i) for i in items]
        return None
