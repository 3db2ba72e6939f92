"""French labels of the agenda's enumerations, shared by pages, feeds and messages.

Why here: the stored values are English codes (or national TRE_R314 codes); users must always see
the same French words.
"""

from __future__ import annotations

from cpts_app.models.agenda import AppointmentStatus, Audience, SlotKind

SLOT_KIND_LABELS: dict[SlotKind, str] = {
    SlotKind.CONSULTATION: "Consultation",
    SlotKind.UNSCHEDULED: "Soins non programmés",
    SlotKind.TELECONSULTATION: "Téléconsultation",
    SlotKind.HOME_VISIT: "Visite à domicile",
    SlotKind.MEDICOBUS: "Médicobus",
    SlotKind.PERMANENCE: "Permanence",
}

AUDIENCE_LABELS: dict[Audience, str] = {
    Audience.PUBLIC: "Public",
    Audience.PRO: "Professionnels",
    Audience.SNP: "SNP / SAS",
    Audience.CPTS: "CPTS",
}

APPOINTMENT_STATUS_LABELS: dict[AppointmentStatus, str] = {
    AppointmentStatus.BOOKED: "Réservé",
    AppointmentStatus.FULFILLED: "Honoré",
    AppointmentStatus.NOSHOW: "Non venu",
    AppointmentStatus.CANCELLED: "Annulé",
}

WEEKDAY_LABELS: tuple[str, ...] = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
"""Monday = 0, as ``date.weekday()`` and ``AvailabilityRule.weekday``."""
