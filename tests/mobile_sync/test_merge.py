"""Field-level merge of laptop operations into the server's record: no edit is ever lost silently."""

from __future__ import annotations

import copy
import random

import pytest

from mobile_sync.hlc import MAX_COUNTER, MAX_DRIFT_MS, Timestamp
from mobile_sync.merge import (
    DELETION,
    POLICIES,
    Conflict,
    FieldState,
    IncomingChange,
    MergeError,
    MergeResult,
    RecordState,
    TablePolicy,
    merge,
)

DAY_MS = 24 * 60 * 60 * 1000
T0 = 1_700_000_000_000
PATIENT = POLICIES["patient"]
CONSULTATION = POLICIES["consultation"]
BOTH_SIDES = "Modifié des deux côtés : la modification la plus récente est gardée."


def hlc(offset_ms: int, counter: int = 0, node: str = "n") -> str:
    return Timestamp(T0 + offset_ms, counter, node).encode()


def change(
    fields: dict,
    at: str,
    *,
    origin: str = "bus-a",
    base: int = 3,
    delete: bool = False,
    received_ms: int | None = None,
) -> IncomingChange:
    return IncomingChange(base, fields, at, origin, delete=delete, received_ms=received_ms)


def patient(**extra: FieldState) -> RecordState:
    """A patient at version 3, as every laptop last pulled it (base 3), plus later server edits."""
    fields = {
        "nom": FieldState("Dupont", 1, hlc(100, node="serveur"), "serveur"),
        "prenom": FieldState("Jean", 2, hlc(200, node="serveur"), "serveur"),
        "telephone": FieldState("0600000000", 3, hlc(300, node="serveur"), "serveur"),
    }
    fields.update(extra)
    version = max(state.version for state in fields.values())
    return RecordState(version, False, fields)


def consultation() -> RecordState:
    return RecordState(
        1,
        False,
        {
            "patient": FieldState("p1", 1, hlc(100, node="serveur"), "serveur"),
            "date": FieldState("2024-06-11", 1, hlc(100, node="serveur"), "serveur"),
            "professionnel": FieldState("dr-martin", 1, hlc(100, node="serveur"), "serveur"),
            "motif": FieldState("Suivi", 1, hlc(100, node="serveur"), "serveur"),
            "notes": FieldState([], 1, hlc(100, node="serveur"), "serveur"),
        },
    )


def entry(ident: str, at: str, text: str = "") -> dict:
    return {"id": ident, "hlc": at, "texte": text or f"note {ident}"}


def conflict_fields(result: MergeResult) -> set[str]:
    return {c.field for c in result.conflicts}


# --- policies ---


def test_policies_of_the_synced_tables() -> None:
    assert TablePolicy(append_fields=frozenset({"observations"})) == PATIENT
    assert CONSULTATION.append_fields == {"notes"}
    assert CONSULTATION.set_once_fields == {"patient", "date", "professionnel"}
    assert CONSULTATION.deletable is False
    assert POLICIES["slot_booking"].deletable is False
    assert POLICIES["appointment"].deletable is True
    assert PATIENT.deletable is True


# --- creation ---


def test_new_record_is_created_at_version_one() -> None:
    at = hlc(1000, node="bus-a")
    result = merge(None, change({"nom": "Durand", "prenom": "Marie"}, at, base=0), PATIENT)
    assert result.status == "applied"
    assert result.conflicts == ()
    assert result.changed == {"nom", "prenom"}
    assert result.state.version == 1
    assert result.state.deleted is False
    assert result.state.values() == {"nom": "Durand", "prenom": "Marie"}
    for state in result.state.fields.values():
        assert state == FieldState(state.value, 1, at, "bus-a")


def test_new_record_with_an_append_list_is_sorted() -> None:
    at = hlc(1000, node="bus-a")
    notes = [entry("b", hlc(20)), entry("a", hlc(10)), entry("c", hlc(10))]
    result = merge(None, change({"notes": notes, "patient": "p1"}, at, base=0), CONSULTATION)
    assert result.status == "applied"
    assert [e["id"] for e in result.state.fields["notes"].value] == ["a", "c", "b"]
    assert result.state.fields["notes"].version == 1
    assert result.state.fields["notes"].origin == "bus-a"
    assert result.state.fields["patient"].value == "p1"


