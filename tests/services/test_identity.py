"""INS identity: matricule and Corsica keys, traits, statuses, duplicates, creation and merges."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from cpts_app.models.access import Role
from cpts_app.models.agenda import Appointment, WaitingListEntry
from cpts_app.models.audit import AuditEvent
from cpts_app.models.orientation import Referral, ReferralReason, ReferralSource, Urgency
from cpts_app.models.patient import IdentityStatus, Patient, Sex
from cpts_app.models.types import utcnow
from cpts_app.services import identity
from cpts_app.services.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from cpts_app.services.identity import IdentityForm, ProbableDuplicates
from tests.services import factories

# Keys computed by hand: 97 − (13 digits mod 97), with 2A → 19 and 2B → 18 for Corsica.
NIR_MAN_GIRONDE = "180053306301210"  # 1 80 05 33 063 012 | 97 − 1800533063012 mod 97 = 10
NIR_WOMAN_GIRONDE = "280053306301257"  # 2 80 05 33 063 012 | 57
NIR_MAN_2A = "180052A00412310"  # 1800519004123 mod 97 → key 10 (with "20" it would be 80)
NIR_WOMAN_2B = "285112B03304516"  # 2851118033045 mod 97 → key 16 (with "20" it would be 59)
NIR_WOMAN_ABROAD = "280129912604553"  # born in December 1980 in country 126


def _form(**changes: object) -> IdentityForm:
    values: dict[str, object] = {
        "birth_name": "Lefèvre",
        "first_names": "Élodie Anne",
        "birth_date": "1980-05-17",
        "sex": "F",
        "phone": "06 12 34 56 78",
    }
    values.update(changes)
    return IdentityForm(**values)  # type: ignore[arg-type]


def _patient(session: Session, **changes: object) -> Patient:
    values: dict[str, object] = {
        "birth_name": "LEFEVRE",
        "first_names": "Elodie",
        "birth_date": date(1980, 5, 17),
        "sex": Sex.FEMALE,
    }
    values.update(changes)
    row = Patient(**values)  # type: ignore[arg-type]
    row.search_name = identity.patient_search_name(row.birth_name, row.used_name, row.first_names)
    session.add(row)
    session.flush()
    return row


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]  # type: ignore[arg-type]


# --- matricule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1 80 05 33 063 012 10", NIR_MAN_GIRONDE),
        (NIR_WOMAN_GIRONDE, NIR_WOMAN_GIRONDE),
        ("1 80 05 2a 004 123 10", NIR_MAN_2A),
        ("2 85 11 2B 033 045 16", NIR_WOMAN_2B),
        (NIR_WOMAN_ABROAD, NIR_WOMAN_ABROAD),
    ],
)
def test_valid_matricules(typed: str, stored: str) -> None:
    assert identity.validate_nir(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("18005330630121", "Le matricule INS (NIR) doit comporter 15 caractères."),
        ("1800533063012100", "Le matricule INS (NIR) doit comporter 15 caractères."),
        ("180053306301211", "La clé du matricule INS est incorrecte."),
        # Corsica computed as if 2A/2B were 20: the key stdnum must refuse.
        ("180052A00412380", "La clé du matricule INS est incorrecte."),
        ("285112B03304559", "La clé du matricule INS est incorrecte."),
        # The 2A key on a 2B number (the substitutions differ: 19 and 18).
        ("180052B00412310", "La clé du matricule INS est incorrecte."),
        ("180052C00412310", "Le matricule INS (NIR) ne doit contenir que des chiffres"),
        ("580053306301204", "Le premier chiffre du matricule INS"),
    ],
)
def test_invalid_matricules(typed: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        identity.validate_nir(typed)
    assert str(caught.value).startswith(message)


def test_first_digit_five_has_a_correct_key_but_is_refused() -> None:
    assert 97 - int("5800533063012") % 97 == 4  # the key is right: only the sex digit is wrong


# --- traits and statuses ----------------------------------------------------------------------


def test_validate_identity_normalises(session: Session) -> None:
    commune = factories.commune(session, "Bègles", "33039")
    values = identity.validate_identity(
        session,
        _form(
            birth_name="  Lefèvre ",
            used_name="Martin-Durand",
            ins_nir="2 80 05 33 063 012 57",
            birthplace_insee="33 063",
            identity_status="qualifiee",
            email=" Elodie.Lefevre@Example.FR ",
            commune_id=str(commune.id),
            ald=True,
        ),
    )
    assert values["birth_name"] == "Lefèvre" and values["used_name"] == "Martin-Durand"
    assert values["birth_date"] == date(1980, 5, 17) and values["sex"] == Sex.FEMALE
    assert values["ins_nir"] == NIR_WOMAN_GIRONDE and values["birthplace_insee"] == "33063"
    assert values["identity_status"] == IdentityStatus.QUALIFIED
    assert values["phone"] == "+33612345678" and values["email"] == "elodie.lefevre@example.fr"
    assert values["commune_id"] == commune.id and values["ald"] is True and values["css"] is False


def test_every_invalid_field_is_reported_at_once(session: Session) -> None:
    form = IdentityForm(
        birth_name=" ",
        first_names="",
        birth_date="",
        sex="",
        used_name="Dupont 2",
        birthplace_insee="2C001",
        ins_nir="180053306301211",
        identity_status="inconnu",
        phone="12",
        email="pas-une-adresse",
        commune_id="999",
    )
    with pytest.raises(ValidationFailed) as caught:
        identity.validate_identity(session, form)
    assert caught.value.errors == {
        "birth_name": "Ce champ est obligatoire.",
        "first_names": "Ce champ est obligatoire.",
        "birth_date": "Ce champ est obligatoire.",
        "sex": "Ce champ est obligatoire.",
        "used_name": "Seuls les lettres, espaces, tirets et apostrophes sont acceptés.",
        "birthplace_insee": identity.form.BIRTHPLACE_FORMAT,
        "ins_nir": "La clé du matricule INS est incorrecte.",
        "identity_status": "Statut d'identité inconnu.",
        "phone": "Le numéro de téléphone n'est pas un numéro valide.",
        "email": "L'adresse e-mail n'est pas valide.",
        "commune_id": "Cette commune n'existe pas.",
    }


@pytest.mark.parametrize("birthplace", ["2A004", "2b033", "99126", "97411"])
def test_birthplaces_accepted(session: Session, birthplace: str) -> None:
    values = identity.validate_identity(session, _form(birthplace_insee=birthplace))
    assert values["birthplace_insee"] == birthplace.upper()


@pytest.mark.parametrize(
    "birth_date",
    [
        "1980-02-31",
        "1899-12-31",
        "17/05/1980",
        (utcnow() + timedelta(days=2)).date().isoformat(),
    ],
)
def test_impossible_birth_dates(session: Session, birth_date: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        identity.validate_identity(session, _form(birth_date=birth_date))
    assert caught.value.errors == {"birth_date": "Date de naissance impossible."}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sex": "M"}, "Le matricule INS ne correspond pas au sexe."),
        ({"birth_date": "1981-05-17"}, "Le matricule INS ne correspond pas à la date de naissance."),
        ({"birth_date": "1980-06-17"}, "Le matricule INS ne correspond pas à la date de naissance."),
        (
            {"sex": "M", "birth_date": "1979-05-17"},
            "Le matricule INS ne correspond ni au sexe ni à la date de naissance.",
        ),
    ],
)
def test_matricule_must_agree_with_traits(session: Session, changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        identity.validate_identity(session, _form(ins_nir=NIR_WOMAN_GIRONDE, **changes))
    assert caught.value.errors == {"ins_nir": message}


def test_matricule_of_undetermined_sex_and_corsica(session: Session) -> None:
    values = identity.validate_identity(session, _form(sex="I", ins_nir=NIR_WOMAN_GIRONDE))
    assert values["ins_nir"] == NIR_WOMAN_GIRONDE
    values = identity.validate_identity(
        session, _form(sex="F", birth_date="1985-11-02", birthplace_insee="2B033", ins_nir=NIR_WOMAN_2B)
    )
    assert values["ins_nir"] == NIR_WOMAN_2B


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("qualifiee", "Une identité ne peut être qualifiée sans matricule INS récupéré."),
        ("recuperee", "Une identité ne peut être récupérée sans matricule INS."),
    ],
)
def test_statuses_that_need_a_matricule(session: Session, status: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        identity.validate_identity(session, _form(identity_status=status))
    assert caught.value.errors == {"identity_status": message}
    validated = identity.validate_identity(session, _form(identity_status="validee"))
    assert validated["identity_status"] == IdentityStatus.VALIDATED


def test_status_labels() -> None:
    assert [identity.identity_status_label(s) for s in IdentityStatus] == [
        "Identité provisoire",
        "Identité récupérée",
        "Identité validée",
        "Identité qualifiée",
    ]
    assert identity.identity_status_label("qualifiee") == "Identité qualifiée"


# --- identity matching ------------------------------------------------------------------------


def _match(session: Session, **changes: object) -> list[identity.DuplicateCandidate]:
    actor = factories.actor(session, Role.SECRETARIAT)
    arguments: dict[str, object] = {
        "birth_name": "Lefèvre",
        "first_names": "élodie",
        "birth_date": date(1980, 5, 17),
    }
    arguments.update(changes)
    return identity.find_probable_duplicates(session, actor, **arguments)  # type: ignore[arg-type]


def test_duplicates_ignore_accents_and_case(session: Session) -> None:
    commune = factories.commune(session, "Bègles", "33039")
    row = _patient(session, commune_id=commune.id)
    [candidate] = _match(session)
    assert candidate == identity.DuplicateCandidate(
        patient_id=row.id or 0,
        display_name="LEFEVRE Elodie",
        birth_date="17/05/1980",
        commune_name="Bègles",
        reasons=["même nom de naissance et date de naissance", "même premier prénom"],
        score=90,
    )
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.identity_match")).one()
    assert json.loads(event.detail) == {"candidates": 1, "certain": 0}
    assert "Lef" not in event.detail


def test_no_false_positive_on_another_birth_date(session: Session) -> None:
    _patient(session, birth_date=date(1980, 5, 18))
    _patient(session, birth_name="Martin", first_names="Élodie")
    assert _match(session) == []


def test_used_name_swapped_and_similar_names(session: Session) -> None:
    married = _patient(session, birth_name="Martin", used_name="Lefèvre", first_names="Élodie")
    swapped = _patient(session, birth_name="Elodie", first_names="Lefevre")
    similar = _patient(session, birth_name="Lefebvre", first_names="Anne")
    candidates = {c.patient_id: c for c in _match(session)}
    assert candidates[married.id or 0].reasons == [
        "nom de naissance et nom d'usage identiques, même date de naissance",
        "même premier prénom",
    ]
    assert candidates[swapped.id or 0].reasons == ["nom et prénom inversés, même date de naissance"]
    assert candidates[similar.id or 0].reasons == ["nom proche et même date de naissance"]
    scores = [c.score for c in _match(session)]
    assert scores == sorted(scores, reverse=True) and scores[0] == 80


def test_same_matricule_is_certain_whatever_the_traits(session: Session) -> None:
    row = _patient(session, birth_name="Durand", first_names="Paul", sex=Sex.MALE, ins_nir=NIR_MAN_GIRONDE)
    [candidate] = _match(session, birth_date=date(1990, 1, 1), ins_nir="1 80 05 33 063 012 10")
    assert (candidate.patient_id, candidate.score, candidate.reasons) == (row.id, 100, ["même matricule INS"])


def test_different_matricules_are_different_people(session: Session) -> None:
    _patient(session, ins_nir=NIR_WOMAN_GIRONDE)
    assert _match(session, ins_nir=NIR_WOMAN_ABROAD) == []
    assert len(_match(session)) == 1


def test_exclude_and_limit(session: Session) -> None:
    rows = [_patient(session) for _ in range(4)]
    assert [c.patient_id for c in _match(session, exclude_id=rows[0].id)] == [r.id for r in rows[1:]]
    assert len(_match(session, limit=2)) == 2


def test_edit_distance() -> None:
    assert identity.matching.edit_distance("lefevre", "lefebvre") == 1
    assert identity.matching.edit_distance("martin", "martine") == 1
    assert identity.matching.edit_distance("dupont", "durand") == 3
    assert identity.matching.edit_distance("abc", "abcdef") == 3


# --- creation and correction ------------------------------------------------------------------


def test_create_refused_then_confirmed(session: Session) -> None:
    actor = factories.actor(session, Role.SECRETARIAT)
    first = identity.create_patient_checked(session, actor, _form())
    with pytest.raises(ProbableDuplicates) as caught:
        identity.create_patient_checked(session, actor, _form(birth_name="LEFEVRE", first_names="elodie"))
    assert caught.value.message == "Ce patient existe peut-être déjà : vérifiez avant d'en créer un nouveau."
    assert [c.patient_id for c in caught.value.candidates] == [first]
    assert len(session.exec(select(Patient)).all()) == 1
    second = identity.create_patient_checked(
        session, actor, _form(birth_name="LEFEVRE", first_names="elodie"), confirm_not_duplicate=True
    )
    assert second != first
    row = session.get(Patient, first)
    assert (
        row is not None
        and row.search_name == "lefevre elodie anne"
        and row.created_by_user_id == actor.user_id
    )
    create_events = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.create")).all()
    assert [json.loads(e.detail) for e in create_events] == [
        {"candidates": 0, "confirmed_not_duplicate": False},
        {"candidates": 1, "confirmed_not_duplicate": True},
    ]


def test_create_stores_every_trait(session: Session) -> None:
    actor = factories.actor(session, Role.COORDINATOR)
    patient_id = identity.create_patient_checked(
        session,
        actor,
        _form(
            used_name="Martin",
            ins_nir=NIR_WOMAN_GIRONDE,
            identity_status="qualifiee",
            css=True,
            handicap=True,
        ),
    )
    row = session.get(Patient, patient_id)
    assert row is not None
    assert (row.used_name, row.ins_nir, row.identity_status) == ("Martin", NIR_WOMAN_GIRONDE, "qualifiee")
    assert row.css and row.handicap and not row.ald and row.search_name == "lefevre martin elodie anne"


def test_create_refuses_a_matricule_already_taken_even_confirmed(session: Session) -> None:
    actor = factories.actor(session, Role.SECRETARIAT)
    _patient(session, birth_name="Autre", first_names="Personne", ins_nir=NIR_WOMAN_GIRONDE)
    with pytest.raises(ValidationFailed) as caught:
        identity.create_patient_checked(
            session, actor, _form(ins_nir=NIR_WOMAN_GIRONDE), confirm_not_duplicate=True
        )
    assert "déjà celui d'un autre patient" in caught.value.errors["ins_nir"]


def test_create_requires_the_permission(session: Session) -> None:
    actor = replace(factories.actor(session, Role.SECRETARIAT), role="inconnu")  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        identity.create_patient_checked(session, actor, _form())


def test_update_identity_audits_field_names_only(session: Session) -> None:
    actor = factories.actor(session, Role.COORDINATOR)
    row = _patient(session, phone="+33612345678")
    identity.update_identity(
        session,
        actor,
        row.id or 0,
        _form(
            birth_name="LEFEVRE",
            first_names="Elodie",
            used_name="Martin",
            ins_nir=NIR_WOMAN_GIRONDE,
            identity_status="validee",
            phone="0612345678",
        ),
    )
    session.refresh(row)
    assert (row.used_name, row.ins_nir, row.identity_status) == ("Martin", NIR_WOMAN_GIRONDE, "validee")
    assert row.search_name == "lefevre martin elodie"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.update")).one()
    assert json.loads(event.detail) == {"fields": ["identity_status", "ins_nir", "used_name"]}
    with pytest.raises(NotFound):
        identity.update_identity(session, actor, 999_999, _form())


# --- merges -----------------------------------------------------------------------------------


def _history(
    session: Session, patient: Patient, user_id: int
) -> tuple[Appointment, Referral, WaitingListEntry]:
    commune = factories.commune(session, "Beaucaire")
    doctor = factories.professional(session, "Paul", "Durand")
    start = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
    appointment = Appointment(
        professional_id=doctor.id or 0,
        patient_id=patient.id or 0,
        start=start,
        end=start + timedelta(minutes=20),
        booked_by_user_id=user_id,
    )
    referral = Referral(
        patient_id=patient.id,
        source=ReferralSource.PHARMACIST,
        reason=ReferralReason.CHRONIC_ALD,
        urgency=Urgency.WITHIN_48H,
    )
    waiting = WaitingListEntry(
        patient_id=patient.id or 0,
        profession="medecin_generaliste",
        commune_id=commune.id or 0,
        created_by_user_id=user_id,
    )
    session.add_all([appointment, referral, waiting])
    session.flush()
    return appointment, referral, waiting


def test_merge_moves_history_fills_traits_and_audits(session: Session) -> None:
    actor = factories.actor(session, Role.COORDINATOR)
    kept = _patient(session, identity_status=IdentityStatus.VALIDATED)
    merged = _patient(
        session,
        birth_name="Lefevre",
        first_names="Élodie",
        used_name="Martin",
        ins_nir=NIR_WOMAN_GIRONDE,
        phone="+33612345678",
        ald=True,
    )
    other = _patient(session, birth_name="Autre", first_names="Patient")
    appointment, referral, waiting = _history(session, merged, actor.user_id)
    untouched, _, _ = _history(session, other, actor.user_id)
    kept_id, merged_id = kept.id or 0, merged.id or 0

    identity.merge_patients(
        session, actor, keep_id=kept_id, merge_id=merged_id, reason="Doublon  créé à l'accueil"
    )
    session.commit()

    assert session.get(Patient, merged_id) is None
    assert session.get(Appointment, appointment.id).patient_id == kept_id  # type: ignore[union-attr]
    assert session.get(Referral, referral.id).patient_id == kept_id  # type: ignore[union-attr]
    assert session.get(WaitingListEntry, waiting.id).patient_id == kept_id  # type: ignore[union-attr]
    assert session.get(Appointment, untouched.id).patient_id == other.id  # type: ignore[union-attr]
    row = session.get(Patient, kept_id)
    assert row is not None
    assert (row.used_name, row.ins_nir, row.phone, row.ald) == (
        "Martin",
        NIR_WOMAN_GIRONDE,
        "+33612345678",
        True,
    )
    assert row.identity_status == IdentityStatus.VALIDATED and row.search_name == "lefevre martin elodie"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.merge")).one()
    assert event.target_id == str(kept_id)
    detail = json.loads(event.detail)
    assert detail["kept_id"] == kept_id and detail["merged_id"] == merged_id
    assert detail["reason"] == "Doublon créé à l'accueil"
    assert detail["moved"] == {"appointment": 1, "referral": 1, "waitinglistentry": 1}
    assert detail["filled"] == ["used_name", "ins_nir", "phone", "ald"]


@pytest.mark.parametrize("role", [Role.PROFESSIONAL, Role.MEDICOBUS_TEAM])
def test_merge_refused_for_care_roles(session: Session, role: Role) -> None:
    actor = factories.actor(session, role)
    kept, merged = _patient(session), _patient(session)
    with pytest.raises(PermissionDenied):
        identity.merge_patients(
            session, actor, keep_id=kept.id or 0, merge_id=merged.id or 0, reason="doublon"
        )
    assert session.get(Patient, merged.id) is not None


def test_merge_refusals(session: Session) -> None:
    actor = factories.actor(session, Role.ADMIN)
    kept = _patient(session, ins_nir=NIR_WOMAN_GIRONDE)
    merged = _patient(session, ins_nir=NIR_WOMAN_ABROAD)
    with pytest.raises(DomainError, match="lui-même"):
        identity.merge_patients(session, actor, keep_id=kept.id or 0, merge_id=kept.id or 0, reason="doublon")
    with pytest.raises(DomainError, match="matricules INS différents"):
        identity.merge_patients(
            session, actor, keep_id=kept.id or 0, merge_id=merged.id or 0, reason="doublon"
        )
    with pytest.raises(ValidationFailed) as caught:
        identity.merge_patients(session, actor, keep_id=kept.id or 0, merge_id=merged.id or 0, reason="  ")
    assert caught.value.errors == {"reason": "Ce champ est obligatoire."}
    with pytest.raises(NotFound):
        identity.merge_patients(session, actor, keep_id=kept.id or 0, merge_id=999_999, reason="doublon")
    assert "patient.merge" not in _actions(session)
