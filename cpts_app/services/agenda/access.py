"""Who may book which slot, who sees a patient's name, who may cancel: the agenda's rules in one place.

Why one module: the search (in SQL), the booking (in Python) and the views must agree exactly, or a
slot offered in a search would be refused at booking, or a name hidden in one view shown in another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, literal, or_
from sqlmodel import col

from cpts_app.models.access import Role
from cpts_app.models.agenda import Appointment, Audience, Slot
from cpts_app.services.permissions import Actor, Permission, has_permission

_COORDINATION_AUDIENCES = frozenset({Audience.PRO.value, Audience.CPTS.value, Audience.SNP.value})
_CARE_AUDIENCES = frozenset({Audience.PRO.value, Audience.CPTS.value})

AUDIENCES_BY_ROLE: dict[Role, frozenset[str]] = {
    Role.ADMIN: _COORDINATION_AUDIENCES,
    Role.COORDINATOR: _COORDINATION_AUDIENCES,
    Role.SECRETARIAT: _COORDINATION_AUDIENCES,
    Role.PROFESSIONAL: _CARE_AUDIENCES,
    Role.MEDICOBUS_TEAM: _CARE_AUDIENCES,
}
"""The audiences whose slots a role may book in a colleague's agenda (PUBLIC is for patients)."""


def audience_codes(audience: str) -> set[str]:
    """The codes of a stored comma-separated audience ("PRO,SNP" → {"PRO", "SNP"})."""
    return {code.strip() for code in (audience or "").split(",") if code.strip()}


def visible_audiences(actor: Actor) -> set[str]:
    """The audiences of colleagues' slots the actor may book (and therefore find in a search)."""
    if not has_permission(actor, Permission.BOOK_APPOINTMENT):
        return set()
    return set(AUDIENCES_BY_ROLE.get(actor.role, frozenset()))


def can_book(actor: Actor, slot: Slot) -> bool:
    """Whether ``actor`` may book ``slot`` (its own agenda, or a colleague's slot open to its role)."""
    if not has_permission(actor, Permission.BOOK_APPOINTMENT):
        return False
    if actor.professional_id is not None and slot.professional_id == actor.professional_id:
        return True
    return bool(audience_codes(slot.audience) & visible_audiences(actor))


def audience_includes(code: str) -> Any:
    """SQL: the slot's comma-separated audience contains ``code`` (portable, no dialect function)."""
    wrapped = literal(",") + col(Slot.audience) + literal(",")
    return wrapped.contains(f",{code},", autoescape=True)


def bookable_condition(actor: Actor) -> Any:
    """SQL twin of ``can_book`` on the Slot table, so that a search's LIMIT stays in the database."""
    if not has_permission(actor, Permission.BOOK_APPOINTMENT):
        return false()
    clauses = [audience_includes(code) for code in sorted(visible_audiences(actor))]
    if actor.professional_id is not None:
        clauses.append(col(Slot.professional_id) == actor.professional_id)
    return or_(*clauses) if clauses else false()


def can_see_patient(actor: Actor, appointment: Appointment) -> bool:
    """Coordination roles see every name; others only on their own agenda or their own bookings."""
    if has_permission(actor, Permission.SEE_ALL_PATIENT_NAMES):
        return True
    if actor.professional_id is not None and appointment.professional_id == actor.professional_id:
        return True
    return appointment.booked_by_user_id == actor.user_id


def can_cancel(actor: Actor, appointment: Appointment) -> bool:
    """The booker, the professional whose agenda it is, or a coordination role."""
    if not has_permission(actor, Permission.BOOK_APPOINTMENT) and not has_permission(
        actor, Permission.SEE_ALL_PATIENT_NAMES
    ):
        return False
    return can_see_patient(actor, appointment)


def can_set_outcome(actor: Actor, appointment: Appointment) -> bool:
    """Only the professional who saw (or waited for) the patient, or a coordination role."""
    if has_permission(actor, Permission.SEE_ALL_PATIENT_NAMES):
        return True
    return actor.professional_id is not None and appointment.professional_id == actor.professional_id
