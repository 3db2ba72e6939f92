"""« Trouver un médecin traitant »: GPs of the patient's commune and its neighbours with places left.

Why the neighbours: in a territory short of doctors, the nearest GP with capacity is often one
commune away; the patient's own commune still comes first, then the largest remaining capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cpts_app.models.directory import (
    Commune,
    CommuneNeighbour,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
)
from cpts_app.services import audit
from cpts_app.services.orientation.access import require_coordinator
from cpts_app.services.permissions import Actor


@dataclass(frozen=True)
class DoctorOption:
    professional_id: int
    name: str
    """"Dr Prénom NOM"."""
    commune_name: str
    """The served commune that matched (the patient's own when it is one of them)."""
    structure_name: str
    remaining_capacity: int
    in_patient_commune: bool


def find_attending_doctors(session: Session, actor: Actor, commune_id: int) -> list[DoctorOption]:
    """Active GPs accepting new patients, with capacity, serving ``commune_id`` or a neighbour."""
    require_coordinator(actor)
    neighbour_ids = set(
        session.exec(
            select(CommuneNeighbour.neighbour_id).where(col(CommuneNeighbour.commune_id) == commune_id)
        )
    )
    area = {commune_id} | neighbour_ids
    rows = session.exec(
        select(Professional, ProfessionalCommune.commune_id, Commune.name)
        .join(ProfessionalCommune, col(ProfessionalCommune.professional_id) == Professional.id)
        .join(Commune, col(Commune.id) == ProfessionalCommune.commune_id)
        .where(
            col(ProfessionalCommune.commune_id).in_(area),
            col(Professional.profession) == Profession.GENERAL_PRACTITIONER.value,
            col(Professional.active).is_(True),
            col(Professional.accepts_new_patients).is_(True),
            col(Professional.new_patient_capacity) > 0,
        )
    ).all()
    best: dict[int, tuple[Professional, bool, str]] = {}
    for pro, served_id, commune_name in rows:
        assert pro.id is not None
        own = served_id == commune_id
        if pro.id not in best or (own and not best[pro.id][1]):
            best[pro.id] = (pro, own, commune_name)
    structures: dict[int, str] = {}
    if best:
        for pro_id, name in session.exec(
            select(ProfessionalStructure.professional_id, Structure.name)
            .join(Structure, col(Structure.id) == ProfessionalStructure.structure_id)
            .where(col(ProfessionalStructure.professional_id).in_(best.keys()))
            .order_by(col(Structure.name))
        ).all():
            structures.setdefault(pro_id, name)
    options = [
        DoctorOption(
            professional_id=pro_id,
            name=f"Dr {pro.first_name} {pro.last_name.upper()}",
            commune_name=commune_name,
            structure_name=structures.get(pro_id, ""),
            remaining_capacity=pro.new_patient_capacity,
            in_patient_commune=own,
        )
        for pro_id, (pro, own, commune_name) in best.items()
    ]
    options.sort(key=lambda o: (not o.in_patient_commune, -o.remaining_capacity, o.name))
    audit.record(
        session,
        "referral.attending_doctor.search",
        actor=actor,
        target_type="commune",
        target_id=commune_id,
        detail={"results": len(options)},
    )
    return options
