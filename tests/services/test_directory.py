"""The directory: search, cards, edit forms, validation, permissions and audit."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import event
from sqlmodel import Session, func, select

from cpts_app.models.access import Role
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import (
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
    StructureKind,
)
from cpts_app.services import directory
from cpts_app.services.directory import DirectoryFilter, ProfessionalForm, StructureForm
from cpts_app.services.errors import NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.labels import CLINICAL_PROFESSIONS, PROFESSION_LABELS, STRUCTURE_KIND_LABELS
from tests.services import factories


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def territory(session: Session) -> dict:
    """Three communes, two structures, four professionals (one inactive)."""
    bordeaux = factories.commune(session, "Bordeaux", "33063")
    begles = factories.commune(session, "Bègles", "33039")
    talence = factories.commune(session, "Talence", "33522")
    msp = factories.structure(session, "MSP des Capucins", bordeaux, phone="+33556000000")
    pharmacy = factories.structure(
        session, "Pharmacie du Port", begles, StructureKind.PHARMACY, factories.finess(1)
    )
    lefevre = factories.professional(
        session,
        "Marie",
        "Lefèvre",
        rpps_number=factories.rpps(1),
        accepts_new_patients=True,
        capacity=12,
        phone="+33612345678",
        structures=[msp, pharmacy],
        communes=[bordeaux, begles],
    )
    durand = factories.professional(
        session,
        "Paul",
        "Durand",
        Profession.NURSE,
        rpps_number=factories.rpps(2),
        communes=[talence],
        structures=[msp],
    )
    martin = factories.professional(
        session,
        "Anne",
        "Martin",
        Profession.PHARMACIST,
        rpps_number=factories.rpps(3),
        accepts_new_patients=True,
        communes=[begles],
        structures=[pharmacy],
    )
    factories.professional(
        session, "Jean", "Lefebvre", rpps_number=factories.rpps(4), active=False, communes=[bordeaux]
    )
    admin = factories.actor(session, Role.ADMIN)
    coordinator = factories.actor(session, Role.COORDINATOR)
    session.commit()
    return {
        "bordeaux": bordeaux,
        "begles": begles,
        "talence": talence,
        "msp": msp,
        "pharmacy": pharmacy,
        "lefevre": lefevre,
        "durand": durand,
        "martin": martin,
        "admin": admin,
        "coordinator": coordinator,
    }


def _names(page: directory.DirectoryPage) -> list[str]:
    return [item.full_name for item in page.items]


# --- search -----------------------------------------------------------------------------------


def test_search_all_active_sorted(session: Session, territory: dict) -> None:
    page = directory.search_professionals(session, territory["coordinator"], DirectoryFilter())
    assert _names(page) == ["Paul DURAND", "Marie LEFÈVRE", "Anne MARTIN"]
    assert (page.total, page.page, page.page_count) == (3, 1, 1)


@pytest.mark.parametrize("text", ["lefevre", "LEFÈVRE", "marie lefe", "  Mar   Lef  ", "lefèvre-marie"])
def test_search_text_is_accent_and_case_free(session: Session, territory: dict, text: str) -> None:
    page = directory.search_professionals(session, territory["coordinator"], DirectoryFilter(text=text))
    assert _names(page) == ["Marie LEFÈVRE"]


def test_search_every_word_must_match(session: Session, territory: dict) -> None:
    page = directory.search_professionals(
        session, territory["coordinator"], DirectoryFilter(text="marie durand")
    )
    assert page.total == 0 and page.items == [] and page.page_count == 1


def test_search_by_rpps(session: Session, territory: dict) -> None:
    number = factories.rpps(2)
    spaced = f"{number[:5]} {number[5:]}"
    page = directory.search_professionals(session, territory["coordinator"], DirectoryFilter(text=spaced))
    assert _names(page) == ["Paul DURAND"]


def test_search_by_profession_commune_and_new_patients(session: Session, territory: dict) -> None:
    actor = territory["coordinator"]
    by_profession = directory.search_professionals(session, actor, DirectoryFilter(profession="infirmier"))
    assert _names(by_profession) == ["Paul DURAND"]
    by_commune = directory.search_professionals(
        session, actor, DirectoryFilter(commune_id=territory["begles"].id)
    )
    assert _names(by_commune) == ["Marie LEFÈVRE", "Anne MARTIN"]
    accepting = directory.search_professionals(session, actor, DirectoryFilter(accepts_new_patients=True))
    assert _names(accepting) == ["Marie LEFÈVRE", "Anne MARTIN"]
    combined = directory.search_professionals(
        session,
        actor,
        DirectoryFilter(
            profession="pharmacien", commune_id=territory["bordeaux"].id, accepts_new_patients=True
        ),
    )
    assert combined.total == 0


def test_search_summary_content(session: Session, territory: dict) -> None:
    page = directory.search_professionals(session, territory["coordinator"], DirectoryFilter(text="lefevre"))
    item = page.items[0]
    assert item.profession == "medecin_generaliste"
    assert item.profession_label == PROFESSION_LABELS[Profession.GENERAL_PRACTITIONER]
    assert item.structures == ["MSP des Capucins", "Pharmacie du Port"]
    assert item.communes == ["Bègles", "Bordeaux"]
    assert (item.accepts_new_patients, item.new_patient_capacity) == (True, 12)
    assert item.phone == "06 12 34 56 78"
    assert item.email == ""


def test_paging_and_clamping(session: Session, territory: dict) -> None:
    for i in range(22):
        factories.professional(
            session, f"Prénom{i:02d}", f"Zorro{i:02d}", rpps_number=factories.rpps(100 + i)
        )
    session.commit()
    actor = territory["coordinator"]
    first = directory.search_professionals(session, actor, DirectoryFilter(), page=1)
    assert (first.total, first.page_count, len(first.items)) == (25, 3, 10)
    last = directory.search_professionals(session, actor, DirectoryFilter(), page=3)
    assert len(last.items) == 5 and last.items[-1].full_name == "Prénom21 ZORRO21"
    clamped_high = directory.search_professionals(session, actor, DirectoryFilter(), page=99)
    assert clamped_high.page == 3 and clamped_high.items == last.items
    clamped_low = directory.search_professionals(session, actor, DirectoryFilter(), page=0)
    assert clamped_low.page == 1 and clamped_low.items == first.items
    seen = {
        item.id
        for p in (1, 2, 3)
        for item in directory.search_professionals(session, actor, DirectoryFilter(), page=p).items
    }
    assert len(seen) == 25


def test_search_query_count_is_bounded(session: Session, territory: dict) -> None:
    communes = [territory["bordeaux"], territory["begles"]]
    for i in range(210):
        factories.professional(
            session,
            f"P{i}",
            f"Nom{i:03d}",
            rpps_number=factories.rpps(1000 + i),
            structures=[territory["msp"]],
            communes=communes,
        )
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()

    def count_statement(*args: object) -> None:
        if str(args[2]).strip().upper() != "BEGIN":  # the transaction itself is not a query
            statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        page = directory.search_professionals(
            session, territory["coordinator"], DirectoryFilter(), page_size=50
        )
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert page.total == 213 and len(page.items) == 50
    assert all(item.structures and item.communes for item in page.items)
    assert len(statements) <= 4


def test_search_requires_an_actor(session: Session, territory: dict) -> None:
    with pytest.raises(PermissionDenied):
        directory.search_professionals(session, None, DirectoryFilter())  # type: ignore[arg-type]


# --- card and form ----------------------------------------------------------------------------


def test_card(session: Session, territory: dict) -> None:
    card = directory.get_professional_card(session, territory["coordinator"], territory["lefevre"].id)
    assert card.full_name == "Marie LEFÈVRE"
    assert card.rpps == factories.rpps(1) and card.adeli == ""
    assert [ref.name for ref in card.structure_refs] == ["MSP des Capucins", "Pharmacie du Port"]
    msp_ref = card.structure_refs[0]
    assert (msp_ref.commune_name, msp_ref.phone, msp_ref.kind_label) == (
        "Bordeaux",
        "05 56 00 00 00",
        STRUCTURE_KIND_LABELS[StructureKind.MSP],
    )
    assert card.structure_refs[1].finess == factories.finess(1)
    assert [(c.name, c.insee_code) for c in card.commune_refs] == [("Bègles", "33039"), ("Bordeaux", "33063")]


def test_card_not_found(session: Session, territory: dict) -> None:
    with pytest.raises(NotFound, match=r"Ce professionnel n'existe pas\."):
        directory.get_professional_card(session, territory["coordinator"], 999_999)


def test_professional_form_round_trip(session: Session, territory: dict) -> None:
    admin = territory["admin"]
    form = directory.professional_form(session, admin, territory["lefevre"].id)
    assert form.phone == "06 12 34 56 78" and form.new_patient_capacity == "12"
    assert form.structure_ids == sorted([territory["msp"].id, territory["pharmacy"].id])
    directory.save_professional(session, admin, form, territory["lefevre"].id)
    session.commit()
    assert directory.professional_form(session, admin, territory["lefevre"].id) == form
    event_row = session.exec(
        select(AuditEvent).where(AuditEvent.action == "directory.professional.update")
    ).one()
    assert json.loads(event_row.detail) == {"changed": []}


def test_professional_form_needs_manage(session: Session, territory: dict) -> None:
    with pytest.raises(PermissionDenied):
        directory.professional_form(session, territory["coordinator"], territory["lefevre"].id)


# --- save_professional ------------------------------------------------------------------------


def _valid_form(territory: dict, **changes: object) -> ProfessionalForm:
    form = ProfessionalForm(
        first_name=" Éloïse ",
        last_name="Dupré",
        profession="ipa",
        rpps=factories.rpps(50),
        phone="06 98 76 54 32",
        email=" Eloise.Dupre@Example.fr",
        accepts_new_patients=True,
        new_patient_capacity="25",
        structure_ids=[territory["msp"].id],
        commune_ids=[territory["talence"].id, territory["bordeaux"].id],
    )
    return replace(form, **changes)


def test_create_professional(session: Session, territory: dict) -> None:
    new_id = directory.save_professional(session, territory["admin"], _valid_form(territory))
    session.commit()
    pro = session.get(Professional, new_id)
    assert pro is not None
    assert (pro.first_name, pro.last_name, pro.search_name) == ("Éloïse", "Dupré", "dupre eloise")
    assert (pro.phone, pro.email, pro.new_patient_capacity) == ("+33698765432", "eloise.dupre@example.fr", 25)
    links = session.exec(
        select(ProfessionalCommune.commune_id).where(ProfessionalCommune.professional_id == new_id)
    )
    assert set(links.all()) == {territory["talence"].id, territory["bordeaux"].id}
    found = directory.search_professionals(session, territory["admin"], DirectoryFilter(text="eloise"))
    assert [item.id for item in found.items] == [new_id]
    audit_row = session.exec(
        select(AuditEvent).where(AuditEvent.action == "directory.professional.create")
    ).one()
    assert (audit_row.actor_user_id, audit_row.target_id) == (territory["admin"].user_id, str(new_id))
    assert {"first_name", "rpps", "structure_ids", "commune_ids"} <= set(
        json.loads(audit_row.detail)["changed"]
    )


def test_invalid_professional_reports_every_field_and_writes_nothing(
    session: Session, territory: dict
) -> None:
    before = (
        _count(session, Professional),
        _count(session, AuditEvent),
        _count(session, ProfessionalStructure),
    )
    form = ProfessionalForm(
        first_name="  ",
        last_name="x" * 101,
        profession="sorcier",
        rpps="123",
        adeli="ABC",
        phone="12345",
        email="pas une adresse",
        new_patient_capacity="-3",
        structure_ids=[999_999],
        commune_ids=[territory["bordeaux"].id, 888_888],
    )
    with pytest.raises(ValidationFailed) as info:
        directory.save_professional(session, territory["admin"], form)
    errors = info.value.errors
    assert set(errors) == {
        "first_name",
        "last_name",
        "profession",
        "rpps",
        "adeli",
        "phone",
        "email",
        "new_patient_capacity",
        "structure_ids",
        "commune_ids",
    }
    assert errors["first_name"] == "Ce champ est obligatoire."
    assert errors["new_patient_capacity"] == "Indiquez un nombre entier entre 0 et 10 000."
    assert errors["phone"] == "Le numéro de téléphone n'est pas un numéro valide."
    session.rollback()
    after = (
        _count(session, Professional),
        _count(session, AuditEvent),
        _count(session, ProfessionalStructure),
    )
    assert after == before


@pytest.mark.parametrize("capacity", ["10001", "2.5", "beaucoup"])
def test_capacity_bounds(session: Session, territory: dict, capacity: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        directory.save_professional(
            session, territory["admin"], _valid_form(territory, new_patient_capacity=capacity)
        )
    assert set(info.value.errors) == {"new_patient_capacity"}


def test_clinical_profession_needs_rpps_or_adeli(session: Session, territory: dict) -> None:
    admin = territory["admin"]
    with pytest.raises(ValidationFailed) as info:
        directory.save_professional(session, admin, _valid_form(territory, rpps=""))
    assert info.value.errors == {"rpps": "Indiquez le numéro RPPS (ou ADELI) de ce professionnel de santé."}
    with_adeli = directory.save_professional(
        session, admin, _valid_form(territory, rpps="", adeli="33 1234567")
    )
    secretary = directory.save_professional(
        session, admin, _valid_form(territory, rpps="", first_name="Luc", profession="secretaire_medicale")
    )
    session.commit()
    assert session.get(Professional, with_adeli).adeli == "331234567"  # type: ignore[union-attr]
    assert session.get(Professional, secretary).rpps is None  # type: ignore[union-attr]
    assert Profession.MEDICAL_SECRETARY not in CLINICAL_PROFESSIONS


def test_duplicate_rpps(session: Session, territory: dict) -> None:
    form = _valid_form(territory, rpps=factories.rpps(1))
    with pytest.raises(ValidationFailed) as info:
        directory.save_professional(session, territory["admin"], form)
    assert info.value.errors == {"rpps": "Ce numéro RPPS est déjà enregistré pour un autre professionnel."}


def test_duplicate_rpps_race_is_reported_as_a_field_error(
    session: Session, territory: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-check misses a row inserted concurrently: the unique constraint still answers."""
    monkeypatch.setattr(directory, "select", _select_blind_to_rpps_duplicates(directory.select))
    violations: list[bool] = []
    real_check = directory._is_unique_violation

    def spy(*args):  # type: ignore[no-untyped-def]
        violations.append(real_check(*args))
        return violations[-1]

    monkeypatch.setattr(directory, "_is_unique_violation", spy)
    admin = territory["admin"]
    before = _count(session, Professional)
    with pytest.raises(ValidationFailed) as info:
        directory.save_professional(session, admin, _valid_form(territory, rpps=factories.rpps(1)))
    assert info.value.errors == {"rpps": "Ce numéro RPPS est déjà enregistré pour un autre professionnel."}
    assert violations == [True]
    # The savepoint was rolled back but the transaction is still usable.
    session.commit()
    assert _count(session, Professional) == before
    assert _count(session, AuditEvent) == 0


