"""Enrolling, revoking and recognising the field laptops (médicobus, permanences).

Why a one-time code: the admin creates the device (label, account, scope, lease) and reads a
short code to the field team; the laptop makes its own Ed25519 key and sends the public half with
the code. The private key never travels, the code is stored hashed, expires in a day and works
once. Every step is audited (a refusal by the caller, in its own transaction:
``record_refusal``). A revoked device is refused at its next contact and told to erase its keys
and data; it is never deleted (its past batches stay attributable).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, col, select

from cpts_app.models.access import User
from cpts_app.models.agenda import Tour
from cpts_app.models.directory import ProfessionalStructure
from cpts_app.models.sync import SyncDevice
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import DomainError, NotFound, ValidationFailed
from cpts_app.services.permissions import Actor, Permission, require

CODE_LIFETIME = timedelta(hours=24)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: the code is read aloud or typed from a screen."""
CODE_LENGTH = 12
LEASE_DAYS_RANGE = (1, 60)
DEVICE_NOT_FOUND = "Cet appareil n'existe pas."
BAD_CODE = "Code d'inscription inconnu, déjà utilisé ou expiré : demandez-en un nouveau."


class DeviceRefused(DomainError):
    """A device contact refused; ``status`` is the HTTP status the sync routes answer with."""

    def __init__(self, message: str, status: int, *, revoked: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.revoked = revoked


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    label: str
    user_name: str
    tour_name: str | None
    lease_days: int
    state: str
    """« en attente d'inscription », « actif », « révoqué », « effacé »."""
    enrolled_at: datetime | None
    last_contact_at: datetime | None
    revoked_at: datetime | None


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


NO_STRUCTURE = (
    "Choisissez une tournée : sans tournée, l'appareil sert une permanence de la structure du "
    "compte, et ce compte n'est rattaché à aucune structure."
)


def permanence_structure(session: Session, user: User | None) -> int | None:
    """The structure a tour-less laptop serves: its account's (first) structure, if any.

    Why: a permanence laptop must only hold its own structure's records; without a structure
    there would be one scope shared by every tour-less laptop of the territory.
    """
    if user is None or user.professional_id is None:
        return None
    return session.exec(
        select(ProfessionalStructure.structure_id)
        .where(ProfessionalStructure.professional_id == user.professional_id)
        .order_by(col(ProfessionalStructure.structure_id))
    ).first()


def normalise_code(raw: str) -> str:
    """Codes are shown as « ABCD-EFGH-JKMN »; typed with or without dashes, in any case."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def create_enrolment(
    session: Session,
    actor: Actor,
    *,
    label: str,
    user_id: int,
    tour_id: int | None,
    lease_days: int = 7,
) -> tuple[SyncDevice, str]:
    """A new device awaiting its laptop, and the one-time code to type on it (shown once)."""
    require(actor, Permission.MANAGE_DEVICES)
    errors: dict[str, str] = {}
    label = " ".join(label.split())
    if not 3 <= len(label) <= 120:
        errors["label"] = "Donnez un nom à l'appareil (3 à 120 caractères), ex. « Médicobus – portable 1 »."
    user = session.get(User, user_id)
    if user is None or not user.active:
        errors["user_id"] = "Choisissez le compte actif pour lequel l'appareil travaillera."
    structure_id = None
    if tour_id is not None and session.get(Tour, tour_id) is None:
        errors["tour_id"] = "Cette tournée n'existe pas."
    elif tour_id is None and user is not None:
        structure_id = permanence_structure(session, user)
        if structure_id is None:
            errors["tour_id"] = NO_STRUCTURE
    if not LEASE_DAYS_RANGE[0] <= lease_days <= LEASE_DAYS_RANGE[1]:
        low, high = LEASE_DAYS_RANGE
        errors["lease_days"] = f"La durée hors ligne doit être comprise entre {low} et {high} jours."
    if errors:
        raise ValidationFailed(errors)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    device = SyncDevice(
        device_id=secrets.token_hex(16),
        label=label,
        user_id=user_id,
        tour_id=tour_id,
        structure_id=structure_id,
        lease_days=lease_days,
        enrolment_code_hash=_hash_code(code),
        enrolment_expires_at=utcnow() + CODE_LIFETIME,
        created_by_user_id=actor.user_id,
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        "sync.device.created",
        actor=actor,
        target_type="sync_device",
        target_id=device.device_id,
        detail={"label": label, "user_id": user_id, "tour_id": tour_id, "lease_days": lease_days},
    )
    return device, "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def claim_enrolment(session: Session, code: str, public_key: bytes, *, ip: str | None = None) -> SyncDevice:
    """The laptop's side of the enrolment: binds its public key to the device the code names."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as error:
        raise DeviceRefused("Clé publique de l'appareil invalide (Ed25519, 32 octets).", 400) from error
    normal = normalise_code(code)
    device = (
        session.exec(select(SyncDevice).where(SyncDevice.enrolment_code_hash == _hash_code(normal))).first()
        if len(normal) == CODE_LENGTH
        else None
    )
    if (
        device is None
        or device.revoked_at is not None
        or device.enrolment_expires_at is None
        or device.enrolment_expires_at < utcnow()
    ):
        raise DeviceRefused(BAD_CODE, 403)
    if session.exec(select(SyncDevice).where(col(SyncDevice.public_key) == public_key)).first() is not None:
        raise DeviceRefused("Cette clé est déjà inscrite : générez-en une nouvelle.", 409)
    device.public_key = public_key
    device.enrolment_code_hash = None  # one use
    device.enrolment_expires_at = None
    device.enrolled_at = device.last_contact_at = utcnow()
    session.add(device)
    session.flush()
    audit.record(
        session,
        "sync.device.enrolled",
        actor_user_id=device.user_id,
        target_type="sync_device",
        target_id=device.device_id,
        ip=ip,
    )
    return device


def revoke(session: Session, actor: Actor, device_id: str, reason: str) -> SyncDevice:
    """Refuse the device from now on; at its next contact it is told to erase its keys and data."""
    require(actor, Permission.MANAGE_DEVICES)
    device = _device(session, device_id)
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= 300:
        raise ValidationFailed(
            {"reason": "Indiquez le motif de la révocation (3 à 300 caractères), ex. « vol »."}
        )
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_by_user_id = actor.user_id
        device.revoked_reason = reason
        device.enrolment_code_hash = None
        session.add(device)
        audit.record(
            session,
            "sync.device.revoked",
            actor=actor,
            target_type="sync_device",
            target_id=device_id,
            detail={"reason": reason},
        )
    return device


def change_scope(session: Session, actor: Actor, device_id: str, tour_id: int | None) -> SyncDevice:
    """Give the laptop another tour; at its next pull it drops what it may no longer hold.

    The new ``scope_epoch`` makes the laptop's cursor stale: the server answers with a reset, the
    laptop keeps only its changes still to push, then pulls its new scope from the start.
    """
    require(actor, Permission.MANAGE_DEVICES)
    device = _device(session, device_id)
    if device.revoked_at is not None:
        raise ValidationFailed({"tour_id": "Cet appareil est révoqué : son périmètre ne change plus."})
    if tour_id is not None and session.get(Tour, tour_id) is None:
        raise ValidationFailed({"tour_id": "Cette tournée n'existe pas."})
    if tour_id == device.tour_id:
        return device
    structure_id = None
    if tour_id is None:
        structure_id = permanence_structure(session, session.get(User, device.user_id))
        if structure_id is None:
            raise ValidationFailed({"tour_id": NO_STRUCTURE})
    previous = device.tour_id
    device.tour_id = tour_id
    device.structure_id = structure_id
    device.scope_epoch += 1
    session.add(device)
    audit.record(
        session,
        "sync.device.scope_changed",
        actor=actor,
        target_type="sync_device",
        target_id=device_id,
        detail={"from_tour": previous, "to_tour": tour_id, "epoch": device.scope_epoch},
    )
    return device


def device_for_contact(session: Session, device_id: str, *, ip: str | None = None) -> SyncDevice:
    """The enrolled, not revoked device behind a sync request; refusals say what the laptop must do.

    The caller still checks the batch's signature with ``device.public_key``.
    """
    device = session.exec(select(SyncDevice).where(SyncDevice.device_id == device_id)).first()
    if device is None or device.public_key is None:
        raise DeviceRefused("Appareil inconnu : inscrivez-le auprès de l'administrateur.", 401)
    if device.revoked_at is not None:
        raise DeviceRefused(
            "Appareil révoqué : ses clés et ses données doivent être effacées.", 403, revoked=True
        )
    account = session.get(User, device.user_id)
    if account is None or not account.active:
        raise DeviceRefused(
            "Le compte de cet appareil est désactivé : synchronisation refusée (voir l'administrateur).", 403
        )
    device.last_contact_at = utcnow()
    session.add(device)
    return device


def record_refusal(
    session: Session, action: str, refusal: DeviceRefused, *, device_id: str | None, ip: str | None
) -> None:
    """Audit a refused enrolment or contact, in its own transaction (the refused one rolled back)."""
    device = (
        session.exec(select(SyncDevice).where(SyncDevice.device_id == device_id)).first()
        if device_id
        else None
    )
    audit.record(
        session,
        action,
        outcome="refused",
        actor_user_id=device.user_id if device else None,
        target_type="sync_device" if device else None,
        target_id=device.device_id if device else None,
        ip=ip,
        detail={"status": refusal.status, "revoked": refusal.revoked},
    )


def confirm_wiped(session: Session, device_id: str, *, ip: str | None = None) -> None:
    """A revoked laptop reports it erased itself (recorded for the admin; nothing else changes)."""
    device = session.exec(select(SyncDevice).where(SyncDevice.device_id == device_id)).first()
    if device is None or device.revoked_at is None or device.wiped_at is not None:
        return
    device.wiped_at = utcnow()
    session.add(device)
    audit.record(
        session,
        "sync.device.wiped",
        actor_user_id=device.user_id,
        target_type="sync_device",
        target_id=device_id,
        ip=ip,
    )


def list_devices(session: Session, actor: Actor) -> list[DeviceView]:
    require(actor, Permission.MANAGE_DEVICES)
    rows = session.exec(select(SyncDevice).order_by(col(SyncDevice.created_at).desc())).all()
    users = {u.id: u.display_name for u in session.exec(select(User)).all()}
    tours = {t.id: t.name for t in session.exec(select(Tour)).all()}
    return [
        DeviceView(
            device_id=d.device_id,
            label=d.label,
            user_name=users.get(d.user_id, "?"),
            tour_name=tours.get(d.tour_id) if d.tour_id else None,
            lease_days=d.lease_days,
            state=_state(d),
            enrolled_at=d.enrolled_at,
            last_contact_at=d.last_contact_at,
            revoked_at=d.revoked_at,
        )
        for d in rows
    ]


def _state(device: SyncDevice) -> str:
    if device.wiped_at is not None:
        return "effacé"
    if device.revoked_at is not None:
        return "révoqué"
    if device.public_key is None:
        return "en attente d'inscription"
    return "actif"


def _device(session: Session, device_id: str) -> SyncDevice:
    device = session.exec(select(SyncDevice).where(SyncDevice.device_id == device_id)).first()
    if device is None:
        raise NotFound(DEVICE_NOT_FOUND)
    return device


def enrolment_options(session: Session, actor: Actor) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The choices of the enrolment form: active accounts and tours, as ``(id, label)`` pairs."""
    require(actor, Permission.MANAGE_DEVICES)
    users = session.exec(select(User).where(col(User.active)).order_by(col(User.display_name))).all()
    tours = session.exec(select(Tour).order_by(col(Tour.name))).all()
    return (
        [(u.id, f"{u.display_name} — {u.email}") for u in users if u.id is not None],
        [(t.id, t.name) for t in tours if t.id is not None],
    )
