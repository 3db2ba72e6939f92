"""The one permission check: roles map to permissions; services call ``require`` before acting.

Hiding a button is not a check: every service that reads or writes protected data takes an
``Actor`` and calls ``require`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cpts_app.models.access import Role
from cpts_app.services.errors import PermissionDenied


class Permission(StrEnum):
    """Actions guarded by a role (finer rules, such as "own agenda", live in the service)."""

    READ_DIRECTORY = "directory.read"
    MANAGE_DIRECTORY = "directory.manage"
    MANAGE_USERS = "users.manage"
    READ_AUDIT = "audit.read"
    VIEW_AGENDA = "agenda.view"
    BOOK_APPOINTMENT = "agenda.book"
    BOOK_EXTRA = "agenda.book_extra"
    """Surnuméraire: outside the published slots."""
    MANAGE_OWN_AVAILABILITY = "agenda.availability.own"
    MANAGE_ANY_AVAILABILITY = "agenda.availability.any"
    VIEW_CAPACITY_BOARD = "agenda.capacity"
    READ_PATIENT = "patient.read"
    CREATE_PATIENT = "patient.create"
    SEE_ALL_PATIENT_NAMES = "patient.names.all"
    """See who is booked on any slot (coordination); others see names on their own slots only."""
    USE_MESSAGING = "messaging.use"
    """Read and write in the threads one belongs to; start a direct conversation."""
    COORDINATE_MESSAGING = "messaging.coordinate"
    """Read every patient thread, form care teams, create channels, broadcast."""
    MANAGE_DEVICES = "devices.manage"
    """Enrol and revoke the field laptops that work offline (admin only)."""
    REVIEW_SYNC_CONFLICTS = "sync.conflicts"
    """See the values that lost a merge between laptops and the server, keep or restore them."""


_CARE = frozenset(
    {
        Permission.READ_DIRECTORY,
        Permission.VIEW_AGENDA,
        Permission.BOOK_APPOINTMENT,
        Permission.READ_PATIENT,
        Permission.CREATE_PATIENT,
        Permission.USE_MESSAGING,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.COORDINATOR: _CARE
    | {
        Permission.BOOK_EXTRA,
        Permission.MANAGE_ANY_AVAILABILITY,
        Permission.VIEW_CAPACITY_BOARD,
        Permission.SEE_ALL_PATIENT_NAMES,
        Permission.COORDINATE_MESSAGING,
        Permission.REVIEW_SYNC_CONFLICTS,
    },
    Role.PROFESSIONAL: _CARE | {Permission.MANAGE_OWN_AVAILABILITY},
    Role.SECRETARIAT: _CARE
    | {Permission.MANAGE_ANY_AVAILABILITY, Permission.VIEW_CAPACITY_BOARD, Permission.SEE_ALL_PATIENT_NAMES},
    Role.MEDICOBUS_TEAM: _CARE | {Permission.MANAGE_OWN_AVAILABILITY},
}


@dataclass(frozen=True)
class Actor:
    """The signed-in user on whose behalf a service acts (resolved server-side from the session)."""

    user_id: int
    role: Role
    display_name: str
    professional_id: int | None = None
    ip: str | None = None


def has_permission(actor: Actor, permission: Permission) -> bool:
    """Whether ``actor``'s role grants ``permission``."""
    return permission in ROLE_PERMISSIONS.get(actor.role, frozenset())


def require(actor: Actor | None, permission: Permission) -> Actor:
    """Return ``actor`` if allowed, else raise ``PermissionDenied`` (French message)."""
    if actor is None or not has_permission(actor, permission):
        raise PermissionDenied()
    return actor
