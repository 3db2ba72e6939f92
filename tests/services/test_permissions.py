"""Roles and permissions: only administrators manage the directory; everyone signed in reads it."""

from __future__ import annotations

import pytest

from cpts_app.models.access import Role
from cpts_app.services.errors import PermissionDenied
from cpts_app.services.permissions import Actor, Permission, has_permission, require


def _actor(role: Role) -> Actor:
    return Actor(user_id=1, role=role, display_name="x")


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_the_directory(role: Role) -> None:
    assert has_permission(_actor(role), Permission.READ_DIRECTORY)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admin_manages(role: Role) -> None:
    with pytest.raises(PermissionDenied):
        require(_actor(role), Permission.MANAGE_DIRECTORY)
    admin = _actor(Role.ADMIN)
    assert require(admin, Permission.MANAGE_DIRECTORY) is admin


def test_no_actor_is_denied() -> None:
    with pytest.raises(PermissionDenied) as info:
        require(None, Permission.READ_DIRECTORY)
    assert "Accès refusé" in info.value.message
