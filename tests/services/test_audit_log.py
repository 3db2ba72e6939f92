"""The audit trail page's service: admins only, newest first, filters, and its own audit event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.types import utcnow
from cpts_app.services import audit, audit_log
from cpts_app.services.errors import PermissionDenied
from tests.services import factories


def test_admin_reads_newest_first_with_filters(session: Session) -> None:
    admin = factories.actor(session, Role.ADMIN)
    base = utcnow() - timedelta(hours=1)
    for i in range(30):
        event = audit.record(
            session, "auth.sign_in", actor=admin, outcome="failure" if i % 3 == 0 else "success"
        )
        event.at = base + timedelta(minutes=i)
    audit.record(session, "directory.professional.create", actor=admin).at = base + timedelta(minutes=40)
    session.commit()

    rows, total = audit_log.list_events(session, admin)
    assert total == 31
    assert len(rows) == audit_log.PAGE_SIZE
    assert rows[0].action == "directory.professional.create"
    assert admin.display_name in rows[0].actor

    failures, failure_total = audit_log.list_events(session, admin, action_prefix="auth.", failures_only=True)
    assert failure_total == 10
    assert {r.outcome for r in failures} == {"échec"}

    last_page, _ = audit_log.list_events(session, admin, page=99)
    assert len(last_page) == 31 + 2 - audit_log.PAGE_SIZE  # the two reads above are audited too
    session.commit()
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "audit.read")).all()) == 3


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.PROFESSIONAL, Role.SECRETARIAT, Role.MEDICOBUS_TEAM])
def test_only_admins_read_the_trail(session: Session, role: Role) -> None:
    with pytest.raises(PermissionDenied):
        audit_log.list_events(session, factories.actor(session, role))
