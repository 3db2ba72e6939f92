"""The SAS slot search: parameters, Bundle shape, codes, identifiers, audiences, query count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from cpts_app.models.agenda import SlotKind, SlotStatus
from cpts_app.models.audit import AuditEvent
from cpts_app.models.directory import Profession
from cpts_app.services.fhir_sas import BadSearch, operation_outcome, parse_slot_search, search_sas_slots
from cpts_app.services.fhir_sas_codes import (
    ACT_CODE_SYSTEM,
    APPOINTMENT_REASON_SYSTEM,
    ESTABLISHMENT_CATEGORY_SYSTEM,
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    SERVICE_TYPE_REFERENCE_EXTENSION,
    SLOT_TYPE_SYSTEM,
)
from tests.services import factories
from tests.services import feeds_factories as ff
from tests.services.fhir_validation import assert_valid_bundle, resources

NOW = datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
BASE = "https://cpts.example.fr"
MONDAY_9H = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
"""Monday 30 March 2026, 09:00 in Paris (summer time since the 29th)."""


def _params(
    *identifiers: str, start: str = "ge2026-03-30T00:00:00+02:00", end: str = "le2026-04-02T00:00:00+02:00"
):
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        ("_include", "Slot:service-type-reference"),
        ("_include:iterate", "HealthcareService:organization"),
        ("start", start),
        ("start", end),
        ("schedule.actor:Practitioner.identifier", ",".join(f"{IDNPS_SYSTEM}|{i}" for i in identifiers)),
        ("status", "free"),
    ]


def _search(session: Session, *identifiers: str, **kwargs) -> dict:
    return search_sas_slots(
        session, parse_slot_search(_params(*identifiers, **kwargs)), base_url=BASE, now=NOW
    )


@pytest.fixture
def world(session: Session):
    where = ff.place(session)
    gp = ff.professional(session, 1, where)
    nurse = ff.professional(
        session, 2, where, profession=Profession.NURSE, with_rpps=False, adeli="951234567"
    )
    cabinet = ff.schedule(session, gp, where)
    home = ff.schedule(session, nurse, where, at_home=True)
    slots = {
        "snp": ff.slot(session, cabinet, gp, MONDAY_9H, kind=SlotKind.UNSCHEDULED, audience="SNP"),
        "cpts": ff.slot(
            session,
            cabinet,
            gp,
            MONDAY_9H + timedelta(hours=1),
            kind=SlotKind.CONSULTATION,
            audience="PUBLIC,CPTS",
        ),
        "tele": ff.slot(
            session,
            cabinet,
            gp,
            MONDAY_9H + timedelta(hours=2),
            kind=SlotKind.TELECONSULTATION,
            audience="PRO,SNP",
        ),
        "public": ff.slot(
            session,
            cabinet,
            gp,
            MONDAY_9H + timedelta(hours=3),
            kind=SlotKind.CONSULTATION,
            audience="PUBLIC",
        ),
        "pro": ff.slot(session, cabinet, gp, MONDAY_9H + timedelta(hours=4), audience="PRO"),
        "busy": ff.slot(session, cabinet, gp, MONDAY_9H + timedelta(hours=5), status=SlotStatus.BUSY),
        "past": ff.slot(session, cabinet, gp, NOW - timedelta(hours=1)),
        "later": ff.slot(session, cabinet, gp, MONDAY_9H + timedelta(days=5)),
        "home": ff.slot(
            session, home, nurse, MONDAY_9H, kind=SlotKind.HOME_VISIT, audience="SNP,CPTS", minutes=30
        ),
    }
    session.commit()
    return where, gp, nurse, slots


def test_the_guides_query_returns_a_valid_searchset_of_snp_and_cpts_slots_only(
    session: Session, world
) -> None:
    _where, gp, nurse, slots = world
    body = _search(session, "8" + gp.rpps, "0" + nurse.adeli)
    assert_valid_bundle(body)
    assert body["type"] == "searchset"
    matched = [e for e in body["entry"] if e["search"]["mode"] == "match"]
    assert body["total"] == len(matched) == 4
    ids = {e["resource"]["id"] for e in matched}
    assert ids == {f"slot-{slots[k].id}" for k in ("snp", "cpts", "tele", "home")}
    assert all(e["fullUrl"] == f"{BASE}/fhir/Slot/{e['resource']['id']}" for e in matched)
    included = {e["resource"]["resourceType"] for e in body["entry"] if e["search"]["mode"] == "include"}
    assert included == {"Schedule", "Practitioner", "PractitionerRole", "HealthcareService", "Organization"}
    assert body["link"][0]["relation"] == "self"


def test_slot_codes_follow_the_guide(session: Session, world) -> None:
    _where, gp, nurse, slots = world
    body = _search(session, "8" + gp.rpps, "0" + nurse.adeli)
    by_id = {s["id"]: s for s in resources(body, "Slot")}

    snp = by_id[f"slot-{slots['snp'].id}"]
    assert snp["meta"]["security"] == [
        {"system": SLOT_TYPE_SYSTEM, "code": "SNP", "display": snp["meta"]["security"][0]["display"]}
    ]
    assert snp["serviceType"][0]["coding"][0] == {
        "system": ACT_CODE_SYSTEM,
        "code": "AMB",
        "display": "ambulatory",
    }
    assert snp["appointmentType"]["coding"][0]["system"] == APPOINTMENT_REASON_SYSTEM
    assert snp["appointmentType"]["coding"][0]["code"] == "WALKIN"
    assert snp["status"] == "free"
    assert snp["start"] == "2026-03-30T09:00:00+02:00"
    assert snp["comment"] == f"{BASE}/agenda/professionnel?id={gp.id}"
    assert snp["schedule"]["reference"].startswith("Schedule/schedule-")

    cpts = by_id[f"slot-{slots['cpts'].id}"]
    assert {c["code"] for c in cpts["meta"]["security"]} == {"PUBLIC", "CPTS"}
    assert cpts["appointmentType"]["coding"][0]["code"] == "ROUTINE"
    reference = cpts["serviceType"][1]
    assert reference["coding"][0] == {"system": ESTABLISHMENT_CATEGORY_SYSTEM, "code": "604"}
    assert reference["extension"][0]["url"] == SERVICE_TYPE_REFERENCE_EXTENSION
    assert (
        reference["extension"][0]["valueReference"]["reference"]
        == "HealthcareService/healthcareservice-cpts-1"
    )

    assert by_id[f"slot-{slots['tele'].id}"]["serviceType"][0]["coding"][0]["code"] == "VR"
    assert len(by_id[f"slot-{slots['tele'].id}"]["serviceType"]) == 1  # no CPTS audience, no CPTS reference
    assert by_id[f"slot-{slots['home'].id}"]["serviceType"][0]["coding"][0]["code"] == "HH"


def test_included_resources_carry_prefixed_national_identifiers(session: Session, world) -> None:
    where, gp, nurse, _slots = world
    body = _search(session, "8" + gp.rpps, "0" + nurse.adeli)
    practitioners = {p["id"]: p for p in resources(body, "Practitioner")}
    assert practitioners[f"practitioner-{gp.id}"]["identifier"][0]["system"] == IDNPS_SYSTEM
    assert practitioners[f"practitioner-{gp.id}"]["identifier"][0]["value"] == "8" + gp.rpps
    assert practitioners[f"practitioner-{gp.id}"]["identifier"][0]["type"]["coding"][0]["code"] == "IDNPS"
    assert practitioners[f"practitioner-{nurse.id}"]["identifier"][0]["value"] == "0951234567"
    assert practitioners[f"practitioner-{gp.id}"]["name"][0]["family"] == "Nom1"

    organization = resources(body, "Organization")[0]
    assert organization["identifier"][0]["system"] == IDNST_SYSTEM
    assert organization["identifier"][0]["value"] == "1" + where.territory.finess
    assert organization["name"] == "CPTS Axe Majeur"
    service = resources(body, "HealthcareService")[0]
    assert service["providedBy"]["reference"] == f"Organization/{organization['id']}"

    roles = {r["id"]: r for r in resources(body, "PractitionerRole")}
    assert len(roles) == 2  # one per schedule, i.e. per place
    cabinet_role = next(
        r for r in roles.values() if r["practitioner"]["reference"] == f"Practitioner/practitioner-{gp.id}"
    )
    assert cabinet_role["organization"]["identifier"]["value"] == "1" + where.structure.finess
    assert cabinet_role["location"][0]["reference"] == "#lieu"
    location = cabinet_role["contained"][0]
    assert location["address"] == {"line": ["12 rue des Tilleuls"], "city": "Gonesse", "postalCode": "95500"}
    assert cabinet_role["specialty"][0]["coding"][0]["code"] == "SM54"
    assert cabinet_role["code"][0]["coding"][0]["code"] == "10"

    schedules = resources(body, "Schedule")
    assert all(
        [a["reference"].split("/")[0] for a in s["actor"]] == ["Practitioner", "PractitionerRole"]
        for s in schedules
    )


def test_each_resource_is_included_once(session: Session, world) -> None:
    _where, gp, _nurse, _slots = world
    body = _search(session, "8" + gp.rpps)
    keys = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body["entry"]]
    assert len(keys) == len(set(keys))
    assert len(resources(body, "Schedule")) == 1


def test_unknown_identifier_gives_an_empty_bundle_with_a_warning(session: Session, world) -> None:
    body = _search(session, "8" + factories.rpps(999))
    assert_valid_bundle(body)
    assert body["total"] == 0
    outcome = body["entry"][0]
    assert outcome["search"]["mode"] == "outcome"
    assert "inconnu" in outcome["resource"]["issue"][0]["diagnostics"]


def test_identifiers_without_prefix_are_understood(session: Session, world) -> None:
    _where, gp, _nurse, _slots = world
    query = parse_slot_search(
        [
            ("start", "ge2026-03-30"),
            ("start", "le2026-04-01"),
            ("schedule.actor:Practitioner.identifier", gp.rpps),
        ]
    )
    assert query.rpps == (gp.rpps,)
    assert search_sas_slots(session, query, base_url=BASE, now=NOW)["total"] == 3


def test_includes_are_only_those_asked_for(session: Session, world) -> None:
    _where, gp, _nurse, _slots = world
    params = [p for p in _params("8" + gp.rpps) if not p[0].startswith("_include")]
    body = search_sas_slots(session, parse_slot_search(params), base_url=BASE, now=NOW)
    assert {e["resource"]["resourceType"] for e in body["entry"]} == {"Slot"}


def test_count_caps_the_entries_but_not_the_total(session: Session, world) -> None:
    _where, gp, _nurse, _slots = world
    body = search_sas_slots(
        session, parse_slot_search([*_params("8" + gp.rpps), ("_count", "1")]), base_url=BASE, now=NOW
    )
    assert body["total"] == 3
    assert len(resources(body, "Slot")) == 1


def test_search_is_audited_without_patient_data(session: Session, world) -> None:
    _where, gp, _nurse, _slots = world
    _search(session, "8" + gp.rpps)
    session.commit()
    event_row = session.exec(select(AuditEvent).where(AuditEvent.action == "fhir.slot.search")).one()
    assert '"total": 3' in event_row.detail


def test_queries_do_not_grow_with_the_number_of_slots(session: Session, engine, world) -> None:
    where, gp, _nurse, _slots = world
    others = [ff.professional(session, 100 + i, where) for i in range(24)]
    for index, pro in enumerate(others):
        sched = ff.schedule(session, pro, where)
        for k in range(10):
            ff.slot(session, sched, pro, MONDAY_9H + timedelta(minutes=15 * k + index), audience="SNP,CPTS")
    session.commit()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        body = _search(session, "8" + gp.rpps, *("8" + p.rpps for p in others))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert body["total"] == 243
    assert_valid_bundle(body)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 2


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ([("start", "ge2026-13-45"), ("start", "le2026-04-01")], "Date invalide"),
        ([("start", "ge2026-03-30T09:00:00"), ("start", "le2026-04-01")], "fuseau horaire"),
        ([("start", "2026-03-30"), ("start", "le2026-04-01")], "préfixe"),
        ([("start", "ge2026-03-30")], "obligatoires"),
        ([("start", "ge2026-04-02"), ("start", "le2026-03-30")], "postérieure"),
        ([("start", "ge2026-03-01"), ("start", "le2026-05-01")], "31 jours"),
        ([("start", "ge2026-03-30"), ("start", "le2026-04-01"), ("status", "busy")], "free"),
        (
            [("start", "ge2026-03-30"), ("start", "le2026-04-01"), ("_include", "Slot:patient")],
            "non prise en charge",
        ),
        ([("start", "ge2026-03-30"), ("start", "le2026-04-01"), ("specialty", "SM54")], "inconnu"),
        ([("start", "ge2026-03-30"), ("start", "le2026-04-01"), ("_count", "0")], "_count"),
    ],
)
def test_malformed_searches_are_refused_in_french(params, fragment: str) -> None:
    with_identifier = [
        *params,
        ("schedule.actor:Practitioner.identifier", f"{IDNPS_SYSTEM}|8{factories.rpps(1)}"),
    ]
    with pytest.raises(BadSearch) as caught:
        parse_slot_search(with_identifier)
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("identifiers", "fragment"),
    [
        ("", "obligatoire"),
        (f"{IDNPS_SYSTEM}|812345678901", "clé de contrôle"),
        (f"{IDNPS_SYSTEM}|9{factories.rpps(1)}", "préfixe 8"),
        (f"urn:oid:1.2.3|8{factories.rpps(1)}", "Système d'identifiant inconnu"),
        (",".join(f"{IDNPS_SYSTEM}|8{factories.rpps(i)}" for i in range(26)), "25 au plus"),
    ],
)
def test_bad_identifiers_are_refused(identifiers: str, fragment: str) -> None:
    params = [("start", "ge2026-03-30"), ("start", "le2026-04-01")]
    if identifiers:
        params.append(("schedule.actor:Practitioner.identifier", identifiers))
    with pytest.raises(BadSearch) as caught:
        parse_slot_search(params)
    assert fragment in caught.value.message


def test_twenty_five_identifiers_are_accepted() -> None:
    identifiers = ",".join(f"{IDNPS_SYSTEM}|8{factories.rpps(i)}" for i in range(25))
    query = parse_slot_search(
        [
            ("start", "ge2026-03-30"),
            ("start", "le2026-04-01"),
            ("schedule.actor:Practitioner.identifier", identifiers),
        ]
    )
    assert len(query.rpps) == 25


def test_dates_are_paris_days_and_a_decoded_plus_is_restored() -> None:
    identifier = ("schedule.actor:Practitioner.identifier", f"8{factories.rpps(1)}")
    by_day = parse_slot_search([("start", "ge2026-03-29"), ("start", "le2026-03-29"), identifier])
    assert by_day.start_from == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert by_day.start_until == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # 23-hour day
    spaced = parse_slot_search(
        [
            ("start", "ge2024-06-12T16:20:00.000 02:00"),
            ("start", "le2024-06-15T16:20:00.000+02:00"),
            identifier,
        ]
    )
    assert spaced.start_from == datetime(2024, 6, 12, 14, 20, tzinfo=UTC)


def test_operation_outcome_shape() -> None:
    outcome = operation_outcome("Date invalide.")
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Date invalide."}],
    }
