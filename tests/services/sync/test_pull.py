"""The pull service without HTTP: pages in change order, each record once, echo, purge, reset."""

from __future__ import annotations

from sqlmodel import Session, select

from cpts_app.models.sync import SyncDevice, SyncRecord
from cpts_app.services.sync import records
from cpts_app.services.sync.pull import pull
from cpts_app.services.sync.records import Scope
from mobile_sync.hlc import Timestamp
from mobile_sync.merge import POLICIES, IncomingChange, merge
from mobile_sync.protocol import PullRequest, decode_cursor
from tests.mobile_sync.world import Tour, enrolment_code, make_tour

PATIENT = {"nom": "DURAND", "prenoms": "Jeanne", "date_naissance": "1948-05-02", "sexe": "F"}


def _setup(session: Session, engine) -> tuple[Tour, SyncDevice]:
    tour = make_tour(engine)
    enrolment_code(engine, tour, "Bus A")
    device = session.exec(select(SyncDevice)).one()
    return tour, device


def _write(session: Session, rid: str, fields: dict, *, tour_id: int, origin: str = "serveur") -> None:
    """A change as a push or a coordinator would leave it (``origin`` marks a clean laptop echo)."""
    counter = records.lock_counter(session)
    row = records.find(session, "patient", rid)
    current = records.open_state(row) if row else None
    stamp = records.server_stamp(counter).encode()
    base = current.version if current else 0
    result = merge(current, IncomingChange(base, fields, stamp, origin), POLICIES["patient"])
    echo = origin if origin != "serveur" else None
    records.store_state(
        session, counter, "patient", rid, result.state, row=row, scope=Scope(tour_id, None), echo_of=echo
    )
    session.commit()


def _pull(session: Session, device: SyncDevice, cursor: str | None = None, limit: int = 500):
    page = pull(session, device, PullRequest(device_id=device.device_id, cursor=cursor, limit=limit))
    session.commit()
    return page


def _patients(page) -> list[str]:
    return [c.record_id for c in page.changes if c.table == "patient"]


def test_pages_follow_the_last_change_and_carry_each_record_once(session: Session, engine) -> None:
    tour, device = _setup(session, engine)
    first = _pull(session, device)  # the tour's slots
    assert {c.table for c in first.changes} == {"appointment"} and not first.more
    for rid in ("p1", "p2", "p3"):
        _write(session, rid, PATIENT, tour_id=tour.tour_id)
    for phone in ("06 00 00 00 01", "06 00 00 00 02", "06 00 00 00 03"):
        _write(session, "p1", {"telephone": phone}, tour_id=tour.tour_id)
    page = _pull(session, device, first.cursor, limit=2)
    assert _patients(page) == ["p2", "p3"] and page.more  # p1 changed last: it comes last
    rest = _pull(session, device, page.cursor, limit=2)
    assert _patients(rest) == ["p1"] and not rest.more
    assert rest.changes[0].fields["telephone"] == "06 00 00 00 03" and rest.changes[0].version == 4
    assert _pull(session, device, rest.cursor).changes == []


def test_a_record_the_device_left_as_it_is_is_not_sent_back_except_on_a_first_pull(
    session: Session, engine
) -> None:
    tour, device = _setup(session, engine)
    start = _pull(session, device)
    _write(session, "mine", PATIENT, tour_id=tour.tour_id, origin=device.device_id)
    _write(session, "theirs", PATIENT, tour_id=tour.tour_id)
    assert _patients(_pull(session, device, start.cursor)) == ["theirs"]
    assert sorted(_patients(_pull(session, device))) == ["mine", "theirs"]  # from zero: everything


def test_a_record_moved_to_another_tour_is_purged_from_the_laptop(session: Session, engine) -> None:
    other = make_tour(engine, suffix="2")
    tour, device = _setup(session, engine)
    _write(session, "p1", PATIENT, tour_id=tour.tour_id)
    before = _pull(session, device)
    assert "p1" in _patients(before)
    _write(session, "p1", {"adresse": "Ailleurs"}, tour_id=other.tour_id)
    after = _pull(session, device, before.cursor)
    assert "p1" not in _patients(after)
    assert [(p.table, p.record_ids) for p in after.purge] == [("patient", ["p1"])]


def test_a_new_scope_answers_reset_then_starts_again_from_zero(session: Session, engine) -> None:
    tour, device = _setup(session, engine)
    _write(session, "p1", PATIENT, tour_id=tour.tour_id)
    page = _pull(session, device)
    device.scope_epoch += 1
    session.add(device)
    session.commit()
    reset = _pull(session, device, page.cursor)
    assert reset.reset and reset.changes == [] and decode_cursor(reset.cursor) == (0, device.scope_epoch)
    again = _pull(session, device, reset.cursor)
    assert "p1" in _patients(again)


def test_a_permanence_laptop_sees_only_its_structure(session: Session, engine) -> None:
    tour, device = _setup(session, engine)
    device.tour_id = None
    device.structure_id = tour.structure_id
    session.add(device)
    session.commit()
    counter = records.lock_counter(session)
    for rid, scope in (("ici", Scope(None, tour.structure_id)), ("bus", Scope(tour.tour_id, None))):
        state = merge(
            None, IncomingChange(0, PATIENT, Timestamp(1, 0, "x").encode(), "x"), POLICIES["patient"]
        )
        records.store_state(session, counter, "patient", rid, state.state, row=None, scope=scope)
    session.commit()
    assert _patients(_pull(session, device)) == ["ici"]
    assert len(session.exec(select(SyncRecord)).all()) == 2
