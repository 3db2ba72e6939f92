"""The sync benchmarks' link simulator and dataset generator (fast; no npm, no network)."""

from __future__ import annotations

import gzip
import re
import threading
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from benchmarks.sync_dataset import Change, first_sync_records, medicobus_day, summary
from benchmarks.sync_link import SLOW, LinkModel, SharedLink, SlowLinkTransport, request_size, response_size
from mobile_sync.schema import check_fields

HEX32 = re.compile(r"^[0-9a-f]{32}$")


# --- link ----------------------------------------------------------------------------------------


def test_link_model_delay_is_rtt_plus_transmission() -> None:
    assert LinkModel(bandwidth_bps=1_000_000, rtt_s=0.3) == SLOW
    assert SLOW.delay(0, 0) == pytest.approx(0.3)
    assert SLOW.delay(100_000, 25_000) == pytest.approx(0.3 + 1.0)
    with pytest.raises(ValueError):
        LinkModel(bandwidth_bps=0)
    with pytest.raises(ValueError):
        LinkModel(rtt_s=-1)


def test_sizes_are_http11_text() -> None:
    request = b"POST /api/sync HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
    assert request_size("POST", "/api/sync", [("Host", "a"), ("Content-Length", "2")], 2) == len(request)
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    assert response_size(200, "OK", [("Content-Type", "text/plain"), ("Content-Length", "5")], 5) == len(
        response
    )
    # a chunked answer is counted as if it carried a Content-Length
    chunked = response_size(200, "OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")], 5)
    assert chunked == len(response)


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"got": len(request.content)})


def test_transport_counts_exact_bytes_and_round_trips_without_sleeping() -> None:
    transport = SlowLinkTransport(httpx.MockTransport(_echo), LinkModel(8_000, 0.5), simulate=False)
    started = time.monotonic()
    with httpx.Client(transport=transport, base_url="http://127.0.0.1:8000") as client:
        first = client.post("/api/sync/push", json={"ops": ["x" * 100]})
        second = client.get("/api/sync/pull?cursor=abc")
    assert time.monotonic() - started < 0.4  # nothing slept
    assert first.json() == {"got": len(first.request.content)} and second.status_code == 200
    assert transport.round_trips == 2

    def sent(response: httpx.Response) -> int:
        req = response.request
        head = f"{req.method} {req.url.raw_path.decode()} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in req.headers.multi_items()) + "\r\n"
        return len(head.encode()) + len(req.content)

    def received(response: httpx.Response) -> int:
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in response.headers.multi_items())
        return len((head + "\r\n").encode()) + len(response.content)

    assert transport.bytes_up == sent(first) + sent(second)
    assert "host" in first.request.headers and "content-length" in first.request.headers
    assert transport.bytes_down == received(first) + received(second)
    expected = 2 * 0.5 + (transport.bytes_up + transport.bytes_down) * 8 / 8_000
    assert transport.simulated_seconds == pytest.approx(expected)
    transport.reset()
    assert (transport.round_trips, transport.bytes_up, transport.bytes_down) == (0, 0, 0)


def test_transport_sleeps_by_default() -> None:
    transport = SlowLinkTransport(httpx.MockTransport(_echo), LinkModel(bandwidth_bps=1e9, rtt_s=0.15))
    started = time.monotonic()
    with httpx.Client(transport=transport) as client:
        client.get("http://127.0.0.1/a")
        client.get("http://127.0.0.1/b")
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert transport.simulated_seconds == pytest.approx(0.3, abs=0.01)


def test_loopback_model_counts_without_delay() -> None:
    transport = SlowLinkTransport(httpx.MockTransport(_echo), None)
    with httpx.Client(transport=transport) as client:
        client.get("http://127.0.0.1/a")
    assert transport.round_trips == 1 and transport.bytes_down > 0 and transport.simulated_seconds == 0


def test_compressed_answers_count_wire_bytes_and_reach_the_client_decoded() -> None:
    body = b'{"records": "' + b"a" * 20_000 + b'"}'
    packed = gzip.compress(body)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=packed)

    transport = SlowLinkTransport(httpx.MockTransport(handler), SLOW, simulate=False)
    with httpx.Client(transport=transport) as client:
        response = client.get("http://127.0.0.1/pull")
    assert response.content == body
    assert len(packed) < transport.bytes_down < len(packed) + 300


def test_wraps_starlette_testclient_transport() -> None:
    async def pull(request):
        return JSONResponse({"records": list(range(50))})

    app = Starlette(routes=[Route("/api/sync/pull", pull, methods=["POST"])])
    with TestClient(app) as plain:
        transport = SlowLinkTransport(plain._transport, SLOW, simulate=False)
        with httpx.Client(transport=transport, base_url="http://testserver") as client:
            answer = client.post("/api/sync/pull", json={"cursor": None})
    assert answer.json() == {"records": list(range(50))}
    assert transport.round_trips == 1
    assert transport.bytes_down > len(answer.content)
    assert transport.simulated_seconds == pytest.approx(SLOW.delay(transport.bytes_up, transport.bytes_down))