def _select_blind_to_rpps_duplicates(real_select):  # type: ignore[no-untyped-def]
    """A ``select`` whose duplicate-RPPS pre-check never finds anything, as in a race."""

    def fake(*entities):  # type: ignore[no-untyped-def]
        statement = real_select(*entities)
        if len(entities) == 1 and entities[0] is Professional.id:
            return statement.where(Professional.id == -1)
        return statement

    return fake


def test_edit_professional(session: Session, territory: dict) -> None:
    admin = territory["admin"]
    durand_id = territory["durand"].id
    form = directory.professional_form(session, admin, durand_id)
    form.last_name = "Durand-Lévêque"
    form.structure_ids = [territory["pharmacy"].id]
    form.commune_ids = []
    form.rpps = factories.rpps(2)  # its own RPPS is not a duplicate
    assert directory.save_professional(session, admin, form, durand_id) == durand_id
    session.commit()
    card = directory.get_professional_card(session, admin, durand_id)
    assert card.full_name == "Paul DURAND-LÉVÊQUE"
    assert card.structures == ["Pharmacie du Port"] and card.communes == []
    assert session.get(Professional, durand_id).search_name == "durand leveque paul"  # type: ignore[union-attr]
    audit_row = session.exec(
        select(AuditEvent).where(AuditEvent.action == "directory.professional.update")
    ).one()
    assert sorted(json.loads(audit_row.detail)["changed"]) == ["commune_ids", "last_name", "structure_ids"]


