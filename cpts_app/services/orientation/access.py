"""Who may do what in the orientation, expressed with the existing permissions.

Why local: the permission table has no orientation entries yet; these three checks map the
orientation's actions onto existing members in one place, so that a later dedicated permission
(e.g. ``REFERRAL_TRIAGE``) changes this file only.
"""

from __future__ import annotations

from cpts_app.models.access import Role
from cpts_app.services.errors import PermissionDenied
from cpts_app.services.permissions import Actor, Permission, require

CAPACITY_EDITORS = frozenset({Role.ADMIN, Role.COORDINATOR})


def require_referrer(actor: Actor | None) -> Actor:
    """Professionals (and coordination) who may create a patient may also refer one."""
    return require(actor, Permission.CREATE_PATIENT)


def require_coordinator(actor: Actor | None) -> Actor:
    """Triage, qualification, contact and orientation: the roles that see every patient's name."""
    return require(actor, Permission.SEE_ALL_PATIENT_NAMES)


def require_capacity_reader(actor: Actor | None) -> Actor:
    """The monthly capacity gauge sits with the agenda's capacity board."""
    return require(actor, Permission.VIEW_CAPACITY_BOARD)


def require_capacity_editor(actor: Actor | None) -> Actor:
    """Only an administrator or a coordinator changes the pôle's monthly capacity."""
    checked = require(actor, Permission.VIEW_CAPACITY_BOARD)
    if checked.role not in CAPACITY_EDITORS:
        raise PermissionDenied()
    return checked
