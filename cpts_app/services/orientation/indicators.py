"""The activity indicators reported to the ARS and the Assurance Maladie, computed from the
timestamps every step leaves on the referrals (``received_at``, ``first_contact_at``,
``oriented_at``) and their appointments.

Why from timestamps and not counters: a figure can then always be re-derived and explained, and
the CSV says, for each row, what exactly was counted (its definition travels with its value).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from cpts_app.models.agenda import Appointment
from cpts_app.models.orientation import Referral, ReferralReason, ReferralSource
from cpts_app.services import audit
from cpts_app.services.agenda.clock import day_bounds, paris_day
from cpts_app.services.errors import ValidationFailed
from cpts_app.services.orientation.access import require_capacity_reader
from cpts_app.services.orientation.capacity import current_capacity, oriented_patients
from cpts_app.services.orientation.labels import REASON_LABELS, SOURCE_LABELS
from cpts_app.services.orientation.timers import is_half_day_need, served_in_half_day
from cpts_app.services.permissions import Actor

MAX_PERIOD_DAYS = 366
BOM = "\ufeff"

DEFINITIONS = {
    "received": "Demandes reçues dans la période (toutes sources).",
    "first_contact_median": "Médiane, en heures, entre la réception et la première tentative de contact, "
    "pour les demandes reçues dans la période et déjà contactées.",
    "first_contact_p90": "90e centile (rang le plus proche), en heures, du même délai.",
    "first_contact_within_48h": "Part des demandes reçues dans la période contactées dans les 48 h.",
    "appointment_median": "Médiane, en heures, entre la réception et le début du rendez-vous obtenu, "
    "pour les demandes reçues dans la période orientées vers un rendez-vous.",
    "half_day_served": "Part des besoins de soins non programmés (ou « dans la demi-journée ») reçus dans "
    "la période, orientés avant la fin de la demi-journée de réception (13 h ou minuit, heure de Paris).",
    "attending_doctor_found": "Patients ayant trouvé un médecin traitant (enregistré dans la période).",
    "oriented": "Patients distincts orientés dans la période (rendez-vous ou médecin traitant).",
    "capacity": "Capacité d'accueil du pôle sur la période : capacité mensuelle × nombre de mois calendaires "
    "couverts.",
    "capacity_use": "Part de la capacité d'accueil utilisée : patients orientés ÷ capacité de la période.",
    "by_source": "Demandes reçues dans la période, par origine.",
    "by_reason": "Demandes reçues dans la période, par motif.",
}


@dataclass(frozen=True)
class Indicators:
    date_from: date
    date_to: date
    received: int
    by_source: list[tuple[str, int]]
    """(French label, count), every source listed (zero included) for stable charts."""
    by_reason: list[tuple[str, int]]
    by_week: list[tuple[str, int, int]]
    """(week label « S11 2026 », received, oriented)."""
    first_contact_median_hours: float | None
    first_contact_p90_hours: float | None
    first_contact_within_48h_share: float | None
    """0..1, None when nothing was contacted."""
    appointment_median_hours: float | None
    half_day_needs: int
    half_day_served: int
    half_day_served_share: float | None
    attending_doctor_found: int
    oriented_patients: int
    monthly_capacity: int
    period_capacity: int
    capacity_use_share: float | None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the value below which ``fraction`` of the values lie)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 1)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _months_covered(date_from: date, date_to: date) -> int:
    return (date_to.year - date_from.year) * 12 + date_to.month - date_from.month + 1


def _week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"S{week:02d} {year}"


def _compute(session: Session, date_from: date, date_to: date) -> Indicators:
    start, _ = day_bounds(date_from)
    _, end = day_bounds(date_to)
    received = list(
        session.exec(
            select(Referral).where(col(Referral.received_at) >= start, col(Referral.received_at) < end)
        ).all()
    )
    oriented_in_period = list(
        session.exec(
            select(Referral).where(col(Referral.oriented_at) >= start, col(Referral.oriented_at) < end)
        ).all()
    )
    by_source = [(SOURCE_LABELS[s], sum(1 for r in received if r.source == s)) for s in ReferralSource]
    by_reason = [(REASON_LABELS[s], sum(1 for r in received if r.reason == s)) for s in ReferralReason]
    weeks: dict[str, list[int]] = {}
    day = date_from - timedelta(days=date_from.weekday())
    while day <= date_to:
        weeks[_week_label(day)] = [0, 0]
        day += timedelta(days=7)
    for referral in received:
        weeks.setdefault(_week_label(paris_day(referral.received_at)), [0, 0])[0] += 1
    for referral in oriented_in_period:
        assert referral.oriented_at is not None
        weeks.setdefault(_week_label(paris_day(referral.oriented_at)), [0, 0])[1] += 1
    contact_delays = [_hours(r.received_at, r.first_contact_at) for r in received if r.first_contact_at]
    within_48h = sum(1 for hours in contact_delays if hours <= 48)
    appointment_ids = [r.appointment_id for r in received if r.appointment_id is not None]
    starts = (
        dict(
            session.exec(
                select(Appointment.id, Appointment.start).where(col(Appointment.id).in_(appointment_ids))
            ).all()
        )
        if appointment_ids
        else {}
    )
    appointment_delays = [
        _hours(r.received_at, starts[r.appointment_id]) for r in received if r.appointment_id in starts
    ]
    half_day = [r for r in received if is_half_day_need(r)]
    served = sum(1 for r in half_day if served_in_half_day(r))
    found_doctor = len({r.patient_id for r in oriented_in_period if r.new_attending_doctor_id is not None})
    oriented = oriented_patients(session, start, end)
    monthly = current_capacity(session)
    period_capacity = monthly * _months_covered(date_from, date_to)
    return Indicators(
        date_from=date_from,
        date_to=date_to,
        received=len(received),
        by_source=by_source,
        by_reason=by_reason,
        by_week=[(label, counts[0], counts[1]) for label, counts in weeks.items()],
        first_contact_median_hours=round(statistics.median(contact_delays), 1) if contact_delays else None,
        first_contact_p90_hours=percentile(contact_delays, 0.9),
        first_contact_within_48h_share=_share(within_48h, len(contact_delays)),
        appointment_median_hours=round(statistics.median(appointment_delays), 1)
        if appointment_delays
        else None,
        half_day_needs=len(half_day),
        half_day_served=served,
        half_day_served_share=_share(served, len(half_day)),
        attending_doctor_found=found_doctor,
        oriented_patients=oriented,
        monthly_capacity=monthly,
        period_capacity=period_capacity,
        capacity_use_share=_share(oriented, period_capacity),
    )


def _check_period(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationFailed({"date_to": "La fin de la période doit suivre son début."})
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed({"date_to": f"La période ne doit pas dépasser {MAX_PERIOD_DAYS} jours."})


def indicators(session: Session, actor: Actor, *, date_from: date, date_to: date) -> Indicators:
    """The indicators of [date_from, date_to] (Paris days, both included)."""
    require_capacity_reader(actor)
    _check_period(date_from, date_to)
    result = _compute(session, date_from, date_to)
    audit.record(
        session,
        "referral.indicators.read",
        actor=actor,
        target_type="indicators",
        detail={"from": date_from.isoformat(), "to": date_to.isoformat()},
    )
    return result


def _number(value: float | int | None, *, percent: bool = False) -> str:
    """French decimal comma; empty when not computable; shares as percentages."""
    if value is None:
        return ""
    if percent:
        value = round(value * 100, 1)
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}".replace(".", ",")


def _percent(value: float | None) -> str:
    return _number(value, percent=True)


def indicators_csv(session: Session, actor: Actor, *, date_from: date, date_to: date) -> str:
    """The indicators as CSV for French Excel: « ; » separator, UTF-8 with BOM, one row each."""
    require_capacity_reader(actor)
    _check_period(date_from, date_to)
    data = _compute(session, date_from, date_to)
    period = (f"{date_from:%d/%m/%Y}", f"{date_to:%d/%m/%Y}")
    pct = _percent
    rows: list[tuple[str, str, str, str]] = [
        ("Demandes reçues", _number(data.received), "demandes", "received"),
        ("Délai médian avant premier contact", _number(data.first_contact_median_hours), "heures",
         "first_contact_median"),
        ("Délai avant premier contact (90e centile)", _number(data.first_contact_p90_hours), "heures",
         "first_contact_p90"),
        ("Premier contact sous 48 h", pct(data.first_contact_within_48h_share), "%",
         "first_contact_within_48h"),
        ("Délai médian avant rendez-vous", _number(data.appointment_median_hours), "heures",
         "appointment_median"),
        ("Soins non programmés servis dans la demi-journée", pct(data.half_day_served_share), "%",
         "half_day_served"),
        ("Patients ayant trouvé un médecin traitant", _number(data.attending_doctor_found), "patients",
         "attending_doctor_found"),
        ("Patients orientés", _number(data.oriented_patients), "patients", "oriented"),
        ("Capacité d'accueil de la période", _number(data.period_capacity), "patients", "capacity"),
        ("Utilisation de la capacité d'accueil", pct(data.capacity_use_share), "%", "capacity_use"),
    ]  # fmt: skip
    rows += [(f"Demandes — origine : {name}", str(n), "demandes", "by_source") for name, n in data.by_source]
    rows += [(f"Demandes — motif : {name}", str(n), "demandes", "by_reason") for name, n in data.by_reason]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Indicateur", "Valeur", "Unité", "Début de période", "Fin de période", "Définition"])
    for name, value, unit, key in rows:
        writer.writerow([name, value, unit, *period, DEFINITIONS[key]])
    audit.record(
        session,
        "referral.indicators.export",
        actor=actor,
        target_type="indicators",
        detail={"from": date_from.isoformat(), "to": date_to.isoformat(), "rows": len(rows)},
    )
    return BOM + buffer.getvalue()