def test_edit_missing_professional(session: Session, territory: dict) -> None:
    with pytest.raises(NotFound):
        directory.save_professional(session, territory["admin"], _valid_form(territory), 999_999)


def test_coordinator_cannot_save_professional(session: Session, territory: dict) -> None:
    before = (_count(session, Professional), _count(session, AuditEvent))
    with pytest.raises(PermissionDenied):
        directory.save_professional(session, territory["coordinator"], _valid_form(territory))
    with pytest.raises(PermissionDenied):
        directory.save_professional(
            session, territory["coordinator"], _valid_form(territory), territory["durand"].id
        )
    session.commit()
    assert (_count(session, Professional), _count(session, AuditEvent)) == before
    assert session.get(Professional, territory["durand"].id).last_name == "Durand"  # type: ignore[union-attr]


# --- structures -------------------------------------------------------------------------------


def _structure_form(territory: dict, **changes: object) -> StructureForm:
    form = StructureForm(
        name="Laboratoire de l'Estey",
        kind="laboratoire",
        finess=factories.finess(2),
        commune_id=str(territory["talence"].id),
        address="3 rue de l'Estey",
        phone="05 56 11 22 33",
        email="contact@labo-estey.fr",
    )
    return replace(form, **changes)


def test_create_and_edit_structure(session: Session, territory: dict) -> None:
    admin = territory["admin"]
    new_id = directory.save_structure(session, admin, _structure_form(territory))
    session.commit()
    stored = session.get(Structure, new_id)
    assert stored is not None and (stored.phone, stored.kind) == ("+33556112233", "laboratoire")
    form = directory.structure_form(session, admin, new_id)
    assert form == _structure_form(territory)
    form.name = "Laboratoire Estey"
    directory.save_structure(session, admin, form, new_id)
    session.commit()
    assert session.get(Structure, new_id).name == "Laboratoire Estey"  # type: ignore[union-attr]
    actions = session.exec(select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id)).all()
    assert [a for a, _ in actions] == ["directory.structure.create", "directory.structure.update"]
    assert json.loads(actions[1][1]) == {"changed": ["name"]}