def test_merge_does_not_modify_the_current_state() -> None:
    """Pure function: the server's copy must stay as it was if its transaction rolls back."""
    current = patient(observations=FieldState([entry("o1", hlc(5))], 3, hlc(5), "serveur"))
    snapshot = copy.deepcopy(current)
    merge(current, change({"nom": "Martin", "observations": [entry("o2", hlc(6))]}, hlc(900)), PATIENT)
    merge(current, change({}, hlc(900), delete=True), PATIENT)
    assert current == snapshot


# --- last writer wins, field by field ---


def test_different_fields_changed_on_each_side_are_both_kept() -> None:
    """The server changed the phone after base 3; the laptop changed the name: no conflict.

    The laptop's stamp is even older than the server's edit: that must not matter for other fields.
    """
    server_phone = FieldState("0611111111", 4, hlc(5000, node="serveur"), "serveur")
    current = patient(telephone=server_phone)
    result = merge(current, change({"nom": "Dupont-Martin"}, hlc(1000, node="bus-a")), PATIENT)
    assert result.status == "applied"
    assert result.conflicts == ()
    assert result.changed == {"nom"}
    assert result.state.version == 5
    assert result.state.values() == {"nom": "Dupont-Martin", "prenom": "Jean", "telephone": "0611111111"}
    assert result.state.fields["telephone"] is server_phone
    assert result.state.fields["nom"] == FieldState("Dupont-Martin", 5, hlc(1000, node="bus-a"), "bus-a")


def test_same_field_on_both_sides_the_later_laptop_edit_wins() -> None:
    server_at, laptop_at = hlc(5000, node="serveur"), hlc(6000, node="bus-a")
    current = patient(telephone=FieldState("0611111111", 4, server_at, "serveur"))
    result = merge(current, change({"telephone": "0622222222"}, laptop_at), PATIENT)
    assert result.status == "conflict"
    assert result.changed == {"telephone"}
    assert result.state.version == 5
    assert result.state.fields["telephone"] == FieldState("0622222222", 5, laptop_at, "bus-a")
    assert result.conflicts == (
        Conflict("telephone", "0622222222", "0611111111", laptop_at, server_at, BOTH_SIDES),
    )


def test_same_field_on_both_sides_the_later_server_edit_wins() -> None:
    server_at, laptop_at = hlc(6000, node="serveur"), hlc(5000, node="bus-a")
    current = patient(telephone=FieldState("0611111111", 4, server_at, "serveur"))
    result = merge(current, change({"telephone": "0622222222"}, laptop_at), PATIENT)
    assert result.status == "conflict"
    assert result.changed == frozenset()
    assert result.state == current
    assert result.conflicts == (
        Conflict("telephone", "0611111111", "0622222222", server_at, laptop_at, BOTH_SIDES),
    )


def test_equal_wall_and_counter_are_broken_by_node() -> None:
    """Same millisecond, same counter: the node name decides, the same way on every server."""
    current = patient(telephone=FieldState("0611111111", 4, hlc(5000, node="bus-b"), "bus-b"))
    wins = merge(current, change({"telephone": "0622222222"}, hlc(5000, node="bus-c")), PATIENT)
    loses = merge(current, change({"telephone": "0622222222"}, hlc(5000, node="bus-a")), PATIENT)
    assert wins.state.fields["telephone"].value == "0622222222"
    assert loses.state.fields["telephone"].value == "0611111111"
    assert conflict_fields(wins) == conflict_fields(loses) == {"telephone"}


def test_a_change_based_on_the_current_version_is_not_a_conflict() -> None:
    """The laptop saw the server's edit (base 4) before editing: it simply overrides it."""
    current = patient(telephone=FieldState("0611111111", 4, hlc(5000, node="serveur"), "serveur"))
    result = merge(current, change({"telephone": "0622222222"}, hlc(6000, node="bus-a"), base=4), PATIENT)
    assert result.status == "applied"
    assert result.conflicts == ()
    assert result.state.fields["telephone"].value == "0622222222"


