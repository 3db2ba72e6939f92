"""A small territory for the messaging tests: a coordinator, a doctor, nurses, an outsider and a
patient whose care team is opened on demand (models used directly, services for the threads)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import count

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cpts_app.models.access import Role
from cpts_app.models.directory import Commune, Profession, Structure
from cpts_app.models.patient import Patient
from cpts_app.services.permissions import Actor
from tests.services import factories
from tests.services.agenda import factories as agenda

_sequence = count(1)


def person(
    session: Session,
    display_name: str,
    role: Role = Role.PROFESSIONAL,
    *,
    profession: Profession | None = None,
    communes: list[Commune] | None = None,
    structures: list[Structure] | None = None,
    active: bool = True,
) -> Actor:
    """A user (linked to a professional when ``profession`` is given) and their actor."""
    user = factories.user(
        session,
        email=f"user{next(_sequence)}@example.fr",
        role=role,
        display_name=display_name,
        active=active,
    )
    if profession is not None:
        first, _, last = display_name.partition(" ")
        pro = factories.professional(
            session, first, last or first, profession, communes=communes, structures=structures
        )
        user.professional_id = pro.id
        session.add(user)
        session.flush()
    assert user.id is not None
    return Actor(
        user_id=user.id,
        role=role,
        display_name=display_name,
        professional_id=user.professional_id,
        ip="198.51.100.4",
    )


@dataclass
class World:
    beaucaire: Commune
    tarascon: Commune
    msp: Structure
    coordinator: Actor
    doctor: Actor
    nurse: Actor
    other_nurse: Actor
    pharmacist: Actor
    outsider: Actor
    patient: Patient


def build_world(session: Session) -> World:
    beaucaire = factories.commune(session, "Beaucaire", postcode="30300")
    tarascon = factories.commune(session, "Tarascon", postcode="13150")
    msp = factories.structure(session, "MSP du Rhône", beaucaire)
    world = World(
        beaucaire=beaucaire,
        tarascon=tarascon,
        msp=msp,
        coordinator=person(session, "Claire Coordinatrice", Role.COORDINATOR),
        doctor=person(
            session,
            "Paul Martin",
            profession=Profession.GENERAL_PRACTITIONER,
            communes=[beaucaire],
            structures=[msp],
        ),
        nurse=person(
            session, "Hélène Durand", profession=Profession.NURSE, communes=[beaucaire], structures=[msp]
        ),
        other_nurse=person(session, "Jean Roux", profession=Profession.NURSE, communes=[tarascon]),
        pharmacist=person(session, "Sophie Leroy", profession=Profession.PHARMACIST, communes=[beaucaire]),
        outsider=person(session, "Luc Petit", profession=Profession.PHYSIOTHERAPIST, communes=[tarascon]),
        patient=agenda.patient(session, "Durand", "Marie Louise", date(1948, 2, 3), beaucaire),
    )
    session.commit()
    return world


def second_coordinator(session: Session) -> Actor:
    """A coordinator who belongs to no thread (reads and writes as a coordinator only); committed."""
    actor = person(session, "Nadia Cadre", Role.COORDINATOR)
    session.commit()
    return actor


def care_team(session: Session, world: World, *members: Actor) -> int:
    """The patient's care team opened by the coordinator, with ``members`` added; committed."""
    from cpts_app.services.messaging import threads

    thread = threads.open_care_team(session, world.coordinator, world.patient.id or 0)
    assert thread.id is not None
    for member in members:
        threads.add_member(session, world.coordinator, thread.id, member.user_id)
    session.commit()
    return thread.id


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` inside the block (SAVEPOINTs included)."""
    statements: list[str] = []

    def _record(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _record)


def png_bytes() -> bytes:
    """A 1×1 white PNG (signature, IHDR, IDAT, IEND with their CRCs): an acceptable attachment."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
