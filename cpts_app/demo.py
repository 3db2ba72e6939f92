"""The demo territory: the CPTS Costières en Camargue with fictitious professionals and users.

Why a generator and not a fixture file: the directory must look real (valid RPPS and FINESS
keys, dialable phone numbers, realistic names and proportions) and stay small in the repository.
It is deterministic (one seeded ``random.Random``), so two fresh databases hold identical rows,
and idempotent (the territory's name marks it as loaded), so ``cpts demo`` can run at every start.

The counts follow the first CPTS contracted in France, Vénissieux (44 GPs, 52 nurses,
27 pharmacists, 16 physiotherapists, 2 podiatrists, 7 specialists, 4 speech therapists,
2 laboratories), spread over the 13 communes of the Costières en Camargue.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from sqlalchemy import distinct, func
from sqlmodel import Session, select
from stdnum import luhn

from cpts_app.demo_agenda import AgendaSummary, agenda_summary, load_demo_agenda
from cpts_app.demo_messaging import load_demo_messaging
from cpts_app.demo_orientation import load_demo_referrals
from cpts_app.demo_territory import (
    COMMUNES,
    FIRST_NAMES,
    LAST_NAMES,
    MEDICOBUS_COMMUNES,
    NEIGHBOURS,
    PHARMACY_NAMES,
    SPECIALTIES,
    STREETS,
    TERRITORY_NAME,
    CommuneFact,
)
from cpts_app.models import (
    Commune,
    CommuneNeighbour,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Referral,
    Role,
    Structure,
    StructureKind,
    Territory,
    User,
)
from cpts_app.models.types import utcnow
from cpts_app.services.agenda.recurrence import PARIS
from cpts_app.services.identifiers import search_key
from cpts_app.services.passwords import hash_password

SEED = 20230106
"""The day the CPTS Costières en Camargue first met (seed 001); any fixed value would do."""

EMAIL_DOMAIN = "demo-cpts.fr"

# Exact head counts of the clinical professions (Vénissieux, 2019).
PROFESSION_COUNTS: dict[Profession, int] = {
    Profession.GENERAL_PRACTITIONER: 44,
    Profession.NURSE: 52,
    Profession.PHARMACIST: 27,
    Profession.PHYSIOTHERAPIST: 16,
    Profession.PODIATRIST: 2,
    Profession.SPECIALIST: 7,
    Profession.SPEECH_THERAPIST: 4,
    Profession.BIOLOGIST: 2,
}

# Professions without an RPPS number (support roles).
_WITHOUT_RPPS = frozenset(
    {
        Profession.MEDICAL_ASSISTANT,
        Profession.MEDICAL_SECRETARY,
        Profession.CARE_COORDINATOR,
        Profession.SOCIAL_WORKER,
    }
)


@dataclass(frozen=True)
class DemoCredential:
    """A demo account shown on the sign-in page in demo mode (never in production)."""

    role: Role
    email: str
    password: str
    display_name: str


# Demo mode only: these accounts exist solely in databases filled by ``load_demo``.
DEMO_CREDENTIALS: list[DemoCredential] = [
    DemoCredential(Role.ADMIN, "admin@demo-cpts.fr", "Demo-Admin-2026", "Administrateur de la démo"),
    DemoCredential(
        Role.COORDINATOR, "coordination@demo-cpts.fr", "Demo-Coord-2026", "Claire Martin — coordinatrice"
    ),
    DemoCredential(
        Role.PROFESSIONAL,
        "medecin@demo-cpts.fr",
        "Demo-Medecin-2026",
        "Dr Antoine Lefèvre — médecin généraliste",
    ),
    DemoCredential(
        Role.PROFESSIONAL, "pharmacie@demo-cpts.fr", "Demo-Pharma-2026", "Gaëlle Roussel — pharmacienne"
    ),
    DemoCredential(
        Role.SECRETARIAT, "secretariat@demo-cpts.fr", "Demo-Secret-2026", "Secrétariat de la CPTS"
    ),
    DemoCredential(
        Role.MEDICOBUS_TEAM, "medicobus@demo-cpts.fr", "Demo-Medicobus-2026", "Équipe du médicobus"
    ),
]

# Named people of the demo: the accounts above point at them, so their names never change.
_COORDINATOR = ("Claire", "Martin")
_DEMO_GP = ("Antoine", "Lefèvre")
_DEMO_PHARMACIST = ("Gaëlle", "Roussel")
_LINKED_PROFESSIONALS = {"medecin@demo-cpts.fr": _DEMO_GP, "pharmacie@demo-cpts.fr": _DEMO_PHARMACIST}


@dataclass(frozen=True)
class DemoSummary:
    """What the demo territory holds (after loading, or as found when it was already there)."""

    created: bool
    communes: int
    structures: int
    professionals: dict[str, int]
    """Head count per ``Profession`` value."""
    users: int
    schedules: int = 0
    slots: int = 0
    appointments: int = 0
    patients: int = 0
    referrals: int = 0
    """Referrals of the orientation (three months of activity and the current queue)."""

    @property
    def total_professionals(self) -> int:
        return sum(self.professionals.values())


def is_empty(session: Session) -> bool:
    """Whether the database holds no territory yet (then the demo may be loaded)."""
    return session.exec(select(Territory.id).limit(1)).first() is None


def _slug(text: str) -> str:
    """The local part of a demo e-mail address: "Gaëlle" → "gaelle", "Jean-Luc" → "jean-luc"."""
    return "-".join(search_key(text).split())


def load_demo(session: Session, *, now: datetime | None = None, agenda: bool = True) -> DemoSummary:
    """Fill an empty database with the demo territory, its agenda and its referrals; do nothing
    if already there.

    ``now`` (default: the current time) anchors the eight-week agenda on the current Paris week
    and ends the three months of referrals (``demo_orientation``) at that moment;
    ``agenda=False`` loads the directory only (tests of the directory, which need no slots).
    Flushes but does not commit: the caller owns the transaction (``session_scope`` in the CLI).
    """
    moment = now or utcnow()
    territory = session.exec(select(Territory).where(Territory.name == TERRITORY_NAME)).first()
    if territory is not None:
        # A territory loaded before the agenda existed gets its agenda now (idempotent).
        summary = _agenda(session, moment, load=agenda)
        return _summary(session, territory, summary, created=False)

    rng = random.Random(SEED)
    ids = _Identifiers(rng)
    territory = Territory(name=TERRITORY_NAME, finess=ids.finess())
    session.add(territory)
    session.flush()

    communes = _load_communes(session, territory)
    places = _plan_places(rng)
    structures = _load_structures(session, rng, ids, places, communes)
    professionals = _load_professionals(session, rng, ids, places, structures, communes)
    _load_users(session, professionals)
    session.flush()
    summary = _agenda(session, moment, load=agenda)
    return _summary(session, territory, summary, created=True)


def _agenda(session: Session, now: datetime, *, load: bool) -> AgendaSummary:
    """The agenda, then the referrals (they book some of its slots); each step is idempotent."""
    if not load:
        return agenda_summary(session, created=False)
    summary = load_demo_agenda(session, today=now.astimezone(PARIS).date(), now=now)
    if load_demo_referrals(session, now=now):
        summary = agenda_summary(session, created=summary.created)  # patients and bookings were added
    load_demo_messaging(session, now=now)
    return summary


# --- communes ------------------------------------------------------------------------------------


def _load_communes(session: Session, territory: Territory) -> dict[str, Commune]:
    """The 13 communes (reusing any already present) and their borders, both ways."""
    codes = [fact.insee_code for fact in COMMUNES]
    existing = {c.insee_code: c for c in session.exec(select(Commune).where(Commune.insee_code.in_(codes)))}
    communes: dict[str, Commune] = {}
    for fact in COMMUNES:
        commune = existing.get(fact.insee_code) or Commune(
            insee_code=fact.insee_code,
            postcode=fact.postcode,
            name=fact.name,
            latitude=fact.latitude,
            longitude=fact.longitude,
        )
        commune.territory_id = territory.id
        communes[fact.insee_code] = commune
    session.add_all(communes.values())
    session.flush()

    rows = session.exec(select(CommuneNeighbour.commune_id, CommuneNeighbour.neighbour_id)).all()
    known = {(left, right) for left, right in rows}
    pairs: list[CommuneNeighbour] = []
    for a, b in NEIGHBOURS:
        for left, right in ((communes[a].id, communes[b].id), (communes[b].id, communes[a].id)):
            if (left, right) not in known:
                assert left is not None and right is not None
                pairs.append(CommuneNeighbour(commune_id=left, neighbour_id=right))
    session.add_all(pairs)
    return communes


def neighbours_of(insee_code: str) -> list[str]:
    """The INSEE codes of the communes sharing a border with ``insee_code`` (within the territory)."""
    found = [b for a, b in NEIGHBOURS if a == insee_code] + [a for a, b in NEIGHBOURS if b == insee_code]
    return sorted(found)


# --- the plan: who works where (pure, no database) ------------------------------------------------


@dataclass
class _Slot:
    profession: Profession
    specialty: str | None = None
    name: tuple[str, str] | None = None
    """A fixed (first, last) name, for the people the demo accounts point at."""


@dataclass
class _Place:
    name: str
    kind: StructureKind
    insee_code: str
    slots: list[_Slot] = field(default_factory=list)
    served: tuple[str, ...] | None = None
    """Communes its staff serve, when not "its commune plus a neighbour or two"."""


def _slots(profession: Profession, count: int) -> list[_Slot]:
    return [_Slot(profession) for _ in range(count)]


def _plan_places(rng: random.Random) -> list[_Place]:
    """Every structure and the professions it employs, with the exact head counts."""
    specialties = list(SPECIALTIES)
    gp, nurse, physio = Profession.GENERAL_PRACTITIONER, Profession.NURSE, Profession.PHYSIOTHERAPIST
    spec, speech, podo = Profession.SPECIALIST, Profession.SPEECH_THERAPIST, Profession.PODIATRIST

    def specialist() -> _Slot:
        return _Slot(spec, specialty=specialties.pop(0))

    places = [
        _Place(
            "MSP de Beaucaire",
            StructureKind.MSP,
            "30032",
            [
                _Slot(gp, name=_DEMO_GP),
                *_slots(gp, 4),
                *_slots(nurse, 4),
                *_slots(physio, 2),
                *_slots(podo, 1),
                *_slots(speech, 1),
                specialist(),
            ],
        ),
        _Place(
            "MSP de Saint-Gilles",
            StructureKind.MSP,
            "30258",
            [*_slots(gp, 4), *_slots(nurse, 4), *_slots(physio, 2), *_slots(speech, 1), specialist()],
        ),
        _Place(
            "MSP de Manduel",
            StructureKind.MSP,
            "30155",
            [*_slots(gp, 4), *_slots(nurse, 3), *_slots(physio, 1)],
        ),
        _Place(
            "Pôle de santé ambulatoire des Costières",
            StructureKind.POLE,
            "30034",
            [
                *_slots(gp, 3),
                *_slots(nurse, 2),
                specialist(),
                specialist(),
                _Slot(Profession.CARE_COORDINATOR, name=_COORDINATOR),
                _Slot(Profession.SOCIAL_WORKER),
            ],
        ),
        _Place(
            "Médicobus des Costières",
            StructureKind.MEDICOBUS,
            "30135",
            [_Slot(gp), _Slot(Profession.MEDICAL_ASSISTANT)],
            served=MEDICOBUS_COMMUNES,
        ),
        _Place(
            "Permanence de Fourques",
            StructureKind.PERMANENCE,
            "30117",
            [
                _Slot(gp),
                _Slot(Profession.ADVANCED_PRACTICE_NURSE),
                _Slot(Profession.MEDICAL_ASSISTANT),
                _Slot(Profession.MEDICAL_SECRETARY),
            ],
        ),
        _Place(
            "Laboratoire de biologie médicale des Costières",
            StructureKind.LABORATORY,
            "30032",
            [_Slot(Profession.BIOLOGIST)],
        ),
        _Place(
            "Laboratoire d'analyses médicales de Saint-Gilles",
            StructureKind.LABORATORY,
            "30258",
            [_Slot(Profession.BIOLOGIST)],
        ),
    ]
    places += _plan_pharmacies(rng)

    # Everyone not yet placed works in a cabinet, in proportion to the communes' populations.
    placed = Counter(slot.profession for place in places for slot in place.slots)
    cabinets = (
        (gp, "Cabinet médical", 4),
        (nurse, "Cabinet infirmier", 5),
        (physio, "Cabinet de kinésithérapie", 3),
        (speech, "Cabinet d'orthophonie", 2),
        (podo, "Cabinet de pédicurie-podologie", 2),
    )
    for profession, label, size in cabinets:
        shares = _apportion(PROFESSION_COUNTS[profession] - placed[profession], COMMUNES)
        for fact, count in zip(COMMUNES, shares, strict=True):
            chunks = [size] * (count // size) + ([count % size] if count % size else [])
            for index, chunk in enumerate(chunks):
                suffix = "" if index == 0 else f" {_ORDINALS[index]}"
                places.append(
                    _Place(
                        f"{label} de {fact.name}{suffix}",
                        StructureKind.PRACTICE,
                        fact.insee_code,
                        _slots(profession, chunk),
                    )
                )
    remaining_specialists = PROFESSION_COUNTS[spec] - placed[spec]
    for fact in sorted(COMMUNES, key=lambda f: -f.population)[:remaining_specialists]:
        slot = specialist()
        assert slot.specialty is not None
        places.append(
            _Place(
                f"Cabinet de {slot.specialty.lower()} de {fact.name}",
                StructureKind.PRACTICE,
                fact.insee_code,
                [slot],
            )
        )
    return places


_ORDINALS = ("", "II", "III", "IV", "V", "VI")


def _plan_pharmacies(rng: random.Random) -> list[_Place]:
    """About one officine per commune, more in the two towns; 27 pharmacists in all."""
    officines = {"30032": 4, "30258": 3, "30034": 2, "30155": 2}
    extra_pharmacists = {"30032": 3, "30258": 2, "30034": 1, "30155": 1}
    places: list[_Place] = []
    for fact in COMMUNES:
        count = officines.get(fact.insee_code, 1)
        names = rng.sample(PHARMACY_NAMES, count)
        extra = extra_pharmacists.get(fact.insee_code, 0)
        for index, name in enumerate(names):
            slots = _slots(Profession.PHARMACIST, 1 + (1 if index < extra else 0))
            if fact.insee_code == "30032" and index == 0:
                slots[0].name = _DEMO_PHARMACIST
            places.append(_Place(name, StructureKind.PHARMACY, fact.insee_code, slots))
    return places


def _apportion(total: int, communes: tuple[CommuneFact, ...]) -> list[int]:
    """Split ``total`` over ``communes`` by population (largest remainder, ties by order)."""
    population = sum(c.population for c in communes)
    quotas = [total * c.population / population for c in communes]
    shares = [int(q) for q in quotas]
    by_remainder = sorted(range(len(communes)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


# --- identifiers --------------------------------------------------------------------------------


class _Identifiers:
    """Unique, valid-looking national identifiers and contact details drawn from one generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()
        self._emails: set[str] = set()

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value

    def rpps(self) -> str:
        """11 digits: "10", 8 digits, and the Luhn key."""

        def make() -> str:
            body = "10" + "".join(self._rng.choice("0123456789") for _ in range(8))
            return body + luhn.calc_check_digit(body)

        return self._unique(make)

    def finess(self) -> str:
        """9 characters: the Gard's "30", 6 digits, and the Luhn key."""

        def make() -> str:
            body = "30" + "".join(self._rng.choice("0123456789") for _ in range(6))
            return body + luhn.calc_check_digit(body)

        return self._unique(make)

    def mobile(self) -> str:
        return self._phone(lambda: "+33" + self._rng.choice("67") + self._digits(8))

    def landline(self, insee_code: str) -> str:
        # Beaucaire, Fourques and Vallabrègues dial like Arles and Avignon (04 90), the others like Nîmes.
        area = "90" if insee_code in {"30032", "30117", "30336"} else "66"
        return self._phone(lambda: "+334" + area + self._digits(6))

    def email(self, local: str) -> str:
        base = local
        candidate, n = base, 1
        while candidate in self._emails:
            n += 1
            candidate = f"{base}{n}"
        self._emails.add(candidate)
        return f"{candidate}@{EMAIL_DOMAIN}"

    def _digits(self, count: int) -> str:
        return "".join(self._rng.choice("0123456789") for _ in range(count))

    @staticmethod
    def _phone(make: Callable[[], str]) -> str:
        while True:
            number = make()
            if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                return number