def test_the_same_device_own_earlier_change_is_not_a_conflict() -> None:
    """Two offline edits of one laptop both start from base 3; the second overrides the first."""
    first = merge(patient(), change({"telephone": "0611111111"}, hlc(5000, node="bus-a")), PATIENT)
    assert first.status == "applied"
    second = merge(first.state, change({"telephone": "0622222222"}, hlc(6000, node="bus-a")), PATIENT)
    assert second.status == "applied"
    assert second.conflicts == ()
    assert second.state.fields["telephone"] == FieldState("0622222222", 5, hlc(6000, node="bus-a"), "bus-a")


def test_another_device_after_base_is_a_conflict_even_if_the_first_device_wrote_before() -> None:
    """Origin is per field: B overwrote A's phone, so A's next edit from base 3 conflicts with B."""
    a1 = merge(patient(), change({"telephone": "A1"}, hlc(5000, node="bus-a")), PATIENT)
    b = merge(a1.state, change({"telephone": "B"}, hlc(5500, node="bus-b"), origin="bus-b"), PATIENT)
    assert conflict_fields(b) == {"telephone"}
    a2 = merge(b.state, change({"telephone": "A2"}, hlc(6000, node="bus-a")), PATIENT)
    assert a2.status == "conflict"
    assert a2.conflicts[0].discarded_value == "B"
    assert a2.state.fields["telephone"].value == "A2"


def test_equal_values_are_not_a_conflict() -> None:
    current = patient(telephone=FieldState("0611111111", 4, hlc(6000, node="serveur"), "serveur"))
    result = merge(current, change({"telephone": "0611111111"}, hlc(5000, node="bus-a")), PATIENT)
    assert result.status == "unchanged"
    assert result.conflicts == ()
    assert result.changed == frozenset()
    assert result.state == current


def test_malformed_change_stamp_is_refused() -> None:
    with pytest.raises(ValueError, match="Horodatage"):
        merge(patient(), change({"nom": "X"}, "demain"), PATIENT)


# --- append-only lists ---


@pytest.mark.parametrize(("table", "name"), [("patient", "observations"), ("consultation", "notes")])
def test_append_list_is_a_union_by_id_ordered_by_hlc(table: str, name: str) -> None:
    """Another device appended meanwhile: both entries stay, in (hlc, id) order, no conflict."""
    policy = POLICIES[table]
    o1, o2, o3 = entry("o1", hlc(10)), entry("o2", hlc(30)), entry("o3", hlc(20))
    current = RecordState(4, False, {name: FieldState([o1, o2], 4, hlc(30, node="bus-b"), "bus-b")})
    result = merge(current, change({name: [o1, o3]}, hlc(25, node="bus-a")), policy)
    assert result.status == "applied"
    assert result.conflicts == ()
    assert result.state.fields[name].value == [o1, o3, o2]
    assert result.state.fields[name].version == 5
    assert result.state.fields[name].hlc == hlc(30, node="bus-b")  # never moves back


def test_append_list_ties_on_hlc_are_ordered_by_id() -> None:
    same = hlc(10)
    result = merge(None, change({"observations": [entry("b", same), entry("a", same)]}, hlc(1)), PATIENT)
    assert [e["id"] for e in result.state.fields["observations"].value] == ["a", "b"]


def test_append_list_never_drops_or_rewrites_an_entry() -> None:
    """An empty or partial list, or an edited copy of an entry, cannot remove or change what is stored."""
    o1, o2 = entry("o1", hlc(10), "tension 12/8"), entry("o2", hlc(20))
    current = RecordState(4, False, {"observations": FieldState([o1, o2], 4, hlc(20), "serveur")})
    for incoming in ([], None, [o2], [{**o1, "texte": "réécrit"}]):
        result = merge(current, change({"observations": incoming}, hlc(50, node="bus-a")), PATIENT)
        assert result.status == "unchanged", incoming
        assert result.state.fields["observations"].value == [o1, o2]


