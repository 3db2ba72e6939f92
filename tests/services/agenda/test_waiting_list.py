"""The waiting list: adding, listing (names for coordination, own entries for others), closing."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from cpts_app.models.directory import Profession
from cpts_app.services.agenda import waiting_list
from cpts_app.services.errors import PermissionDenied, ValidationFailed
from tests.services.agenda import factories as af
from tests.services.agenda.factories import Territory

GP = Profession.GENERAL_PRACTITIONER.value


@pytest.fixture
def territory(session: Session) -> Territory:
    return af.build_territory(session)


def test_add_list_close(session: Session, territory: Territory) -> None:
    t = territory
    with pytest.raises(ValidationFailed) as caught:
        waiting_list.add_to_waiting_list(session, t.gp_actor, patient_id=999, profession="x", commune_id=999)
    assert set(caught.value.errors) == {"patient_id", "profession", "commune_id"}
    mine = waiting_list.add_to_waiting_list(
        session, t.gp_actor, patient_id=t.patient.id, profession=GP, commune_id=t.bordeaux.id, note="Le matin"
    )
    theirs = waiting_list.add_to_waiting_list(
        session, t.coordinator, patient_id=t.patient.id, profession=GP, commune_id=t.begles.id
    )
    session.commit()
    own = waiting_list.list_waiting(session, t.gp_actor)
    assert [view.id for view in own] == [mine]
    assert own[0].patient == "DUPONT Anne Marie" and own[0].commune_name == "Bordeaux"
    assert own[0].profession_label == "Médecin généraliste" and own[0].note == "Le matin"
    assert [view.id for view in waiting_list.list_waiting(session, t.coordinator)] == [mine, theirs]
    assert [v.id for v in waiting_list.list_waiting(session, t.coordinator, commune_id=t.begles.id)] == [
        theirs
    ]
    with pytest.raises(PermissionDenied):
        waiting_list.close_entry(session, t.gp_actor, theirs, "closed")
    with pytest.raises(ValidationFailed):
        waiting_list.close_entry(session, t.gp_actor, mine, "offered")
    waiting_list.close_entry(session, t.gp_actor, mine, "booked")
    assert [view.id for view in waiting_list.list_waiting(session, t.gp_actor)] == []
