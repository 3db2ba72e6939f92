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
    """Actions guarded by a role."""

    READ_DIRECTORY = "directory.read"
    MANAGE_DIRECTORY = "directory.manage"
    MANAGE_USERS = "users.manage"
    READ_AUDIT = "audit.read"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.COORDINATOR: frozenset({Permission.READ_DIRECTORY}),
    Role.PROFESSIONAL: frozenset({Permission.READ_DIRECTORY}),
    Role.SECRETARIAT: frozenset({Permission.READ_DIRECTORY}),
    Role.MEDICOBUS_TEAM: frozenset({Permission.READ_DIRECTORY}),
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