def test_invalid_structure_reports_every_field(session: Session, territory: dict) -> None:
    before = _count(session, Structure)
    form = StructureForm(name="", kind="chateau", finess="123", commune_id="999999", phone="1", email="@")
    with pytest.raises(ValidationFailed) as info:
        directory.save_structure(session, territory["admin"], form)
    assert set(info.value.errors) == {"name", "kind", "finess", "commune_id", "phone", "email"}
    assert info.value.errors["commune_id"] == "Choisissez une commune du territoire."
    session.rollback()
    assert _count(session, Structure) == before
    assert _count(session, AuditEvent) == 0


@pytest.mark.parametrize("kind,required", [("officine", True), ("hopital", True), ("msp", False)])
def test_finess_required_for_some_kinds(session: Session, territory: dict, kind: str, required: bool) -> None:
    form = _structure_form(territory, kind=kind, finess="")
    if required:
        with pytest.raises(ValidationFailed) as info:
            directory.save_structure(session, territory["admin"], form)
        assert info.value.errors == {"finess": "Le numéro FINESS est obligatoire pour ce type de structure."}
    else:
        new_id = directory.save_structure(session, territory["admin"], form)
        assert session.get(Structure, new_id).finess is None  # type: ignore[union-attr]


def test_duplicate_finess(session: Session, territory: dict) -> None:
    with pytest.raises(ValidationFailed) as info:
        directory.save_structure(
            session, territory["admin"], _structure_form(territory, finess=factories.finess(1))
        )
    assert info.value.errors == {"finess": "Ce numéro FINESS est déjà enregistré pour une autre structure."}
    pharmacy_form = directory.structure_form(session, territory["admin"], territory["pharmacy"].id)
    assert directory.save_structure(session, territory["admin"], pharmacy_form, territory["pharmacy"].id)


