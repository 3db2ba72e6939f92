"""Enrolling and revoking the field laptops, and changing their tour (admins).

Why the one-time code is cleared so eagerly: it lets a laptop bind itself to an account for 24 h.
It is a var only while the admin reads it, and it is wiped when the callout is closed, when the
page loads again, and when the page is left (``on_unmount``).
"""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from cpts_app.services.agenda.clock import moment_label
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.permissions import Permission, has_permission
from cpts_app.services.sync import devices
from cpts_app.settings import get_settings
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

FIELDS = ("label", "user_id", "tour_id", "lease_days")
DEFAULT_LEASE_DAYS = "7"
REVOCABLE = ("en attente d'inscription", "actif")
"""Also the states whose tour can still change (not revoked, not wiped)."""
PERMANENCE = "permanence"
"""The select's value for « Permanence (sans tournée) »: no tour."""
CHOOSE_TOUR = "Choisissez la nouvelle tournée, ou « Permanence (sans tournée) »."
UNKNOWN_TOUR = "Cette tournée n'existe pas."
SCOPE_UNCHANGED = "Le portable était déjà sur ce périmètre : rien n'a changé."
SCOPE_CHANGED = (
    "Tournée changée : le portable effacera les données de l'ancienne tournée à sa prochaine synchronisation."
)
DENIED = "Accès refusé : seuls les administrateurs peuvent inscrire ou révoquer des appareils."


def _blank_errors() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def _blank_values() -> dict[str, str]:
    return {"label": "", "user_id": "", "tour_id": "", "lease_days": DEFAULT_LEASE_DAYS}


def _when(moment) -> str:  # type: ignore[no-untyped-def]
    return moment_label(moment) if moment is not None else "—"


def _digits(raw: Any, max_length: int = 9) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= max_length else None


