"""The patients of the demo orientation: people who lost (or never had) a médecin traitant.

Why a separate generator: the referrals need people whose traits drive the priority score (age,
ALD, CSS / AME, handicap) in realistic proportions, and the same traits must appear in an e-mail,
in a self-signal and then in the record the coordinator creates. A ``Person`` is drawn first (pure,
seeded). A professional's patient is written directly as a ``Patient`` row (``record``: the
professional found or created the record just before referring; a hundred rows are inserted in
one flush, which keeps ``cpts demo`` fast); a patient who wrote or filled in the form is created by
the coordinator at qualification through ``identity.create_patient_checked`` (``create_patient``),
with identity matching, as in production. Both are dated at their moment of the story.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import phonenumbers
from sqlmodel import Session, col, select

from cpts_app.demo_territory import COMMUNES, LAST_NAMES, STREETS
from cpts_app.models import (
    Commune,
    IdentityStatus,
    Patient,
    Profession,
    Professional,
    ProfessionalCommune,
    Sex,
)
from cpts_app.services.identifiers import search_key
from cpts_app.services.identity import IdentityForm, create_patient_checked, patient_search_name
from cpts_app.services.permissions import Actor

# fmt: off
_FIRST_NAMES: dict[tuple[str, Sex], tuple[str, ...]] = {
    ("older", Sex.FEMALE): ("Jeanne", "Simone", "Odette", "Yvette", "Monique", "Colette", "Paulette",
                            "Germaine", "Huguette", "Josette", "Marcelle", "Arlette", "Ginette"),
    ("older", Sex.MALE): ("Marcel", "Lucien", "René", "Gérard", "Jacques", "André", "Roger", "Raymond",
                          "Maurice", "Henri", "Fernand", "Gilbert", "Émile"),
    ("adult", Sex.FEMALE): ("Sandrine", "Nathalie", "Aurélie", "Céline", "Émilie", "Sophie", "Karine",
                            "Laetitia", "Audrey", "Julie", "Samira", "Fatima", "Élodie", "Virginie"),
    ("adult", Sex.MALE): ("Sébastien", "Nicolas", "Julien", "Mickaël", "Christophe", "Stéphane",
                          "Frédéric", "David", "Cédric", "Olivier", "Karim", "Mehdi", "Yannick"),
    ("young", Sex.FEMALE): ("Léa", "Manon", "Camille", "Chloé", "Inès", "Sarah", "Océane", "Lina"),
    ("young", Sex.MALE): ("Lucas", "Hugo", "Théo", "Nathan", "Enzo", "Yanis", "Maxime", "Rayan"),
    ("child", Sex.FEMALE): ("Emma", "Jade", "Louise", "Léna", "Zoé", "Alice", "Rose"),
    ("child", Sex.MALE): ("Gabriel", "Louis", "Raphaël", "Arthur", "Jules", "Adam", "Noah"),
}
# fmt: on
_AGES: dict[str, tuple[int, int]] = {
    "older": (70, 94),
    "adult": (30, 69),
    "young": (18, 29),
    "child": (1, 14),
}
"""Age bands (years, both included); the referrals draw ``older`` often (priority, ALD)."""
_GENERATION_WEIGHTS = {"older": 34, "adult": 44, "young": 14, "child": 8}


@dataclass(frozen=True)
class Person:
    """Someone a referral is about, before (or without) a patient record."""

    sex: Sex
    first_names: str
    birth_name: str
    birth_date: date
    commune_id: int
    commune_name: str
    phone: str
    """E.164."""
    address: str
    ald: bool
    css: bool
    ame: bool
    handicap: bool
    without_attending_doctor: bool

    @property
    def full_name(self) -> str:
        """As people write it: « Odette Roussel »."""
        return f"{self.first_names} {self.birth_name.title()}"


def mobile(rng: random.Random) -> str:
    """A dialable French mobile number in E.164 (06 or 07)."""
    while True:
        number = "+33" + rng.choice("67") + "".join(rng.choice("0123456789") for _ in range(8))
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


class PeopleFactory:
    """Draws ``Person``s with unique names and records them as patients.

    Holds the territory's communes (weighted by population) and the GPs serving each commune, so
    that a patient who has a médecin traitant gets a local one.
    """

    def __init__(self, session: Session, rng: random.Random, today: date) -> None:
        self.session = session
        self.rng = rng
        self.today = today
        by_code = {c.insee_code: c for c in session.exec(select(Commune).order_by(col(Commune.id)))}
        self.facts = [f for f in COMMUNES if f.insee_code in by_code]
        self.communes = by_code
        self.gps_by_commune: dict[int, list[int]] = {}
        for gp_id, commune_id in session.exec(
            select(Professional.id, ProfessionalCommune.commune_id)
            .join(ProfessionalCommune, col(ProfessionalCommune.professional_id) == Professional.id)
            .where(col(Professional.profession) == Profession.GENERAL_PRACTITIONER.value)
            .order_by(col(Professional.id), col(ProfessionalCommune.commune_id))
        ):
            assert gp_id is not None
            self.gps_by_commune.setdefault(commune_id, []).append(gp_id)
        self.taken = set(session.exec(select(Patient.search_name)).all())
        self.created: list[Patient] = []
        """Kept referenced so that the services' ``session.get`` finds them without a SELECT."""

    def person(
        self,
        *,
        generation: str | None = None,
        ald: bool | None = None,
        without_attending_doctor: bool | None = None,
    ) -> Person:
        """A new person; ``None`` arguments are drawn in the usual proportions."""
        rng = self.rng
        generation = (
            generation
            or rng.choices(list(_GENERATION_WEIGHTS), weights=list(_GENERATION_WEIGHTS.values()))[0]
        )
        while True:
            sex = rng.choice((Sex.FEMALE, Sex.MALE))
            first, last = rng.choice(_FIRST_NAMES[(generation, sex)]), rng.choice(LAST_NAMES)
            if search_key(f"{last} {first}") not in self.taken:
                break
        self.taken.add(search_key(f"{last} {first}"))
        low, high = _AGES[generation]
        born = self.today - timedelta(days=rng.randint(low * 365 + 1, high * 365 + 300))
        fact = rng.choices(self.facts, weights=[f.population for f in self.facts])[0]
        commune = self.communes[fact.insee_code]
        assert commune.id is not None
        if ald is None:
            ald = rng.random() < (0.55 if generation == "older" else 0.12 if generation == "adult" else 0.03)
        if without_attending_doctor is None:
            without_attending_doctor = rng.random() < 0.4
        return Person(
            sex=sex,
            first_names=first,
            birth_name=last.upper(),
            birth_date=born,
            commune_id=commune.id,
            commune_name=commune.name,
            phone=mobile(rng),
            address=f"{rng.randint(1, 60)} {rng.choice(STREETS)}, {commune.postcode} {commune.name}",
            ald=ald,
            css=rng.random() < 0.14,
            ame=rng.random() < 0.03,
            handicap=rng.random() < (0.12 if generation == "older" else 0.05),
            without_attending_doctor=without_attending_doctor,
        )

    def record(self, person: Person, *, created_by: int, at: datetime, validated: bool) -> Patient:
        """``person`` as a ``Patient`` row (added, not flushed), dated ``at``."""
        patient = Patient(
            birth_name=person.birth_name,
            first_names=person.first_names,
            birth_date=person.birth_date,
            sex=person.sex,
            identity_status=IdentityStatus.VALIDATED if validated else IdentityStatus.PROVISIONAL,
            search_name=patient_search_name(person.birth_name, None, person.first_names),
            phone=person.phone,
            commune_id=person.commune_id,
            address=person.address,
            ald=person.ald,
            css=person.css,
            ame=person.ame,
            handicap=person.handicap,
            without_attending_doctor=person.without_attending_doctor,
            attending_doctor_id=self._doctor_of(person),
            created_by_user_id=created_by,
            created_at=at,
            updated_at=at,
        )
        self.session.add(patient)
        self.created.append(patient)
        return patient

    def _doctor_of(self, person: Person) -> int | None:
        """A GP serving the person's commune, for a person who has a médecin traitant."""
        local = self.gps_by_commune.get(person.commune_id)
        return None if person.without_attending_doctor or not local else self.rng.choice(local)

    def create_patient(self, actor: Actor, person: Person, *, at: datetime, validated: bool) -> int:
        """Record ``person`` as the actor would (identity matching confirmed), dated ``at``.

        A person with a médecin traitant gets one of the GPs serving their commune (the form has
        no such field: the record is completed as the coordinator would from the patient's answer).
        """
        patient_id = create_patient_checked(
            self.session,
            actor,
            IdentityForm(
                birth_name=person.birth_name,
                first_names=person.first_names,
                birth_date=person.birth_date.isoformat(),
                sex=person.sex.value,
                identity_status="validee" if validated else "provisoire",
                phone=person.phone,
                commune_id=str(person.commune_id),
                address=person.address,
                ald=person.ald,
                css=person.css,
                ame=person.ame,
                handicap=person.handicap,
                without_attending_doctor=person.without_attending_doctor,
            ),
            confirm_not_duplicate=True,
        )
        patient = self.session.get(Patient, patient_id)
        assert patient is not None
        patient.attending_doctor_id = self._doctor_of(person)
        patient.created_at = patient.updated_at = at
        self.session.add(patient)
        self.created.append(patient)
        return patient_id

    def local_gps(self, commune_id: int) -> list[int]:
        """The GPs serving ``commune_id`` (every GP of the territory when none does)."""
        found = self.gps_by_commune.get(commune_id)
        return found or sorted({gp for gps in self.gps_by_commune.values() for gp in gps})