def test_append_lists_commute() -> None:
    """Two devices' appends land in either order: same list, every entry exactly once."""
    rng = random.Random(1789)
    for _ in range(300):
        base = [entry(f"b{i}", hlc(rng.randint(0, 50))) for i in range(rng.randint(0, 4))]
        pool = [entry(f"n{i}", hlc(rng.randint(0, 50), node=rng.choice("xy"))) for i in range(6)]
        op1 = rng.sample(base, k=rng.randint(0, len(base))) + rng.sample(pool, k=rng.randint(0, 4))
        op2 = rng.sample(base, k=rng.randint(0, len(base))) + rng.sample(pool, k=rng.randint(0, 4))
        rng.shuffle(op1)
        rng.shuffle(op2)
        current = RecordState(3, False, {"notes": FieldState(base, 3, hlc(0), "serveur")})
        c1 = change({"notes": op1}, hlc(100, node="bus-a"), origin="bus-a")
        c2 = change({"notes": op2}, hlc(90, node="bus-b"), origin="bus-b")
        one_two = merge(merge(current, c1, CONSULTATION).state, c2, CONSULTATION)
        two_one = merge(merge(current, c2, CONSULTATION).state, c1, CONSULTATION)
        final = one_two.state.fields["notes"].value
        assert final == two_one.state.fields["notes"].value
        ids = [e["id"] for e in final]
        assert len(ids) == len(set(ids))
        assert set(ids) == {e["id"] for e in base + op1 + op2}
        assert final == sorted(final, key=lambda e: (e["hlc"], e["id"]))
        assert one_two.conflicts == two_one.conflicts == ()


@pytest.mark.parametrize(
    "bad",
    [
        "une observation",
        {"id": "o1"},
        [{"texte": "sans identifiant"}],
        [{"id": ""}],
        [{"id": 3}],
        ["o1"],
        [entry("o1", hlc(1)), None],
    ],
)
def test_malformed_append_list_is_refused(bad: object) -> None:
    with pytest.raises(MergeError, match="observations"):
        merge(patient(), change({"observations": bad}, hlc(900)), PATIENT)
    with pytest.raises(MergeError, match="identifiant"):
        merge(None, change({"observations": bad}, hlc(900), base=0), PATIENT)
    assert issubclass(MergeError, ValueError)


# --- set-once fields ---


@pytest.mark.parametrize(
    ("name", "value"), [("patient", "p2"), ("date", "2024-06-12"), ("professionnel", "dr-x")]
)
def test_set_once_field_keeps_its_first_value(name: str, value: str) -> None:
    """Even a causally later, later-stamped edit (base = current) cannot move a consultation."""
    current = consultation()
    first = current.fields[name]
    result = merge(
        current, change({name: value, "motif": "Urgence"}, hlc(9000, node="bus-a"), base=1), CONSULTATION
    )
    assert result.status == "conflict"
    assert result.state.fields[name] is first
    assert result.state.fields["motif"].value == "Urgence"
    assert result.changed == {"motif"}
    assert result.conflicts == (
        Conflict(
            name,
            first.value,
            value,
            first.hlc,
            hlc(9000, node="bus-a"),
            "Valeur fixée à la création : elle ne change pas.",
        ),
    )


def test_set_once_field_with_the_same_value_is_fine() -> None:
    current = consultation()
    result = merge(current, change({"patient": "p1"}, hlc(9000, node="bus-a"), base=1), CONSULTATION)
    assert result.status == "unchanged"
    assert result.conflicts == ()


# --- deletion ---


@pytest.mark.parametrize("table", ["consultation", "slot_booking"])
def test_clinical_records_cannot_be_deleted(table: str) -> None:
    current = consultation()
    result = merge(current, change({}, hlc(9000), base=1, delete=True), POLICIES[table])
    assert result.status == "rejected"
    assert result.reason == "Donnée clinique : elle ne peut pas être supprimée."
    assert result.state == current
    assert result.state.deleted is False
    assert result.changed == frozenset()


def test_patient_deletion_applies_when_nothing_changed_since_base() -> None:
    current = patient()
    result = merge(current, change({}, hlc(9000, node="bus-a"), delete=True), PATIENT)
    assert result.status == "applied"
    assert result.state == RecordState(4, True, {})
    assert result.changed == {"nom", "prenom", "telephone"}
    assert result.conflicts == ()