def test_concurrent_requests_share_the_bandwidth_but_overlap_latency() -> None:
    link = SharedLink(LinkModel(bandwidth_bps=8_000, rtt_s=0.2))  # 1000 bytes: 1 s on the wire
    waits: list[float] = []
    threads = [threading.Thread(target=lambda: waits.append(link.exchange(150, 50))) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    # each takes 0.2 s to transmit; the second waits for the first: 0.4 s, 0.6 s (not 0.8 s)
    assert sorted(round(w, 1) for w in waits) == [0.4, 0.6]
    assert 0.55 <= elapsed < 0.8
    assert link.round_trips == 2 and link.bytes_up == 300 and link.bytes_down == 100


# --- dataset -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def day() -> list[Change]:
    return medicobus_day()


def test_day_is_deterministic_and_seeded(day: list[Change]) -> None:
    assert medicobus_day() == day
    other = medicobus_day(seed=7)
    assert [c.record_id for c in other[:20]] != [c.record_id for c in day[:20]]


def test_day_size_matches_a_medicobus_day(day: list[Change]) -> None:
    stats = summary(day)
    consultations = [c for c in day if c.table == "consultation" and c.creating]
    assert 55 <= len(consultations) <= 65
    assert 3_500 <= stats["changes"] <= 4_500
    assert {c.table for c in day} == {"patient", "consultation", "slot_booking"}
    small = [c for c in day if not c.creating and not c.delete]
    assert sum(len(c.fields) == 1 for c in small) == len(small)  # edits: one field at a time


def test_every_day_change_is_valid_and_well_ordered(day: list[Change]) -> None:
    created: dict[tuple[str, str], int] = {}
    deleted: set[tuple[str, str]] = set()
    previous_ms = 0
    for change in day:
        key = (change.table, change.record_id)
        assert HEX32.match(change.record_id)
        assert change.at_ms > previous_ms
        previous_ms = change.at_ms
        assert key not in deleted
        if change.delete:
            assert change.table == "patient" and key in created and change.fields == {}
            deleted.add(key)
            continue
        check_fields(change.table, change.fields, creating=change.creating)
        if change.creating:
            assert key not in created
            created[key] = change.at_ms
        else:
            assert key in created
        reference = change.fields.get("patient")  # consultation and slot_booking point to a patient
        if reference is not None:
            assert ("patient", reference) in created and ("patient", reference) not in deleted
    assert len(deleted) == 1


def test_appends_one_entry_at_a_time_or_whole_list(day: list[Change]) -> None:
    whole = medicobus_day(appends="whole")
    assert [(c.table, c.record_id, set(c.fields)) for c in whole] == [
        (c.table, c.record_id, set(c.fields)) for c in day
    ]
    notes: dict[str, list[dict]] = {}
    for entry_change, whole_change in zip(day, whole, strict=True):
        if entry_change.table != "consultation" or "notes" not in entry_change.fields:
            continue
        check_fields("consultation", whole_change.fields, creating=False)
        so_far = notes.setdefault(entry_change.record_id, [])
        if not entry_change.creating:
            assert len(entry_change.fields["notes"]) == 1
            so_far.extend(entry_change.fields["notes"])
        assert whole_change.fields["notes"] == so_far
    assert max(len(n) for n in notes.values()) >= 45
    all_ids = [e["id"] for n in notes.values() for e in n]
    assert len(all_ids) == len(set(all_ids))
    with pytest.raises(ValueError):
        medicobus_day(appends="delta")


def test_patient_fields_look_french(day: list[Change]) -> None:
    patients = [c.fields for c in day if c.table == "patient" and c.creating]
    for fields in patients:
        assert re.fullmatch(r"0[1-9]( \d\d){4}", fields["telephone"])
        assert len(fields["commune_insee"]) == 5
        assert fields["sexe"] in {"F", "M", "I"}
        assert isinstance(fields["sans_medecin_traitant"], bool)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", fields["date_naissance"])


def test_first_sync_records_are_complete_and_valid() -> None:
    records = first_sync_records(5_000)
    assert records == first_sync_records(5_000)
    assert len(records) == 5_000 and len({c.record_id for c in records}) == 5_000
    tables = summary(records)
    assert tables["patient"] + tables["consultation"] >= 0.85 * 5_000
    assert tables.get("slot_booking", 0) > 0
    patients = set()
    for change in records:
        assert change.creating and not change.delete and HEX32.match(change.record_id)
        check_fields(change.table, change.fields, creating=True)
        if change.table == "patient":
            patients.add(change.record_id)
        else:
            assert change.fields["patient"] in patients
    assert len(first_sync_records(10)) == 10
