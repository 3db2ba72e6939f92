"""Small builders of directory and access rows for the service tests (models used directly)."""

from __future__ import annotations

from itertools import count

from sqlmodel import Session
from stdnum import luhn

from cpts_app.models.access import Role, User
from cpts_app.models.directory import (
    Commune,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
    StructureKind,
)
from cpts_app.services import passwords
from cpts_app.services.identifiers import search_key
from cpts_app.services.permissions import Actor

_sequence = count(1)

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = passwords.hash_password(PASSWORD)


def rpps(seed: int) -> str:
    """A valid RPPS number (10 digits from ``seed`` plus its Luhn key)."""
    body = f"1{seed:09d}"
    return body + luhn.calc_check_digit(body)


def finess(seed: int, department: str = "33") -> str:
    """A valid FINESS number of ``department`` (numeric) with its Luhn key."""
    body = f"{department}{seed:06d}"
    return body + luhn.calc_check_digit(body)


def commune(session: Session, name: str, insee_code: str | None = None, postcode: str = "33000") -> Commune:
    row = Commune(name=name, insee_code=insee_code or f"{next(_sequence) % 100000:05d}", postcode=postcode)
    session.add(row)
    session.flush()
    return row


def structure(
    session: Session,
    name: str,
    commune_row: Commune,
    kind: StructureKind = StructureKind.MSP,
    finess_number: str | None = None,
    phone: str | None = None,
) -> Structure:
    row = Structure(name=name, kind=kind, commune_id=commune_row.id, finess=finess_number, phone=phone)
    session.add(row)
    session.flush()
    return row


def professional(
    session: Session,
    first_name: str,
    last_name: str,
    profession: Profession = Profession.GENERAL_PRACTITIONER,
    *,
    rpps_number: str | None = None,
    accepts_new_patients: bool = False,
    capacity: int = 0,
    active: bool = True,
    phone: str | None = None,
    structures: list[Structure] | None = None,
    communes: list[Commune] | None = None,
) -> Professional:
    row = Professional(
        first_name=first_name,
        last_name=last_name,
        search_name=search_key(f"{last_name} {first_name}"),
        profession=profession,
        rpps=rpps_number,
        accepts_new_patients=accepts_new_patients,
        new_patient_capacity=capacity,
        active=active,
        phone=phone,
    )
    session.add(row)
    session.flush()
    for structure_row in structures or []:
        session.add(ProfessionalStructure(professional_id=row.id, structure_id=structure_row.id))
    for commune_row in communes or []:
        session.add(ProfessionalCommune(professional_id=row.id, commune_id=commune_row.id))
    session.flush()
    return row


def user(
    session: Session,
    email: str = "marie.lefevre@example.fr",
    role: Role = Role.ADMIN,
    *,
    active: bool = True,
    display_name: str = "Marie Lefèvre",
) -> User:
    """A user whose password is ``PASSWORD`` (hashed once per test run, to keep tests fast)."""
    row = User(email=email, password_hash=_PASSWORD_HASH, role=role, display_name=display_name, active=active)
    session.add(row)
    session.flush()
    return row


def actor(session: Session, role: Role = Role.ADMIN) -> Actor:
    """A signed-in actor of ``role`` backed by a real user row (audit rows reference it)."""
    row = user(
        session, email=f"{role.value}.{next(_sequence)}@example.fr", role=role, display_name=role.value
    )
    assert row.id is not None
    return Actor(user_id=row.id, role=role, display_name=row.display_name, ip="203.0.113.7")


def field_account(session: Session, email: str, home: Structure | None = None) -> User:
    """A médicobus/permanence account linked to a professional of ``home`` (a laptop's scope)."""
    if home is None:
        home = structure(
            session, f"Permanence {next(_sequence)}", commune(session, f"Commune {next(_sequence)}")
        )
    person = professional(session, "Léa", f"Garnier{next(_sequence)}", structures=[home])
    row = user(session, email=email, role=Role.MEDICOBUS_TEAM, display_name="Équipe de terrain")
    row.professional_id = person.id
    session.add(row)
    session.flush()
    return row