class AdminDevicesState(SessionState):
    """The devices table, the enrolment form, the code shown once and the revocation dialog."""

    rows: list[dict[str, str]] = []
    user_options: list[list[str]] = []
    tour_options: list[list[str]] = []
    values: dict[str, str] = _blank_values()
    errors: dict[str, str] = _blank_errors()
    form_error: str = ""
    form_key: str = "initial"
    denied: str = ""
    loaded: bool = False
    enrolment_code: str = ""
    """Shown once, cleared on close, on load and when the page is left."""
    enrolled_label: str = ""
    server_address: str = ""
    revoke_open: bool = False
    revoke_label: str = ""
    revoke_error: str = ""
    _revoke_device_id: str = ""
    scope_open: bool = False
    scope_label: str = ""
    scope_current: str = ""
    """The device's scope as the table shows it (a tour name, or « permanence »)."""
    scope_error: str = ""
    _scope_device_id: str = ""
    _listed_ids: list[str] = []

    async def _admin(self):
        actor = await self._actor()
        if actor is None:
            return None, sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        if not has_permission(actor, Permission.MANAGE_DEVICES):
            self._forget()
            self.denied = DENIED
            return None, None
        self.denied = ""
        return actor, None

    def _forget(self) -> None:
        """Nothing of the devices stays in a state a non-admin could see."""
        self.rows, self.user_options, self.tour_options, self._listed_ids = [], [], [], []
        self.enrolment_code = self.enrolled_label = ""
        self._close_revoke()
        self._close_scope()

    def _close_revoke(self) -> None:
        self.revoke_open, self.revoke_label, self.revoke_error = False, "", ""
        self._revoke_device_id = ""

    def _close_scope(self) -> None:
        self.scope_open, self.scope_label, self.scope_current, self.scope_error = False, "", "", ""
        self._scope_device_id = ""

    @rx.event
    async def load(self):
        self.enrolment_code = self.enrolled_label = ""
        self._close_revoke()
        self._close_scope()
        self.loaded = False
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        self.values, self.errors, self.form_error = _blank_values(), _blank_errors(), ""
        self.form_key = uuid.uuid4().hex
        self.server_address = get_settings().public_url.rstrip("/")
        try:
            users, tours = await run_service(lambda s: devices.enrolment_options(s, actor))
        except DomainError as error:
            self._forget()
            self.denied = error.message
            return None
        self.user_options = [[str(i), name] for i, name in users]
        self.tour_options = [[str(i), name] for i, name in tours]
        await self._refresh(actor)
        self.loaded = True
        return None

    async def _refresh(self, actor) -> None:  # type: ignore[no-untyped-def]
        views = await run_service(lambda s: devices.list_devices(s, actor))
        self._listed_ids = [v.device_id for v in views]
        self.rows = [
            {
                "device_id": v.device_id,
                "label": v.label,
                "user": v.user_name,
                "scope": v.tour_name or "permanence",
                "lease": f"{v.lease_days} j",
                "state": v.state,
                "revocable": "oui" if v.state in REVOCABLE else "",
                "scope_changeable": "oui" if v.state in REVOCABLE else "",
                "enrolled_at": _when(v.enrolled_at),
                "last_contact_at": _when(v.last_contact_at),
            }
            for v in views
        ]

    @rx.event
    async def enrol(self, form_data: dict[str, Any]):
        self.enrolment_code = self.enrolled_label = ""
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        values = {name: str(form_data.get(name) or "").strip()[:200] for name in FIELDS}
        self.values = values
        errors = _blank_errors()
        user_id = _digits(values["user_id"]) or 0  # 0: the service answers « choisissez le compte »
        tour_id = _digits(values["tour_id"]) if values["tour_id"] else None
        if values["tour_id"] and tour_id is None:
            errors["tour_id"] = "Cette tournée n'existe pas."
        lease_days = _digits(values["lease_days"], 3)
        if lease_days is None:
            low, high = devices.LEASE_DAYS_RANGE
            errors["lease_days"] = f"La durée hors ligne doit être un nombre de jours entre {low} et {high}."
        try:
            if any(errors.values()):
                raise ValidationFailed({k: v for k, v in errors.items() if v})
            _, code = await run_service(
                lambda s: devices.create_enrolment(
                    s, actor, label=values["label"], user_id=user_id, tour_id=tour_id, lease_days=lease_days
                ),
                write=True,
            )
        except ValidationFailed as failure:
            self.errors = _blank_errors() | {k: v for k, v in failure.errors.items() if k in FIELDS}
            self.form_error = failure.message
            return None
        except DomainError as error:
            self.errors, self.form_error = _blank_errors(), error.message
            return None
        self.enrolment_code = code
        self.enrolled_label = " ".join(values["label"].split())
        self.values, self.errors, self.form_error = _blank_values(), _blank_errors(), ""
        self.form_key = uuid.uuid4().hex
        await self._refresh(actor)
        return None

    @rx.event
    def clear_code(self):
        """« J'ai noté le code », or the page is left: the code is gone for good."""
        self.enrolment_code = self.enrolled_label = ""

    @rx.event
    async def open_revoke(self, device_id: str):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        row = self._listed_row(device_id)
        if row is None:
            return rx.toast.error(devices.DEVICE_NOT_FOUND)
        self._revoke_device_id = device_id
        self.revoke_label, self.revoke_error, self.revoke_open = row["label"], "", True
        return None

    def _listed_row(self, device_id: Any) -> dict[str, Any] | None:
        """The shown row of ``device_id``; None for an id the page never listed (forged event)."""
        if not isinstance(device_id, str) or device_id not in self._listed_ids:
            return None
        return next(r for r in self.rows if r["device_id"] == device_id)

    @rx.event
    def set_revoke_open(self, value: bool):
        if not value:
            self._close_revoke()

    @rx.event
    async def confirm_revoke(self, form_data: dict[str, Any]):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        device_id = self._revoke_device_id
        if not device_id:
            self._close_revoke()
            return None
        reason = str(form_data.get("motif") or "").strip()[:400]
        try:
            await run_service(lambda s: devices.revoke(s, actor, device_id, reason), write=True)
        except DomainError as error:
            self.revoke_error = getattr(error, "errors", {}).get("reason", "") or error.message
            return None
        label = self.revoke_label
        self._close_revoke()
        await self._refresh(actor)
        return rx.toast.info(f"« {label} » est révoqué : il devra s'effacer à sa prochaine connexion.")

    @rx.event
    async def open_scope(self, device_id: str):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        row = self._listed_row(device_id)
        if row is None:
            return rx.toast.error(devices.DEVICE_NOT_FOUND)
        self._scope_device_id = device_id
        self.scope_label, self.scope_current = row["label"], row["scope"]
        self.scope_error, self.scope_open = "", True
        return None

    @rx.event
    def set_scope_open(self, value: bool):
        if not value:
            self._close_scope()

    @rx.event
    async def confirm_scope(self, form_data: dict[str, Any]):
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        device_id = self._scope_device_id
        if not device_id:
            self._close_scope()
            return None
        choice = str(form_data.get("tour_id") or "").strip() if isinstance(form_data, dict) else ""
        if not choice:
            self.scope_error = CHOOSE_TOUR
            return None
        tour_id = None if choice == PERMANENCE else _digits(choice)
        if choice != PERMANENCE and tour_id is None:
            self.scope_error = UNKNOWN_TOUR
            return None
        try:
            await run_service(lambda s: devices.change_scope(s, actor, device_id, tour_id), write=True)
        except DomainError as error:
            self.scope_error = getattr(error, "errors", {}).get("tour_id", "") or error.message
            return None
        # The service leaves an unchanged scope alone (no new epoch): say so rather than « changée ».
        unchanged = self._scope_name(tour_id) == self.scope_current
        self._close_scope()
        await self._refresh(actor)
        return rx.toast.info(SCOPE_UNCHANGED) if unchanged else rx.toast.success(SCOPE_CHANGED)

    def _scope_name(self, tour_id: int | None) -> str:
        """The « Tournée » cell a scope shows (as ``_refresh`` writes it)."""
        if tour_id is None:
            return PERMANENCE
        return next((name for value, name in self.tour_options if value == str(tour_id)), "")
