"""Agenda views: a professional's day or week, a structure's agenda (MSP, permanence, médicobus).

The state holds only the days on screen (at most a week); every change elsewhere bumps the
agenda channel and the view reloads through the services, which decide what each user may see.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx

from cpts_app.services import directory
from cpts_app.services.agenda import booking, views
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.state.agenda_channel import announce_agenda_change, link_agenda_channel
from cpts_app.state.patient_picker import PatientPickerState
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
]  # fmt: skip


def day_label(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def paris_today() -> date:
    return datetime.now(PARIS).date()


@dataclasses.dataclass
class EntryRow:
    """One line of the agenda, as the browser shows it."""

    slot_id: int = 0
    appointment_id: int = 0
    time_label: str = ""
    kind_label: str = ""
    status: str = ""
    patient_label: str = ""
    reason: str = ""
    professional_name: str = ""
    place: str = ""
    can_book: bool = False
    can_cancel: bool = False
    summary: str = ""


@dataclasses.dataclass
class DayColumn:
    day: str = ""
    label: str = ""
    rows: list[EntryRow] = dataclasses.field(default_factory=list)
    free_count: int = 0


def _row(entry: views.AgendaEntry) -> EntryRow:
    place = ", ".join(p for p in (entry.structure_name, entry.commune_name) if p)
    when = f"{day_label(date.fromisoformat(entry.day))}, {entry.time_label}"
    return EntryRow(
        slot_id=entry.slot_id or 0,
        appointment_id=entry.appointment_id or 0,
        time_label=entry.time_label,
        kind_label=entry.kind_label,
        status=entry.status,
        patient_label=entry.patient_label,
        reason=entry.reason,
        professional_name=entry.professional_name,
        place=place,
        can_book=entry.can_book,
        can_cancel=entry.can_cancel,
        summary=f"{when} — {entry.professional_name}, {place}",
    )


def _columns(entries: list[views.AgendaEntry], first: date, days: int) -> list[DayColumn]:
    by_day: dict[str, list[EntryRow]] = {}
    for entry in entries:
        by_day.setdefault(entry.day, []).append(_row(entry))
    columns = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        rows = by_day.get(day.isoformat(), [])
        columns.append(
            DayColumn(
                day=day.isoformat(),
                label=day_label(day),
                rows=rows,
                free_count=sum(1 for r in rows if r.status == "free"),
            )
        )
    return columns


class AgendaViewState(SessionState):
    """One professional's or one structure's agenda over a day or a week."""

    mode: str = "professionnel"
    target_id: int = 0
    title: str = ""
    day: str = ""
    view: str = "jour"
    columns: list[DayColumn] = []
    tour: list[dict[str, Any]] = []
    error: str = ""
    notice: str = ""
    cancel_open: bool = False
    cancel_appointment_id: int = 0
    cancel_summary: str = ""
    cancel_error: str = ""
    extra_open: bool = False
    extra_errors: dict[str, str] = {"start": "", "end": "", "extra_reason": "", "patient_id": "", "form": ""}

    @rx.var
    def period_label(self) -> str:
        if not self.day:
            return ""
        first = date.fromisoformat(self.day)
        if self.view == "semaine":
            return f"Semaine du {day_label(first)}"
        return day_label(first).capitalize()

    async def _load(self, mode: str):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        self._show_actor(actor)
        await link_agenda_channel(self)
        query = self.router.url.query_parameters
        raw_id = query.get("id", "")
        self.mode, self.error, self.notice, self.columns, self.tour = mode, "", "", [], []
        if raw_id.isdigit() and len(raw_id) < 12:
            self.target_id = int(raw_id)
        elif mode == "professionnel" and actor.professional_id:
            self.target_id = actor.professional_id
        else:
            self.target_id = 0
            self.title = ""
            self.notice = (
                "Votre compte n'est pas rattaché à un professionnel : ouvrez l'agenda d'un professionnel "
                "depuis l'annuaire, ou cherchez un créneau."
            )
            return None
        try:
            day = date.fromisoformat(query.get("jour", ""))
        except ValueError:
            day = paris_today()
        self.view = "semaine" if query.get("vue") == "semaine" else "jour"
        if self.view == "semaine":
            day = day - timedelta(days=day.weekday())
        self.day = day.isoformat()
        target = self.target_id
        try:
            if mode == "professionnel":
                card = await run_service(lambda s: directory.get_professional_card(s, actor, target))
                self.title = f"{card.full_name} — {card.profession_label}"
            else:
                refs = await run_service(lambda s: directory.structure_options(s, actor))
                match = [r for r in refs if r.id == target]
                if not match:
                    self.error = "Cette structure n'existe pas."
                    return None
                self.title = f"{match[0].name} — {match[0].kind_label}"
        except DomainError as error:
            self.error = error.message
            return None
        return await self._refresh()

    @rx.event
    async def load_professional(self):
        return await self._load("professionnel")

    @rx.event
    async def load_structure(self):
        return await self._load("structure")

    @rx.event
    async def refresh(self):
        if self.target_id and self.day:
            return await self._refresh()
        return None

    @rx.event
    async def shift(self, direction: int):
        """Previous / next day or week (direction -1 or 1), or today (0)."""
        if direction not in (-1, 0, 1) or not self.day:
            return None
        step = 7 if self.view == "semaine" else 1
        day = (
            paris_today()
            if direction == 0
            else date.fromisoformat(self.day) + timedelta(days=step * direction)
        )
        if self.view == "semaine":
            day = day - timedelta(days=day.weekday())
        self.day = day.isoformat()
        return await self._refresh()

    @rx.event
    async def set_view(self, view: str | list[str]):
        if not isinstance(view, str) or view not in ("jour", "semaine") or not self.day:
            return None
        self.view = view
        day = date.fromisoformat(self.day)
        if view == "semaine":
            day = day - timedelta(days=day.weekday())
        self.day = day.isoformat()
        return await self._refresh()

    async def _refresh(self):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        first = date.fromisoformat(self.day)
        days = 7 if self.view == "semaine" else 1
        target, mode = self.target_id, self.mode
        try:
            if mode == "professionnel":
                entries = await run_service(
                    lambda s: views.professional_agenda(s, actor, target, first, days), write=True
                )
            else:
                entries = await run_service(
                    lambda s: views.structure_agenda(s, actor, target, first, days), write=True
                )
        except DomainError as error:
            self.error = error.message
            self.columns = []
            return None
        self.error = ""
        self.columns = _columns(entries, first, days)
        if mode == "structure":
            await self._load_tour(actor, first, days)
        return None

    async def _load_tour(self, actor, first: date, days: int) -> None:
        from cpts_app.services.agenda import tours

        target = self.target_id
        try:
            stops = await run_service(lambda s: tours.where_is_the_bus(s, actor, target, first, days))
        except DomainError:
            self.tour = []
            return
        self.tour = [
            {
                "day": day_label(stop.day),
                "where": f"{stop.commune_name} — {stop.place}" if stop.place else stop.commune_name,
                "hours": f"{stop.start_time}–{stop.end_time}",
                "free": str(stop.free_slots),
                "booked": str(stop.booked_slots),
            }
            for stop in stops
        ]

    @rx.event
    def ask_cancel(self, appointment_id: int, summary: str):
        if not isinstance(appointment_id, int) or appointment_id <= 0:
            return
        self.cancel_appointment_id = appointment_id
        self.cancel_summary = str(summary)[:300]
        self.cancel_error = ""
        self.cancel_open = True

    @rx.event
    def set_cancel_open(self, value: bool):
        self.cancel_open = bool(value)

    @rx.event
    async def confirm_cancel(self, form_data: dict[str, Any]):
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        reason = str(form_data.get("motif_annulation") or "").strip()[:500]
        appointment_id = self.cancel_appointment_id
        try:
            await run_service(lambda s: booking.cancel(s, actor, appointment_id, reason), write=True)
        except DomainError as error:
            self.cancel_error = getattr(error, "errors", {}).get("reason", "") or error.message
            return None
        self.cancel_open = False
        await announce_agenda_change(self)
        return rx.toast.info("Rendez-vous annulé : le créneau est de nouveau libre.", duration=5000)

    @rx.event
    def set_extra_open(self, value: bool):
        self.extra_open = bool(value)
        self.extra_errors = dict.fromkeys(self.extra_errors, "")

    @rx.event
    async def book_extra(self, form_data: dict[str, Any]):
        """A surnuméraire appointment outside the published slots (coordinators; reason required)."""
        actor = await self._actor()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        blank = dict.fromkeys(self.extra_errors, "")
        picker = await self.get_state(PatientPickerState)
        day = str(form_data.get("jour") or "")[:10]
        start = _paris_moment(day, str(form_data.get("debut") or "")[:5])
        end = _paris_moment(day, str(form_data.get("fin") or "")[:5])
        errors = dict(blank)
        if start is None:
            errors["start"] = "Indiquez le jour et l'heure de début."
        if end is None:
            errors["end"] = "Indiquez l'heure de fin."
        if not picker.patient_id:
            errors["patient_id"] = "Choisissez le patient."
        if any(errors.values()) or start is None or end is None:
            self.extra_errors = errors
            return None
        target, patient_id = self.target_id, picker.patient_id
        reason = str(form_data.get("motif") or "").strip()[:500]
        extra_reason = str(form_data.get("justification") or "").strip()[:500]
        try:
            await run_service(
                lambda s: booking.book_extra(
                    s,
                    actor,
                    professional_id=target,
                    patient_id=patient_id,
                    start=start,
                    end=end,
                    reason=reason,
                    extra_reason=extra_reason,
                ),
                write=True,
            )
        except ValidationFailed as failure:
            self.extra_errors = blank | failure.errors | {"form": failure.message}
            return None
        except DomainError as error:
            self.extra_errors = blank | {"form": error.message}
            return None
        self.extra_open = False
        picker._reset()
        await announce_agenda_change(self)
        return rx.toast.success("Rendez-vous surnuméraire enregistré.", duration=5000)


def _paris_moment(day: str, hhmm: str) -> datetime | None:
    try:
        return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=PARIS)
    except ValueError:
        return None
