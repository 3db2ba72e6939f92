"""One line of a referral list (``QueueItem``), shared by the queue, « mes demandes » and the detail.

Why computed at read time: the priority and the timers depend on « now » (waiting time counts),
so they are never read from a stored column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cpts_app.models.directory import Commune, Professional
from cpts_app.models.orientation import Referral
from cpts_app.models.patient import Patient
from cpts_app.services.agenda.clock import PARIS, paris_day
from cpts_app.services.orientation.contact_traits import parse_traits
from cpts_app.services.orientation.labels import (
    REASON_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    URGENCY_LABELS,
    label,
)
from cpts_app.services.orientation.priority import age_on, score_referral
from cpts_app.services.orientation.timers import deadline
from cpts_app.services.patients import display_name


@dataclass(frozen=True)
class QueueItem:
    id: int
    patient_label: str
    """"NOM Prénoms", or the contact's name followed by "(à qualifier)"."""
    age: int | None
    commune_name: str
    reason: str
    reason_label: str
    urgency: str
    urgency_label: str
    source: str
    source_label: str
    status: str
    status_label: str
    priority: int
    priority_parts: list[str]
    """"ALD +30", "70 ans ou plus +20"…"""
    received_at: str
    """Paris "dd/mm HH:MM"."""
    waiting_hours: int
    first_contact_due: str
    """The next commitment, worded (« Premier contact avant le 12/03 09:00 »…)."""
    overdue: bool
    referrer: str


def _referrer_label(referral: Referral, professionals: dict[int, Professional]) -> str:
    pro = professionals.get(referral.referrer_professional_id or 0)
    source = label(SOURCE_LABELS, referral.source)
    if pro is None:
        return source
    return f"{pro.first_name} {pro.last_name.upper()} ({source})"


def build_item(
    referral: Referral,
    patient: Patient | None,
    commune_name: str,
    referrer: str,
    now: datetime,
) -> QueueItem:
    """One line of a queue, with the priority and the timers computed at ``now``."""
    assert referral.id is not None
    today = paris_day(now)
    if patient is not None:
        patient_label = display_name(patient.birth_name, patient.first_names, patient.used_name)
        age: int | None = age_on(patient.birth_date, today)
    else:
        patient_label = f"{referral.contact_name or 'Inconnu'} (à qualifier)"
        traits = parse_traits(referral.free_text)
        age = age_on(traits.birth_date, today) if traits.birth_date else None
    explanation = score_referral(referral, patient, now=now)
    end = referral.oriented_at or referral.closed_at or now
    timer = deadline(referral, now)
    return QueueItem(
        id=referral.id,
        patient_label=patient_label,
        age=age,
        commune_name=commune_name,
        reason=str(referral.reason),
        reason_label=label(REASON_LABELS, referral.reason),
        urgency=str(referral.urgency),
        urgency_label=label(URGENCY_LABELS, referral.urgency),
        source=str(referral.source),
        source_label=label(SOURCE_LABELS, referral.source),
        status=str(referral.status),
        status_label=label(STATUS_LABELS, referral.status),
        priority=explanation.score,
        priority_parts=[f"{text} +{points}" for text, points in explanation.parts],
        received_at=f"{referral.received_at.astimezone(PARIS):%d/%m %H:%M}",
        waiting_hours=max(0, int((end - referral.received_at).total_seconds() // 3600)),
        first_contact_due=timer.label,
        overdue=timer.overdue,
        referrer=referrer,
    )


def build_items(
    session: Session, rows: list[tuple[Referral, Patient | None]], now: datetime
) -> list[QueueItem]:
    """Items for ``rows``, with commune and referrer names read in two queries."""
    commune_ids = {
        cid
        for referral, patient in rows
        if (cid := referral.commune_id or (patient.commune_id if patient else None)) is not None
    }
    communes = (
        dict(session.exec(select(Commune.id, Commune.name).where(col(Commune.id).in_(commune_ids))).all())
        if commune_ids
        else {}
    )
    pro_ids = {r.referrer_professional_id for r, _ in rows if r.referrer_professional_id is not None}
    professionals = (
        {p.id: p for p in session.exec(select(Professional).where(col(Professional.id).in_(pro_ids))).all()}
        if pro_ids
        else {}
    )
    items = []
    for referral, patient in rows:
        cid = referral.commune_id or (patient.commune_id if patient else None)
        items.append(
            build_item(
                referral,
                patient,
                communes.get(cid, "") if cid is not None else "",
                _referrer_label(referral, professionals),  # type: ignore[arg-type]
                now,
            )
        )
    return items
