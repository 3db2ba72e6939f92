"""Patients: creation with INS traits, validation, search and reference card, with audit."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.patient import IdentityStatus, Patient
from cpts_app.services import patients
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.patients import PatientForm
from tests.services import factories


def _form(**changes: str) -> PatientForm:
    values = {
        "birth_name": "Lefèvre",
        "first_names": "Élodie Anne",
        "birth_date": "1980-05-17",
        "sex": "F",
        "phone": "06 12 34 56 78",
        "commune_id": "",
    }
    values.update(changes)
    return PatientForm(**values)


def test_create_and_read(session: Session) -> None:
    actor = factories.actor(session, Role.SECRETARIAT)
    commune = factories.commune(session, "Bègles", "33039")
    patient_id = patients.create_patient(session, actor, _form(commune_id=str(commune.id)))
    session.commit()
    row = session.get(Patient, patient_id)
    assert row is not None
    assert row.search_name == "lefevre elodie anne" and row.phone == "+33612345678"
    assert row.identity_status == IdentityStatus.PROVISIONAL and row.created_by_user_id == actor.user_id
    ref = patients.get_patient_ref(session, actor, patient_id)
    assert ref == patients.PatientRef(
        patient_id, "LEFÈVRE Élodie Anne", "17/05/1980", "Bègles", "06 12 34 56 78"
    )
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert actions == ["patient.create", "patient.read"]
    assert patients.probable_duplicates(session, _form(birth_name="LEFEVRE", first_names="elodie")) == [
        patient_id
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"birth_name": " "}, "birth_name", "Ce champ est obligatoire."),
        ({"first_names": "x" * 151}, "first_names", "Ce champ ne doit pas dépasser 150 caractères."),
        ({"birth_date": "1980-02-30"}, "birth_date", "Date de naissance impossible."),
        ({"birth_date": "1899-12-31"}, "birth_date", "Date de naissance impossible."),
        (
            {"birth_date": str(date.today() + timedelta(days=2))},
            "birth_date",
            "Date de naissance impossible.",
        ),
        ({"sex": "X"}, "sex", None),
        ({"phone": "12"}, "phone", "Le numéro de téléphone n'est pas un numéro valide."),
        ({"commune_id": "999"}, "commune_id", "Cette commune n'existe pas."),
    ],
)
def test_invalid_fields(session: Session, changes: dict[str, str], field: str, message: str | None) -> None:
    actor = factories.actor(session, Role.PROFESSIONAL)
    with pytest.raises(ValidationFailed) as caught:
        patients.create_patient(session, actor, _form(**changes))
    assert set(caught.value.errors) == {field}
    if message:
        assert caught.value.errors[field] == message
    assert session.exec(select(Patient)).all() == []


def test_every_error_at_once(session: Session) -> None:
    actor = factories.actor(session, Role.PROFESSIONAL)
    with pytest.raises(ValidationFailed) as caught:
        patients.create_patient(session, actor, PatientForm())
    assert set(caught.value.errors) == {"birth_name", "first_names", "birth_date", "sex"}


def test_search(session: Session) -> None:
    actor = factories.actor(session, Role.COORDINATOR)
    first = patients.create_patient(session, actor, _form())
    second = patients.create_patient(
        session, actor, _form(first_names="Paul", birth_date="1975-01-02", phone="")
    )
    patients.create_patient(session, actor, _form(birth_name="Martin", first_names="Luc", phone=""))
    assert [r.id for r in patients.search_patients(session, actor, "lefevre")] == [first, second]
    assert [r.id for r in patients.search_patients(session, actor, "LEFÈVRE élo")] == [first]
    assert [r.id for r in patients.search_patients(session, actor, "02/01/1975")] == [second]
    assert [r.id for r in patients.search_patients(session, actor, "lef 17/05/1980")] == [first]
    assert patients.search_patients(session, actor, "  ") == []
    assert len(patients.search_patients(session, actor, "lefevre", limit=1)) == 1
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.search")).all()
    assert len(events) == 5
    assert "lef" not in events[0].detail and json.loads(events[0].detail) == {"results": 2, "terms": 1}


def test_permissions_and_not_found(session: Session) -> None:
    actor = factories.actor(session, Role.PROFESSIONAL)
    with pytest.raises(NotFound):
        patients.get_patient_ref(session, actor, 999)
    with pytest.raises(PermissionDenied):
        patients.create_patient(session, None, _form())  # type: ignore[arg-type]
