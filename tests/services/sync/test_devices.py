"""Enrolment by one-time code, revocation, and how a device contact is recognised or refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, select

from cpts_app.models.access import Role, User
from cpts_app.models.audit import AuditEvent
from cpts_app.models.sync import SyncDevice
from cpts_app.models.types import utcnow
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.sync import devices
from tests.services import factories


def _public_key() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _enrol(session: Session, **overrides) -> tuple[SyncDevice, str]:
    admin = factories.actor(session, Role.ADMIN)
    field_user = factories.field_account(session, email="bus@example.fr")
    args = {"label": "Médicobus – portable 1", "user_id": field_user.id, "tour_id": None, "lease_days": 7}
    args.update(overrides)
    return devices.create_enrolment(session, admin, **args)


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_only_an_admin_enrols_or_revokes(session: Session) -> None:
    coordinator = factories.actor(session, Role.COORDINATOR)
    with pytest.raises(PermissionDenied):
        devices.create_enrolment(
            session, coordinator, label="Portable", user_id=coordinator.user_id, tour_id=None
        )
    device, _ = _enrol(session)
    with pytest.raises(PermissionDenied):
        devices.revoke(session, coordinator, device.device_id, "vol")


def test_the_code_binds_the_laptops_key_once_and_is_stored_hashed(session: Session) -> None:
    device, code = _enrol(session)
    assert len(code) == 14 and code.count("-") == 2
    assert code.replace("-", "") not in (device.enrolment_code_hash or "")
    key = _public_key()
    claimed = devices.claim_enrolment(session, code.lower().replace("-", " "), key)
    assert claimed.device_id == device.device_id and claimed.public_key == key
    assert claimed.enrolment_code_hash is None and claimed.enrolled_at is not None
    with pytest.raises(devices.DeviceRefused) as second:
        devices.claim_enrolment(session, code, _public_key())
    assert second.value.status == 403 and "déjà utilisé" in second.value.message
    assert "sync.device.created" in _actions(session) and "sync.device.enrolled" in _actions(session)


def test_an_expired_or_wrong_code_and_a_bad_key_are_refused_in_french(session: Session) -> None:
    device, code = _enrol(session)
    with pytest.raises(devices.DeviceRefused) as bad_key:
        devices.claim_enrolment(session, code, b"\x01" * 31)
    assert bad_key.value.status == 400 and "Ed25519" in bad_key.value.message
    with pytest.raises(devices.DeviceRefused):
        devices.claim_enrolment(session, "AAAA-BBBB-CCCC", _public_key())
    device.enrolment_expires_at = utcnow() - timedelta(minutes=1)
    session.add(device)
    with pytest.raises(devices.DeviceRefused) as expired:
        devices.claim_enrolment(session, code, _public_key())
    assert "expiré" in expired.value.message
    assert device.public_key is None
    devices.record_refusal(
        session, "sync.device.enrolment_refused", expired.value, device_id=None, ip="1.2.3.4"
    )
    assert "sync.device.enrolment_refused" in _actions(session)


def test_bad_enrolment_fields_are_explained(session: Session) -> None:
    with pytest.raises(ValidationFailed) as error:
        _enrol(session, label="x", lease_days=0, tour_id=999_999)
    assert set(error.value.errors) == {"label", "lease_days", "tour_id"}
    assert "entre 1 et 60 jours" in error.value.errors["lease_days"]


def test_a_contact_is_recognised_then_refused_once_revoked_and_told_to_erase(session: Session) -> None:
    device, code = _enrol(session)
    with pytest.raises(devices.DeviceRefused) as pending:
        devices.device_for_contact(session, device.device_id)
    assert pending.value.status == 401  # enrolled on the server, but no laptop claimed it yet
    devices.claim_enrolment(session, code, _public_key())
    assert devices.device_for_contact(session, device.device_id).last_contact_at is not None

    admin = factories.actor(session, Role.ADMIN)
    devices.revoke(session, admin, device.device_id, "Portable volé à Beaucaire")
    with pytest.raises(devices.DeviceRefused) as refused:
        devices.device_for_contact(session, device.device_id)
    assert refused.value.status == 403 and refused.value.revoked and "effacées" in refused.value.message
    devices.record_refusal(
        session, "sync.contact.refused", refused.value, device_id=device.device_id, ip=None
    )
    devices.confirm_wiped(session, device.device_id)
    (view,) = devices.list_devices(session, admin)
    assert view.state == "effacé"
    assert {"sync.device.revoked", "sync.contact.refused", "sync.device.wiped"} <= set(_actions(session))


def test_unknown_device_and_revocation_input(session: Session) -> None:
    with pytest.raises(devices.DeviceRefused) as unknown:
        devices.device_for_contact(session, "0" * 32)
    assert unknown.value.status == 401 and "inconnu" in unknown.value.message
    admin = factories.actor(session, Role.ADMIN)
    with pytest.raises(NotFound):
        devices.revoke(session, admin, "0" * 32, "vol")
    device, _ = _enrol(session)
    with pytest.raises(ValidationFailed):
        devices.revoke(session, admin, device.device_id, "  ")


def test_a_laptop_without_a_tour_serves_its_accounts_structure_or_is_refused(session: Session) -> None:
    admin = factories.actor(session, Role.ADMIN)
    lone = factories.user(session, email="seul@example.fr", role=Role.MEDICOBUS_TEAM)
    with pytest.raises(ValidationFailed) as refused:
        devices.create_enrolment(session, admin, label="Permanence", user_id=lone.id, tour_id=None)
    assert refused.value.errors["tour_id"] == devices.NO_STRUCTURE
    linked = factories.field_account(session, email="permanence@example.fr")
    device, _ = devices.create_enrolment(session, admin, label="Permanence", user_id=linked.id, tour_id=None)
    assert device.structure_id is not None
    assert device.structure_id == devices.permanence_structure(session, linked)


def test_a_laptop_whose_account_was_deactivated_is_refused_without_being_erased(session: Session) -> None:
    device, code = _enrol(session)
    devices.claim_enrolment(session, code, _public_key())
    account = session.get(User, device.user_id)
    account.active = False
    session.add(account)
    session.flush()
    with pytest.raises(devices.DeviceRefused) as refused:
        devices.device_for_contact(session, device.device_id)
    assert refused.value.status == 403 and not refused.value.revoked
    assert "désactivé" in refused.value.message
