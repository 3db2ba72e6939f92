"""Wire-format checks of the offline synchronisation: what is refused, with which status and sentence."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from mobile_sync.protocol import (
    BAD_CURSOR,
    BATCH_UNREADABLE,
    DEVICE_REVOKED,
    MAX_BATCH_BYTES,
    MAX_OPERATIONS,
    MAX_PAGE,
    PROTOCOL_VERSION,
    SYNC_TABLES,
    ConflictInfo,
    ErrorResponse,
    Operation,
    OperationResult,
    ProtocolError,
    PullPage,
    PullRequest,
    PurgeItem,
    PushBatch,
    PushResponse,
    RemoteChange,
    SignedPushBatch,
    batch_signing_body,
    decode_cursor,
    encode_cursor,
    error_response,
    parse_signed_batch,
    plan_batch,
)

HLC = "000001700000000-000003-laptop-01"
SIGNATURE = base64.b64encode(bytes(range(64))).decode()


def op(seq: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "op_id": f"{seq:032x}",
        "seq": seq,
        "table": "appointment",
        "record_id": f"rdv-{seq}",
        "base_version": 0,
        "hlc": HLC,
        "fields": {"motif": "Renouvellement", "duree_minutes": 15, "notes": None},
    }
    data.update(overrides)
    return data


def batch(seqs: list[int] | None = None, first_seq: int = 1, **overrides: Any) -> dict[str, Any]:
    seqs = list(range(1, 4)) if seqs is None else seqs
    data: dict[str, Any] = {
        "protocol": PROTOCOL_VERSION,
        "device_id": "laptop-01",
        "batch_id": "ab" * 16,
        "first_seq": first_seq,
        "operations": [op(seq) for seq in seqs],
        "sent_at_hlc": HLC,
    }
    data.update(overrides)
    return data


def raw(batch_data: dict[str, Any], signature: str = SIGNATURE) -> bytes:
    return json.dumps({"batch": batch_data, "signature": signature}).encode()


def refusal(body: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_signed_batch(body)
    return caught.value


# --- Round trips ----------------------------------------------------------------------------------


def test_signed_batch_round_trip() -> None:
    parsed = parse_signed_batch(raw(batch()))
    assert parsed.batch.last_seq == 3
    assert parsed.batch.operations[0].delete is False
    again = SignedPushBatch.model_validate_json(parsed.model_dump_json())
    assert again == parsed
    assert SignedPushBatch.model_validate(parsed.model_dump(mode="json")) == parsed


def test_response_models_round_trip() -> None:
    result = OperationResult(
        op_id="0" * 32,
        seq=2,
        status="conflict",
        version=7,
        reason="Modifié entre-temps au cabinet.",
        conflicts=[
            ConflictInfo(
                field="motif",
                kept_value="Suivi diabète",
                discarded_value={"texte": "Renouvellement"},
                reason="Modification plus récente sur le serveur.",
            )
        ],
    )
    push = PushResponse(
        server_time_ms=1_700_000_000_123,
        server_hlc=HLC,
        acknowledged_through_seq=2,
        results=[result],
        stopped_at_gap=None,
    )
    page = PullPage(
        server_time_ms=1_700_000_000_123,
        server_hlc=HLC,
        changes=[
            RemoteChange(
                table="patient",
                record_id="p-1",
                version=3,
                fields={"nom": "Durand", "allergies": ["pénicilline"]},
                field_hlc={"nom": HLC},
            ),
            RemoteChange(table="slot_booking", record_id="s-9", version=4, deleted=True),
        ],
        cursor=encode_cursor(42, 1),
        more=True,
        purge=[PurgeItem(table="consultation", record_ids=["c-1", "c-2"])],
    )
    request = PullRequest(device_id="laptop-01", cursor=page.cursor, limit=100)
    error = ErrorResponse(status=403, detail=DEVICE_REVOKED, server_time_ms=5, revoked=True)
    for model in (result, push, page, request, error):
        assert type(model).model_validate_json(model.model_dump_json()) == model
        assert type(model).model_validate(model.model_dump(mode="json")) == model


def test_defaults_of_pull_models() -> None:
    request = PullRequest.model_validate_json(b'{"device_id": "laptop-01"}')
    assert request.cursor is None
    assert request.limit == MAX_PAGE
    assert request.protocol == PROTOCOL_VERSION
    page = PullPage(server_time_ms=0, server_hlc=HLC, cursor=encode_cursor(0, 0))
    assert (page.changes, page.purge, page.more, page.revoked) == ([], [], False, False)


def test_models_are_frozen() -> None:
    parsed = parse_signed_batch(raw(batch()))
    with pytest.raises(ValidationError):
        parsed.signature = "x"  # type: ignore[misc]


def test_sync_tables() -> None:
    assert {"patient", "appointment", "consultation", "slot_booking"} == SYNC_TABLES


# --- Sequence numbers -----------------------------------------------------------------------------


def test_gap_in_sequence_names_the_missing_operation() -> None:
    error = refusal(raw(batch([1, 2, 4, 5])))
    assert error.status == 422
    assert error.message == "Lot incomplet : il manque l'opération n° 3."


def test_batch_not_starting_at_first_seq_is_a_gap() -> None:
    error = refusal(raw(batch([6, 7], first_seq=5)))
    assert (error.status, error.message) == (422, "Lot incomplet : il manque l'opération n° 5.")


def test_duplicate_sequence_number() -> None:
    error = refusal(raw(batch([1, 2, 2, 3])))
    assert error.status == 422
    assert "n° 2 figure deux fois" in error.message


def test_duplicate_operation_id() -> None:
    data = batch([1, 2])
    data["operations"][1]["op_id"] = data["operations"][0]["op_id"]
    error = refusal(raw(data))
    assert error.status == 422
    assert "identifiant déjà utilisé" in error.message


def test_operation_before_first_seq_and_disorder() -> None:
    assert "précède le début" in refusal(raw(batch([1, 2], first_seq=2))).message
    assert "pas dans l'ordre" in refusal(raw(batch([2, 1]))).message


def test_too_many_operations() -> None:
    error = refusal(raw(batch(list(range(1, MAX_OPERATIONS + 2)))))
    assert error.status == 422
    assert "1000 éléments au plus" in error.message
    assert "operations" in error.message


def test_empty_batch() -> None:
    error = refusal(raw(batch([])))
    assert error.status == 422
    assert "1 élément(s) au moins" in error.message


# --- Size and readability -------------------------------------------------------------------------


def test_oversize_body_refused_before_parsing() -> None:
    body = b"{" + b" " * MAX_BATCH_BYTES  # not JSON: a 400 would mean it was parsed
    error = refusal(body)
    assert error.status == 413
    assert error.message == "Lot trop volumineux (2 Mo au plus)."


def test_body_at_the_limit_is_parsed() -> None:
    body = raw(batch())
    padded = body[:-1] + b" " * (MAX_BATCH_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_BATCH_BYTES
    assert parse_signed_batch(padded).batch.last_seq == 3


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe{}", b"[" * 5000])
def test_unreadable_body(body: bytes) -> None:
    error = refusal(body)
    assert (error.status, error.message) == (400, BATCH_UNREADABLE)


def test_truncated_batch_refused_whole() -> None:
    body = raw(batch())
    for cut in (1, len(body) // 2, len(body) - 1):
        error = refusal(body[:cut])
        assert (error.status, error.message) == (400, "Lot illisible : JSON invalide ou tronqué.")


def test_json_that_is_not_an_object() -> None:
    error = refusal(b"[1, 2]")
    assert error.status == 422
    assert "objet attendu" in error.message


# --- Field validation, in French -----------------------------------------------------------------


def operation_refusal(**overrides: Any) -> ProtocolError:
    data = batch([1, 2])
    data["operations"][1].update(overrides)
    return refusal(raw(data))


def test_unknown_table() -> None:
    error = operation_refusal(table="prescription")
    assert error.status == 422
    assert "« batch.operations[1].table »" in error.message
    assert "valeur non autorisée" in error.message
    assert "'slot_booking'" in error.message


@pytest.mark.parametrize("record_id", ["", "a" * 65, "rdv 1", "rdv/1", "é"])
def test_bad_record_id(record_id: str) -> None:
    error = operation_refusal(record_id=record_id)
    assert error.status == 422
    assert error.message == "Lot invalide : « batch.operations[1].record_id » — format invalide."


@pytest.mark.parametrize(
    "hlc",
    ["1700000000000-3-laptop", "000001700000000-000003-", "000001700000000-000003-a b", "demain", ""],
)
def test_bad_hlc(hlc: str) -> None:
    error = operation_refusal(hlc=hlc)
    assert error.status == 422
    assert "« batch.operations[1].hlc » — format invalide" in error.message


def test_bad_sent_at_hlc() -> None:
    error = refusal(raw(batch(sent_at_hlc="2024-01-01T00:00:00Z")))
    assert "« batch.sent_at_hlc » — format invalide" in error.message


@pytest.mark.parametrize("name", ["Nom", "date-naissance", "x" * 41, "", "nom1"])
def test_bad_field_name(name: str) -> None:
    error = operation_refusal(fields={name: "valeur"})
    assert error.status == 422
    assert "batch.operations[1].fields" in error.message
    assert "(nom de champ)" in error.message
    assert "format invalide" in error.message


def test_long_bad_field_name_is_shortened_in_the_message() -> None:
    error = operation_refusal(fields={"Z" * 500: 1})
    assert "Z" * 41 not in error.message
    assert "…" in error.message


def test_non_finite_number_refused() -> None:
    data = raw(batch([1])).replace(b'"duree_minutes": 15', b'"duree_minutes": NaN')
    error = refusal(data)
    assert error.status == 422
    assert "NaN" in error.message


def test_extra_keys_refused() -> None:
    error = operation_refusal(priority="high")
    assert error.status == 422
    assert error.message == "Lot invalide : « batch.operations[1].priority » — champ non reconnu."
    top = json.dumps({"batch": batch(), "signature": SIGNATURE, "debug": True}).encode()
    assert "« debug » — champ non reconnu" in refusal(top).message


def test_missing_key() -> None:
    data = batch()
    del data["device_id"]
    error = refusal(raw(data))
    assert error.message == "Lot invalide : « batch.device_id » — champ obligatoire manquant."


def test_types_are_strict() -> None:
    assert "nombre entier attendu" in operation_refusal(seq="2").message
    assert "booléen" in operation_refusal(delete="yes").message
    assert "supérieur ou égal à 0" in operation_refusal(base_version=-1).message


def test_error_count_is_reported() -> None:
    error = operation_refusal(table="x", record_id="bad id")
    assert error.message.endswith(
        " — valeur non autorisée (valeurs admises : 'patient', 'appointment', "
        "'consultation' ou 'slot_booking') (et 1 autre erreur)."
    )


def test_wrong_protocol_version() -> None:
    error = refusal(raw(batch(protocol=2)))
    assert error.status == 422
    assert "Version du protocole" in error.message
    assert "attendue : 1" in error.message


@pytest.mark.parametrize("signature", ["", "x" * 88, base64.b64encode(bytes(65)).decode(), "!" * 88])
def test_bad_signature_encoding(signature: str) -> None:
    error = refusal(raw(batch(), signature=signature))
    assert error.status == 422
    assert "signature" in error.message.lower()


def test_urlsafe_unpadded_signature_accepted() -> None:
    signature = base64.urlsafe_b64encode(bytes([251] * 64)).decode().rstrip("=")
    assert parse_signed_batch(raw(batch(), signature=signature)).signature == signature


def test_error_messages_never_echo_values() -> None:
    error = operation_refusal(record_id="Jean Dupont 12/03/1961")
    assert "Dupont" not in error.message


# --- Signing body ---------------------------------------------------------------------------------


def test_signing_body_is_stable() -> None:
    first = batch([1])
    second = batch([1])
    second["operations"][0]["fields"] = dict(reversed(list(first["operations"][0]["fields"].items())))
    reordered = json.dumps({"signature": SIGNATURE, "batch": dict(reversed(list(second.items())))}).encode()
    a = batch_signing_body(parse_signed_batch(raw(first)).batch)
    b = batch_signing_body(parse_signed_batch(reordered).batch)
    assert a == b
    canonical = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
    assert json.dumps(a, **canonical) == json.dumps(b, **canonical)


def test_signing_body_includes_defaults_and_matches_python_construction() -> None:
    parsed = parse_signed_batch(raw(batch([1]))).batch
    body = batch_signing_body(parsed)
    assert body["operations"][0]["delete"] is False
    assert batch_signing_body(PushBatch.model_validate(body)) == body
    assert (
        batch_signing_body(PushBatch(**{**body, "operations": [Operation(**body["operations"][0])]})) == body
    )


# --- Replays and gaps against the server's acknowledgement ----------------------------------------


def test_plan_batch_replay_applies_nothing_twice() -> None:
    parsed = PushBatch.model_validate(batch([1, 2, 3]))
    plan = plan_batch(parsed, acknowledged_through_seq=3)
    assert ([o.seq for o in plan.duplicates], plan.to_apply, plan.gap_at) == ([1, 2, 3], [], None)
    partial = plan_batch(parsed, acknowledged_through_seq=1)
    assert [o.seq for o in partial.duplicates] == [1]
    assert [o.seq for o in partial.to_apply] == [2, 3]


def test_plan_batch_gap_stops_everything() -> None:
    parsed = PushBatch.model_validate(batch([5, 6], first_seq=5))
    plan = plan_batch(parsed, acknowledged_through_seq=3)
    assert (plan.duplicates, plan.to_apply, plan.gap_at) == ([], [], 4)
    assert plan_batch(parsed, acknowledged_through_seq=4).to_apply == list(parsed.operations)


# --- Responses ------------------------------------------------------------------------------------


def test_rejected_operation_needs_a_reason() -> None:
    with pytest.raises(ValidationError):
        OperationResult(op_id="0" * 32, seq=1, status="rejected")
    ok = OperationResult(op_id="0" * 32, seq=1, status="rejected", reason="Créneau déjà pris.")
    assert ok.version is None


def test_tombstone_carries_no_data() -> None:
    with pytest.raises(ValidationError, match="aucune donnée"):
        RemoteChange(table="patient", record_id="p-1", version=2, deleted=True, fields={"nom": "Durand"})


def test_revoked_page_carries_no_changes() -> None:
    change = RemoteChange(table="patient", record_id="p-1", version=2, fields={"nom": "Durand"})
    with pytest.raises(ValidationError):
        PullPage(server_time_ms=1, server_hlc=HLC, cursor="x", revoked=True, changes=[change])
    page = PullPage(server_time_ms=1, server_hlc=HLC, cursor="x", revoked=True)
    assert page.revoked


def test_pull_limit_bounds() -> None:
    with pytest.raises(ValidationError):
        PullRequest(device_id="laptop-01", limit=MAX_PAGE + 1)
    with pytest.raises(ValidationError):
        PullRequest(device_id="laptop-01", limit=0)


def test_error_response_carries_server_time() -> None:
    error = ProtocolError(403, message_fr=DEVICE_REVOKED)
    assert (error.status, error.message, error.message_fr, str(error)) == (403,) + (DEVICE_REVOKED,) * 3
    response = error_response(error, 1_700_000_000_000, revoked=True)
    assert response.model_dump() == {
        "status": 403,
        "detail": DEVICE_REVOKED,
        "server_time_ms": 1_700_000_000_000,
        "revoked": True,
    }


# --- Cursor ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("position", "epoch"), [(0, 0), (1, 0), (123_456_789, 7), (2**53, 2**31)])
def test_cursor_round_trip(position: int, epoch: int) -> None:
    text = encode_cursor(position, epoch)
    assert "=" not in text
    assert decode_cursor(text) == (position, epoch)


def forge(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x" * 300,
        "!!!!",
        encode_cursor(5, 1)[:-2],
        encode_cursor(5, 1) + "A",
        encode_cursor(5, 1).replace("e", "f", 1),
        forge([5, 1]),
        forge({"v": 1, "p": -1, "e": 0}),
        forge({"v": 1, "p": True, "e": 0}),
        forge({"v": 1, "p": 1.5, "e": 0}),
        forge({"v": 2, "p": 1, "e": 0}),
        forge({"v": 1, "p": 1}),
        forge({"v": 1, "p": 1, "e": 0, "admin": True}),
    ],
)
def test_tampered_cursor(text: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_cursor(text)
    assert (caught.value.status, caught.value.message) == (400, BAD_CURSOR)


def test_encode_cursor_refuses_negative() -> None:
    with pytest.raises(ValueError):
        encode_cursor(-1, 0)


# --- Independence from the web application -------------------------------------------------------


def test_importable_without_reflex_or_app() -> None:
    code = (
        "import sys, mobile_sync.protocol;"
        "print(sorted(m for m in ('reflex', 'cpts_app') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