def test_patient_deletion_applies_over_the_deleting_device_own_later_edit() -> None:
    current = patient(telephone=FieldState("0611111111", 4, hlc(5000, node="bus-a"), "bus-a"))
    result = merge(current, change({}, hlc(9000, node="bus-a"), delete=True), PATIENT)
    assert result.status == "applied"
    assert result.state.deleted is True
    assert result.state.version == 5


def test_patient_deletion_is_refused_after_an_edit_from_elsewhere() -> None:
    """An edit made elsewhere after the deleter's base beats the deletion, whatever the stamps."""
    current = patient(
        telephone=FieldState("0611111111", 4, hlc(5000, node="serveur"), "serveur"),
        prenom=FieldState("Jeanne", 5, hlc(5500, node="bus-b"), "bus-b"),
    )
    at = hlc(9000, node="bus-a")
    result = merge(current, change({}, at, delete=True), PATIENT)
    assert result.status == "conflict"
    assert result.state == current
    assert result.state.deleted is False
    assert result.conflicts == (
        Conflict(
            DELETION,
            {"nom": "Dupont", "prenom": "Jeanne", "telephone": "0611111111"},
            None,
            hlc(5500, node="bus-b"),
            at,
            "Suppression refusée : l'enregistrement a été modifié ailleurs entre-temps.",
        ),
    )


def test_deleting_an_unknown_or_deleted_record_changes_nothing() -> None:
    tomb = RecordState(4, True, {})
    assert merge(None, change({}, hlc(9000), base=0, delete=True), PATIENT).status == "unchanged"
    result = merge(tomb, change({}, hlc(9000), delete=True), PATIENT)
    assert result.status == "unchanged"
    assert result.state == tomb


def test_edit_on_a_tombstone_is_a_conflict_and_keeps_the_values() -> None:
    tomb = RecordState(4, True, {})
    at = hlc(9000, node="bus-a")
    obs = [entry("o1", hlc(8000))]
    result = merge(tomb, change({"telephone": "0622222222", "observations": obs}, at), PATIENT)
    assert result.status == "conflict"
    assert result.state == tomb
    assert result.changed == frozenset()
    reason = "Enregistrement supprimé entre-temps : modification non appliquée."
    assert result.conflicts == (
        Conflict("observations", None, obs, "", at, reason),
        Conflict("telephone", None, "0622222222", "", at, reason),
    )


# --- a laptop clock a day off ---


def test_a_stamp_a_day_ahead_is_stored_capped_at_reception_plus_drift() -> None:
    received = T0 + 10_000
    future = Timestamp(received + DAY_MS, 3, "bus-a").encode()
    result = merge(patient(), change({"nom": "Martin"}, future, received_ms=received), PATIENT)
    capped = Timestamp(received + MAX_DRIFT_MS, MAX_COUNTER, "bus-a").encode()
    assert result.state.fields["nom"].hlc == capped


def test_a_server_edit_later_than_the_cap_beats_a_stamp_from_the_future() -> None:
    """Already stored edit stamped just after reception + drift: the day-ahead edit loses.

    Control: without the clamp (no reception time) the same day-ahead edit would win.
    """
    received = T0 + 10_000
    future = Timestamp(received + DAY_MS, 0, "bus-a").encode()
    server_at = Timestamp(received + MAX_DRIFT_MS + 1, 0, "serveur").encode()
    current = patient(nom=FieldState("Dupont-Serveur", 4, server_at, "serveur"))
    clamped = merge(current, change({"nom": "Martin"}, future, received_ms=received), PATIENT)
    assert clamped.state.fields["nom"].value == "Dupont-Serveur"
    assert clamped.conflicts[0].kept_hlc == server_at
    assert (
        clamped.conflicts[0].discarded_hlc
        == Timestamp(received + MAX_DRIFT_MS, MAX_COUNTER, "bus-a").encode()
    )
    unclamped = merge(current, change({"nom": "Martin"}, future), PATIENT)
    assert unclamped.state.fields["nom"].value == "Martin"