# --- structures, professionals and users ----------------------------------------------------------


def _load_structures(
    session: Session,
    rng: random.Random,
    ids: _Identifiers,
    places: list[_Place],
    communes: dict[str, Commune],
) -> list[Structure]:
    with_finess = {StructureKind.MSP, StructureKind.POLE, StructureKind.PHARMACY, StructureKind.LABORATORY}
    structures = []
    for place in places:
        commune = communes[place.insee_code]
        assert commune.id is not None
        structures.append(
            Structure(
                name=place.name,
                kind=place.kind,
                finess=ids.finess() if place.kind in with_finess else None,
                commune_id=commune.id,
                address=f"{rng.randint(1, 48)} {rng.choice(STREETS)}, {commune.postcode} {commune.name}",
                phone=ids.landline(place.insee_code),
                email=ids.email(
                    _slug(place.name if commune.name in place.name else f"{place.name} {commune.name}")
                ),
            )
        )
    session.add_all(structures)
    session.flush()
    return structures


def _load_professionals(
    session: Session,
    rng: random.Random,
    ids: _Identifiers,
    places: list[_Place],
    structures: list[Structure],
    communes: dict[str, Commune],
) -> dict[tuple[str, str], Professional]:
    fixed = {slot.name for place in places for slot in place.slots if slot.name}
    taken: set[tuple[str, str]] = set(fixed)  # type: ignore[arg-type]
    gp_total = PROFESSION_COUNTS[Profession.GENERAL_PRACTITIONER]
    open_gps = set(rng.sample(range(gp_total), k=gp_total // 3))
    gp_index = 0

    people: list[tuple[Professional, Structure, tuple[str, ...]]] = []
    for place, structure in zip(places, structures, strict=True):
        for slot in place.slots:
            if slot.name is None:
                name = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
                while name in taken:
                    name = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
                taken.add(name)
            else:
                name = slot.name
            first, last = name
            accepts, capacity = False, 0
            if slot.profession is Profession.GENERAL_PRACTITIONER:
                accepts = gp_index in open_gps
                capacity = rng.randint(5, 60) if accepts else 0
                gp_index += 1
            elif slot.profession in {
                Profession.NURSE,
                Profession.PHYSIOTHERAPIST,
                Profession.SPEECH_THERAPIST,
            }:
                accepts = rng.random() < 0.5
                capacity = rng.randint(5, 30) if accepts else 0
            served = place.served or _served_around(rng, place.insee_code)
            professional = Professional(
                first_name=first,
                last_name=last,
                search_name=search_key(f"{last} {first}"),
                profession=slot.profession,
                specialty=slot.specialty,
                rpps=None if slot.profession in _WITHOUT_RPPS else ids.rpps(),
                phone=ids.mobile(),
                email=ids.email(f"{_slug(first)}.{_slug(last)}"),
                accepts_new_patients=accepts,
                new_patient_capacity=capacity,
            )
            people.append((professional, structure, served))
    session.add_all([p for p, _, _ in people])
    session.flush()

    links: list[ProfessionalStructure | ProfessionalCommune] = []
    for professional, structure, served in people:
        assert professional.id is not None and structure.id is not None
        links.append(ProfessionalStructure(professional_id=professional.id, structure_id=structure.id))
        for code in served:
            commune_id = communes[code].id
            assert commune_id is not None
            links.append(ProfessionalCommune(professional_id=professional.id, commune_id=commune_id))
    session.add_all(links)
    return {(p.first_name, p.last_name): p for p, _, _ in people}


def _served_around(rng: random.Random, insee_code: str) -> tuple[str, ...]:
    """A professional's commune plus zero to two of its neighbours."""
    around = neighbours_of(insee_code)
    return (insee_code, *rng.sample(around, k=min(len(around), rng.randint(0, 2))))


def _load_users(session: Session, professionals: dict[tuple[str, str], Professional]) -> None:
    """The demo accounts; an e-mail already taken (an admin created beforehand) is left alone."""
    emails = [c.email for c in DEMO_CREDENTIALS]
    taken = set(session.exec(select(User.email).where(User.email.in_(emails))).all())
    users = []
    for credential in DEMO_CREDENTIALS:
        if credential.email in taken:
            continue
        linked = _LINKED_PROFESSIONALS.get(credential.email)
        users.append(
            User(
                email=credential.email,
                password_hash=hash_password(credential.password),
                role=credential.role,
                display_name=credential.display_name,
                professional_id=professionals[linked].id if linked else None,
            )
        )
    session.add_all(users)


def _summary(session: Session, territory: Territory, agenda: AgendaSummary, *, created: bool) -> DemoSummary:
    in_territory = select(Commune.id).where(Commune.territory_id == territory.id)
    structure_ids = select(Structure.id).where(Structure.commune_id.in_(in_territory))
    by_profession = session.exec(
        select(Professional.profession, func.count(distinct(Professional.id)))
        .join(ProfessionalStructure, ProfessionalStructure.professional_id == Professional.id)
        .where(ProfessionalStructure.structure_id.in_(structure_ids))
        .group_by(Professional.profession)
    ).all()
    return DemoSummary(
        created=created,
        communes=session.exec(select(func.count()).select_from(in_territory.subquery())).one(),
        structures=session.exec(select(func.count()).select_from(structure_ids.subquery())).one(),
        professionals={str(Profession(p)): n for p, n in sorted(by_profession)},
        users=session.exec(select(func.count(User.id))).one(),
        schedules=agenda.schedules,
        slots=agenda.slots,
        appointments=agenda.appointments,
        patients=agenda.patients,
        referrals=session.exec(select(func.count(Referral.id))).one(),
    )
