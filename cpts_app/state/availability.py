"""« Mes disponibilités »: publish weekly availability once; the slots follow for eight weeks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx

from cpts_app.services import calendar_feed, directory
from cpts_app.services.agenda import availability
from cpts_app.services.agenda.labels import AUDIENCE_LABELS, SLOT_KIND_LABELS
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.settings import get_settings
from cpts_app.state.agenda_channel import announce_agenda_change
from cpts_app.state.agenda_view import paris_today
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

PARIS = ZoneInfo("Europe/Paris")
RULE_FIELDS = [
    "weekday",
    "start_time",
    "end_time",
    "slot_minutes",
    "kind",
    "audience",
    "valid_from",
    "valid_until",
]
WEEKDAY_OPTIONS = [
    [str(i), d]
    for i, d in enumerate(["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"])
]
PUBLISH_WEEKS = 8


def _blank(fields: list[str]) -> dict[str, str]:
    return dict.fromkeys(fields, "")


def _paris_datetime(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=PARIS)
    except ValueError:
        return None


class AvailabilityState(SessionState):
    """The schedules of one professional, the rules of the selected one, and the two forms."""

    professional_id: int = 0
    professional_name: str = ""
    schedules: list[dict[str, str]] = []
    schedule_id: int = 0
    rules: list[dict[str, Any]] = []
    structure_options: list[list[str]] = []
    errors: dict[str, str] = _blank([*RULE_FIELDS, "form"])
    exception_errors: dict[str, str] = _blank(["starts_at", "ends_at", "reason", "form"])
    message: str = ""
    error: str = ""
    feed_url: str = ""
    """Shown once, right after creation: only its hash is stored."""
    form_key: str = "initial"
    weekday_options: list[list[str]] = WEEKDAY_OPTIONS
    kind_options: list[list[str]] = [[k.value, v] for k, v in SLOT_KIND_LABELS.items()]
    audience_options: list[list[str]] = [[a.value, v] for a, v in AUDIENCE_LABELS.items()]

    @rx.var
    def today(self) -> str:
        return paris_today().isoformat()

    @rx.event
    async def load(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        raw = self.router.url.query_parameters.get("pro", "")
        self.message, self.error, self.feed_url = "", "", ""
        if raw.isdigit() and len(raw) < 12:
            self.professional_id = int(raw)
        elif actor.professional_id:
            self.professional_id = actor.professional_id
        else:
            self.professional_id = 0
            self.error = (
                "Choisissez un professionnel dans l'annuaire (bouton « Disponibilités » de sa fiche)."
            )
            return None
        target = self.professional_id
        try:
            card = await run_service(lambda s: directory.get_professional_card(s, actor, target))
        except DomainError as error:
            self.error = error.message
            return None
        self.professional_name = f"{card.full_name} — {card.profession_label}"
        self.structure_options = [[str(s.id), s.name] for s in card.structure_refs]
        return await self._reload(actor)

    async def _reload(self, actor):
        target = self.professional_id
        try:
            schedules = await run_service(lambda s: availability.schedules_of(s, actor, target))
        except DomainError as error:
            self.error = error.message
            return None
        self.schedules = [
            {"id": str(v.id), "label": v.label or v.structure_name or v.commune_name, "place": v.commune_name}
            for v in schedules
        ]
        ids = [int(s["id"]) for s in self.schedules]
        if self.schedule_id not in ids:
            self.schedule_id = ids[0] if ids else 0
        await self._load_rules(actor)
        return None

    async def _load_rules(self, actor) -> None:
        schedule_id = self.schedule_id
        if not schedule_id:
            self.rules = []
            return
        rules = await run_service(lambda s: availability.list_rules(s, actor, schedule_id))
        self.rules = [
            {
                "id": r.id,
                "day": r.weekday_label,
                "hours": f"{r.start_time}–{r.end_time}",
                "duration": f"{r.slot_minutes} min",
                "kind": r.kind_label,
                "audience": ", ".join(r.audience_labels),
                "validity": f"du {r.valid_from}" + (f" au {r.valid_until}" if r.valid_until else ""),
            }
            for r in rules
        ]

    @rx.event
    async def choose_schedule(self, schedule_id: str):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if schedule_id in {s["id"] for s in self.schedules}:
            self.schedule_id = int(schedule_id)
            await self._load_rules(actor)
        return None

    @rx.event
    async def create_schedule(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        structure = str(form_data.get("structure") or "")
        if structure not in {o[0] for o in self.structure_options}:
            self.error = "Choisissez le lieu d'exercice de cet agenda."
            return None
        target = self.professional_id
        try:
            new_id = await run_service(
                lambda s: availability.create_schedule(
                    s, actor, professional_id=target, structure_id=int(structure), commune_id=None
                ),
                write=True,
            )
        except DomainError as error:
            self.error = error.message
            return None
        self.schedule_id, self.error = new_id, ""
        return await self._reload(actor)

    @rx.event
    async def add_rule(self, form_data: dict[str, Any]):
        """Save a weekly rule, then publish the next eight weeks of slots."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        audience = [
            a[0] for a in self.audience_options if form_data.get(f"audience_{a[0]}") in ("on", "true")
        ]
        form = availability.RuleForm(
            weekday=str(form_data.get("weekday") or ""),
            start_time=str(form_data.get("start_time") or "")[:5],
            end_time=str(form_data.get("end_time") or "")[:5],
            slot_minutes=str(form_data.get("slot_minutes") or "")[:4],
            kind=str(form_data.get("kind") or ""),
            audience=audience,
            valid_from=str(form_data.get("valid_from") or "")[:10],
            valid_until=str(form_data.get("valid_until") or "")[:10],
            skip_public_holidays=str(form_data.get("skip_public_holidays") or "") in ("on", "true"),
        )
        schedule_id = self.schedule_id

        def work(session):
            availability.add_rule(session, actor, schedule_id, form)
            return availability.publish(session, actor, schedule_id, weeks=PUBLISH_WEEKS)

        try:
            created = await run_service(work, write=True)
        except ValidationFailed as failure:
            self.errors = _blank([*RULE_FIELDS, "form"]) | failure.errors
            return None
        except DomainError as error:
            self.errors = _blank([*RULE_FIELDS, "form"]) | {"form": error.message}
            return None
        self.errors = _blank([*RULE_FIELDS, "form"])
        self.message = f"Disponibilité enregistrée : {created} créneaux publiés sur {PUBLISH_WEEKS} semaines."
        self.form_key = uuid.uuid4().hex
        await self._load_rules(actor)
        await announce_agenda_change(self)
        return None

    @rx.event
    async def remove_rule(self, rule_id: int):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        if rule_id not in {r["id"] for r in self.rules}:
            return None
        try:
            await run_service(lambda s: availability.remove_rule(s, actor, rule_id), write=True)
        except DomainError as error:
            self.error = error.message
            return None
        self.message = "Disponibilité supprimée : ses créneaux libres à venir ont été retirés."
        await self._load_rules(actor)
        await announce_agenda_change(self)
        return None

    @rx.event
    async def create_feed(self):
        """A new calendar subscription link (the previous one stops working)."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        target = self.professional_id
        try:
            token = await run_service(lambda s: calendar_feed.create_feed_token(s, actor, target), write=True)
        except DomainError as error:
            self.error = error.message
            return None
        self.feed_url = f"{get_settings().public_url.rstrip('/')}/agenda/ical/{token}.ics"
        self.message = "Nouveau lien d'abonnement créé : l'ancien ne fonctionne plus."
        return None

    @rx.event
    async def revoke_feed(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        target = self.professional_id
        try:
            count = await run_service(
                lambda s: calendar_feed.revoke_feed_tokens(s, actor, target), write=True
            )
        except DomainError as error:
            self.error = error.message
            return None
        self.feed_url = ""
        self.message = "Lien d'abonnement révoqué." if count else "Aucun lien d'abonnement actif."
        return None

    @rx.event
    async def add_absence(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        starts = _paris_datetime(str(form_data.get("starts_at") or ""))
        ends = _paris_datetime(str(form_data.get("ends_at") or ""))
        reason = str(form_data.get("reason") or "").strip()[:200]
        errors = _blank(["starts_at", "ends_at", "reason", "form"])
        if starts is None:
            errors["starts_at"] = "Indiquez la date et l'heure de début."
        if ends is None:
            errors["ends_at"] = "Indiquez la date et l'heure de fin."
        if starts is None or ends is None:
            self.exception_errors = errors
            return None
        schedule_id = self.schedule_id
        try:
            await run_service(
                lambda s: availability.add_exception(s, actor, schedule_id, starts, ends, reason), write=True
            )
        except ValidationFailed as failure:
            self.exception_errors = errors | failure.errors
            return None
        except DomainError as error:
            self.exception_errors = errors | {"form": error.message}
            return None
        self.exception_errors = errors
        self.message = "Absence enregistrée : les créneaux libres de cette période ont été retirés."
        await announce_agenda_change(self)
        return None