def test_an_edit_after_the_cap_beats_a_day_ahead_edit_already_stored() -> None:
    """The day-ahead edit lands first; an edit made later elsewhere (past the cap) overrides it."""
    received = T0 + 10_000
    future = Timestamp(received + DAY_MS, 0, "bus-a").encode()
    first = merge(patient(), change({"nom": "Martin"}, future, received_ms=received), PATIENT)
    later = Timestamp(received + MAX_DRIFT_MS + 1, 0, "bus-b").encode()
    second = merge(
        first.state,
        change({"nom": "Bernard"}, later, origin="bus-b", received_ms=received + MAX_DRIFT_MS),
        PATIENT,
    )
    assert second.state.fields["nom"].value == "Bernard"
    assert second.conflicts[0].discarded_value == "Martin"


def test_the_cap_is_exact_a_server_edit_at_or_below_it_loses() -> None:
    """What the clamp does not do: an edit stamped within reception + drift still loses to the
    capped future edit (the server cannot know the laptop's real edit time)."""
    received = T0 + 10_000
    future = Timestamp(received + DAY_MS, 0, "bus-a").encode()
    for server_ts in (
        Timestamp(received, 0, "serveur"),
        Timestamp(received + MAX_DRIFT_MS, MAX_COUNTER - 1, "serveur"),
    ):
        current = patient(nom=FieldState("Dupont-Serveur", 4, server_ts.encode(), "serveur"))
        result = merge(current, change({"nom": "Martin"}, future, received_ms=received), PATIENT)
        assert result.state.fields["nom"].value == "Martin"


def test_a_stamp_a_day_behind_is_not_raised() -> None:
    """A laptop a day behind keeps its stamp: a concurrent server edit after it wins."""
    received = T0 + DAY_MS
    past = Timestamp(T0, 0, "bus-a").encode()
    current = patient(nom=FieldState("Dupont-Serveur", 4, hlc(1, node="serveur"), "serveur"))
    result = merge(current, change({"nom": "Martin"}, past, received_ms=received), PATIENT)
    assert result.state.fields["nom"].value == "Dupont-Serveur"
    assert result.conflicts[0].discarded_hlc == past


# --- convergence ---


def test_two_devices_converge_whatever_the_order() -> None:
    """Concurrent ops from one base, applied in either order: same values, same conflicts.

    Each op really changes the fields it sends (value differs from the base): an op re-sending the
    base value is a no-op in one order and a competing write in the other (see the report).
    """
    rng = random.Random(42)
    names = ["nom", "prenom", "telephone", "adresse", "medecin_traitant"]
    for _ in range(500):
        base = RecordState(
            3,
            False,
            {
                n: FieldState(f"{n}-0", rng.randint(1, 3), hlc(rng.randint(0, 99), node="serveur"), "serveur")
                for n in names
            },
        )
        walls = rng.sample(range(100, 200), 2)

        def op(origin: str, wall: int) -> IncomingChange:
            picked = rng.sample(names, k=rng.randint(1, len(names)))
            values = {n: rng.choice([f"{n}-1", f"{n}-2"]) for n in picked}
            if rng.random() < 0.3:
                values["observations"] = [entry(f"{origin}-{i}", hlc(rng.randint(0, 200))) for i in range(2)]
            return change(values, hlc(wall, rng.randint(0, 2), node=origin), origin=origin)

        a, b = op("bus-a", walls[0]), op("bus-b", walls[1])
        ab_first = merge(base, a, PATIENT)
        ab = merge(ab_first.state, b, PATIENT)
        ba_first = merge(base, b, PATIENT)
        ba = merge(ba_first.state, a, PATIENT)
        assert ab.state.values() == ba.state.values()
        ab_conflicts = set(ab_first.conflicts + ab.conflicts)
        ba_conflicts = set(ba_first.conflicts + ba.conflicts)
        assert {c.field for c in ab_conflicts} == {c.field for c in ba_conflicts}
        assert ab_conflicts == ba_conflicts
        later = max(a, b, key=lambda o: Timestamp.parse(o.hlc))
        earlier = a if later is b else b
        for name, value in later.fields.items():
            if name != "observations":
                assert ab.state.values()[name] == value
        both = {n for n in a.fields.keys() & b.fields.keys() if n != "observations"}
        expected = {n for n in both if a.fields[n] != b.fields[n]}
        assert {c.field for c in ab_conflicts} == expected
        for name in earlier.fields.keys() - later.fields.keys() - {"observations"}:
            assert ab.state.values()[name] == earlier.fields[name]
