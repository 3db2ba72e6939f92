"""Finding a médecin traitant: own commune first, then neighbours, by remaining capacity."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from cpts_app.models.directory import Profession
from cpts_app.services.errors import PermissionDenied
from cpts_app.services.orientation.attending_doctor import find_attending_doctors
from tests.services import factories
from tests.services.orientation.factories import build_world


def test_own_commune_first_then_capacity(session: Session) -> None:
    world = build_world(session)
    t = world.t
    t.gp.accepts_new_patients, t.gp.new_patient_capacity = True, 3  # Bordeaux, MSP des Capucins
    session.add(t.gp)
    factories.professional(
        session, "Inès", "Garcia", accepts_new_patients=True, capacity=10, communes=[t.begles]
    )
    factories.professional(
        session, "Luc", "Petit", accepts_new_patients=True, capacity=1, communes=[t.begles]
    )
    factories.professional(
        session, "Full", "Zero", accepts_new_patients=True, capacity=0, communes=[t.begles]
    )
    factories.professional(
        session, "Non", "Merci", accepts_new_patients=False, capacity=5, communes=[t.begles]
    )
    factories.professional(session, "Far", "Away", accepts_new_patients=True, capacity=9, communes=[t.far])
    factories.professional(
        session, "Ide", "Nurse", Profession.NURSE, accepts_new_patients=True, capacity=9, communes=[t.begles]
    )
    factories.professional(
        session, "Old", "Gone", accepts_new_patients=True, capacity=9, active=False, communes=[t.begles]
    )
    session.commit()
    options = find_attending_doctors(session, world.coordinator, t.begles.id)
    assert [(o.name, o.remaining_capacity, o.in_patient_commune, o.commune_name) for o in options] == [
        ("Dr Inès GARCIA", 10, True, "Bègles"),
        ("Dr Luc PETIT", 1, True, "Bègles"),
        ("Dr Marie LEFÈVRE", 3, False, "Bordeaux"),
    ]
    assert options[2].structure_name == "MSP des Capucins"


def test_professionals_cannot_search(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(PermissionDenied):
        find_attending_doctors(session, world.pharmacist_actor, world.t.begles.id)