def test_coordinator_cannot_save_structure(session: Session, territory: dict) -> None:
    with pytest.raises(PermissionDenied):
        directory.save_structure(session, territory["coordinator"], _structure_form(territory))
    with pytest.raises(PermissionDenied):
        directory.structure_form(session, territory["coordinator"], territory["msp"].id)
    session.commit()
    assert _count(session, Structure) == 2


def test_list_structures_and_options(session: Session, territory: dict) -> None:
    actor = territory["coordinator"]
    for i in range(3):
        factories.structure(
            session, f"Cabinet {chr(ord('A') + i)}", territory["bordeaux"], StructureKind.PRACTICE
        )
    session.commit()
    items, total = directory.list_structures(session, actor)
    assert total == 5
    assert [s.name for s in items] == [
        "Cabinet A",
        "Cabinet B",
        "Cabinet C",
        "MSP des Capucins",
        "Pharmacie du Port",
    ]
    page_two, total_two = directory.list_structures(session, actor, page=2, page_size=2)
    assert [s.name for s in page_two] == ["Cabinet C", "MSP des Capucins"] and total_two == 5
    by_commune, count = directory.list_structures(session, actor, text="begles")
    assert [s.name for s in by_commune] == ["Pharmacie du Port"] and count == 1
    assert [s.name for s in directory.structure_options(session, actor)] == [s.name for s in items]
    assert [c.name for c in directory.commune_options(session)] == ["Bègles", "Bordeaux", "Talence"]
    assert ("officine", "Officine (pharmacie)") in directory.structure_kind_options()
    assert len(directory.profession_options()) == len(Profession)


@pytest.mark.parametrize("kind", ["professional", "structure"])
def test_saves_stay_in_the_callers_transaction(session: Session, territory: dict, kind: str) -> None:
    """A rollback by the caller undoes the save (no savepoint may commit behind its back)."""
    before = (_count(session, Professional), _count(session, Structure), _count(session, AuditEvent))
    if kind == "professional":
        directory.save_professional(session, territory["admin"], _valid_form(territory))
    else:
        directory.save_structure(session, territory["admin"], _structure_form(territory))
    session.rollback()
    assert (_count(session, Professional), _count(session, Structure), _count(session, AuditEvent)) == before
