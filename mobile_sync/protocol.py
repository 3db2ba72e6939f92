"""Wire format of the laptop ↔ server synchronisation, and the checks every message must pass.

Why a module of its own: the laptop (offline for days) and the server must agree byte for byte on
what a batch is, because the device signs it and the server re-derives the signed body from the
parsed model. Everything here is pure (pydantic v2 + stdlib), so both sides import the same rules.

The exchange, in order: the laptop first *pushes* its outbox (signed batches of operations
numbered contiguously from 1), then *pulls* the server's changes page by page with an opaque
cursor. Push before pull, so that what the laptop wrote offline is merged before it reads back.

Refusals are French sentences meant for the coordinator's screen; they never repeat field values
from the request, since those may be health data.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

PROTOCOL_VERSION = 1
MAX_BATCH_BYTES = 2_000_000
"""Raw request size refused before any parsing, so a huge body costs the server nothing."""
MAX_OPERATIONS = 1000
MAX_PAGE = 500
MAX_FIELDS = 200
"""Columns per operation: far above any synced table, low enough to bound the work per record."""
MAX_PURGE_IDS = 5000
"""Record ids per purge item; a larger scope change is spread over several pull pages."""
MAX_CURSOR_CHARS = 200

SyncTable = Literal["patient", "appointment", "consultation", "slot_booking"]
SYNC_TABLES: frozenset[str] = frozenset(get_args(SyncTable))
"""Tables a laptop may hold offline; anything else never leaves the server."""

OperationStatus = Literal["applied", "duplicate", "rejected", "conflict"]

HLC_PATTERN = r"^[0-9]{15}-[0-9]{6}-[A-Za-z0-9_.:-]{1,64}$"
"""``hlc.py`` encoding ``{wall_ms:015d}-{counter:06d}-{node}``: fixed widths keep text order = time order."""

DEVICE_UNKNOWN = "Appareil inconnu : il doit être enrôlé avant de synchroniser."
DEVICE_REVOKED = "Appareil révoqué : ses clés et ses données locales doivent être effacées."
BAD_SIGNATURE = "Signature du lot invalide : le lot est refusé."
BATCH_UNREADABLE = "Lot illisible : JSON invalide ou tronqué."
BAD_CURSOR = "Curseur de synchronisation invalide."
UNSUPPORTED_VERSION = "Version du protocole de synchronisation non prise en charge (attendue : {expected})."


class ProtocolError(Exception):
    """A refusal with its HTTP status and the French sentence shown to the user."""

    def __init__(self, status: int, message_fr: str) -> None:
        super().__init__(message_fr)
        self.status = status
        self.message = message_fr

    @property
    def message_fr(self) -> str:
        return self.message


def _protocol_error(code: str, message: str) -> PydanticCustomError:
    """A validation error whose French message is reported verbatim by :func:`french_summary`."""
    return PydanticCustomError("sync_protocol", message, {"code": code})


def _check_protocol(value: int) -> int:
    if value != PROTOCOL_VERSION:
        raise _protocol_error("version", UNSUPPORTED_VERSION.format(expected=PROTOCOL_VERSION))
    return value


def _check_signature(value: str) -> str:
    """Ed25519 signatures are 64 bytes; accept standard or URL-safe base64, padded or not."""
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise _protocol_error("signature", "Signature illisible : base64 attendu.") from None
    if len(raw) != 64:
        raise _protocol_error("signature", "Signature illisible : 64 octets attendus.")
    return value


def _check_finite(value: JsonValue) -> JsonValue:
    """NaN and infinities are not JSON: they would make the signed body unreproducible."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise _protocol_error(
                "number", "Lot invalide : nombre non fini (NaN ou infini) interdit en JSON."
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]
Hlc = Annotated[str, StringConstraints(pattern=HLC_PATTERN)]
Seq = Annotated[int, Field(ge=1)]
Version = Annotated[int, Field(ge=0)]
TimeMs = Annotated[int, Field(ge=0)]
FrenchText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
FieldValues = Annotated[
    dict[FieldName, Annotated[JsonValue, AfterValidator(_check_finite)]], Field(max_length=MAX_FIELDS)
]

_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True)


class Operation(BaseModel):
    """One change recorded in the laptop's outbox.

    Field values travel in clear inside the TLS channel: that is intended. The laptop's at-rest
    encryption is a separate layer (``store.py``); the batch signature proves which device wrote
    it, TLS keeps it confidential in transit.
    """

    model_config = _CONFIG

    op_id: Hex32
    seq: Seq
    """Outbox sequence number, contiguous per device: how the server spots replays and gaps."""
    table: SyncTable
    record_id: RecordId
    base_version: Version
    """Server version the laptop edited from (0 for a record created offline)."""
    hlc: Hlc
    fields: FieldValues
    delete: bool = False
    field_hlc: Annotated[dict[FieldName, Hlc], Field(max_length=MAX_FIELDS)] = {}
    """Per-field edit times when the laptop folded several edits into this op (else ``hlc``)."""


class PushBatch(BaseModel):
    """A contiguous run of outbox operations, signed as a whole by the device."""

    model_config = _CONFIG

    protocol: Annotated[int, AfterValidator(_check_protocol)]
    device_id: DeviceId
    batch_id: Hex32
    first_seq: Seq
    operations: Annotated[list[Operation], Field(min_length=1, max_length=MAX_OPERATIONS)]
    sent_at_hlc: Hlc

    @model_validator(mode="after")
    def _contiguous(self) -> PushBatch:
        """Refuse the whole batch rather than apply part of it: a hole means data was lost on the way."""
        seqs = [op.seq for op in self.operations]
        seen: set[int] = set()
        for seq in seqs:
            if seq in seen:
                raise _protocol_error("duplicate", f"Lot incohérent : l'opération n° {seq} figure deux fois.")
            seen.add(seq)
        op_ids: set[str] = set()
        for op in self.operations:
            if op.op_id in op_ids:
                raise _protocol_error(
                    "duplicate",
                    f"Lot incohérent : l'opération n° {op.seq} reprend un identifiant déjà utilisé.",
                )
            op_ids.add(op.op_id)
        too_early = [seq for seq in seqs if seq < self.first_seq]
        if too_early:
            raise _protocol_error(
                "order",
                f"Lot incohérent : l'opération n° {min(too_early)} précède le début annoncé "
                f"du lot (n° {self.first_seq}).",
            )
        for expected in range(self.first_seq, self.first_seq + len(seqs)):
            if expected not in seen:
                raise _protocol_error("gap", f"Lot incomplet : il manque l'opération n° {expected}.")
        if seqs != sorted(seqs):
            raise _protocol_error("order", "Lot incohérent : les opérations ne sont pas dans l'ordre.")
        return self

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.operations) - 1


class SignedPushBatch(BaseModel):
    model_config = _CONFIG

    batch: PushBatch
    signature: Annotated[
        str, StringConstraints(min_length=86, max_length=88), AfterValidator(_check_signature)
    ]
    """Base64 Ed25519 signature of ``canonical_json(batch_signing_body(batch))``."""


def batch_signing_body(batch: PushBatch) -> dict[str, Any]:
    """What the device signs and the server re-derives from the parsed model.

    Derived from the model (defaults included), not from the raw request bytes, so key order,
    whitespace and omitted defaults cannot change the verdict; ``canonical_json`` sorts the keys.
    """
    return batch.model_dump(mode="json")


class BatchPlan(BaseModel):
    """What the server does with a well-formed batch, given what it already acknowledged."""

    model_config = _CONFIG

    duplicates: list[Operation]
    to_apply: list[Operation]
    gap_at: int | None
    """First missing sequence number when the batch starts beyond it: nothing is applied."""


def plan_batch(batch: PushBatch, acknowledged_through_seq: int) -> BatchPlan:
    """Replays are answered ``duplicate`` without applying anything twice; a gap stops the batch.

    Operations at or below ``acknowledged_through_seq`` were already handled (applied, duplicate or
    rejected: a rejected one does not block what follows). If the batch starts after the next
    expected number, an earlier batch was lost and the laptop must resend from ``gap_at``.
    """
    expected = acknowledged_through_seq + 1
    if batch.first_seq > expected:
        return BatchPlan(duplicates=[], to_apply=[], gap_at=expected)
    duplicates = [op for op in batch.operations if op.seq <= acknowledged_through_seq]
    to_apply = [op for op in batch.operations if op.seq > acknowledged_through_seq]
    return BatchPlan(duplicates=duplicates, to_apply=to_apply, gap_at=None)


class ConflictInfo(BaseModel):
    """One field where the laptop's value lost against a concurrent server edit."""

    model_config = _CONFIG

    field: FieldName
    kept_value: JsonValue
    discarded_value: JsonValue
    reason: FrenchText


class OperationResult(BaseModel):
    model_config = _CONFIG

    op_id: Hex32
    seq: Seq
    status: OperationStatus
    version: Version | None = None
    reason: FrenchText | None = None
    conflicts: Annotated[list[ConflictInfo], Field(max_length=MAX_FIELDS)] = []

    @model_validator(mode="after")
    def _rejection_explained(self) -> OperationResult:
        """A rejected operation is dropped from the outbox: the user must be told why."""
        if self.status == "rejected" and self.reason is None:
            raise _protocol_error("reason", "Une opération refusée doit indiquer la raison du refus.")
        return self


class PushResponse(BaseModel):
    model_config = _CONFIG

    server_time_ms: TimeMs
    server_hlc: Hlc
    acknowledged_through_seq: Annotated[int, Field(ge=0)]
    """Highest contiguous seq the server has handled; the laptop may drop its outbox up to it."""
    results: Annotated[list[OperationResult], Field(max_length=MAX_OPERATIONS)]
    stopped_at_gap: Seq | None = None


class RemoteChange(BaseModel):
    """A record's state on the server; ``deleted`` makes it a tombstone with no field data."""

    model_config = _CONFIG

    table: SyncTable
    record_id: RecordId
    version: Version
    deleted: bool = False
    fields: FieldValues = {}
    field_hlc: Annotated[dict[FieldName, Hlc], Field(max_length=MAX_FIELDS)] = {}

    @model_validator(mode="after")
    def _tombstone_is_empty(self) -> RemoteChange:
        """A deleted record must not carry its former content to the laptop."""
        if self.deleted and self.fields:
            raise _protocol_error(
                "tombstone", "Un enregistrement supprimé ne doit transporter aucune donnée."
            )
        return self


class PullRequest(BaseModel):
    model_config = _CONFIG

    protocol: Annotated[int, AfterValidator(_check_protocol)] = PROTOCOL_VERSION
    device_id: DeviceId
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_CHARS)] | None = None
    """``None`` on the first pull (or after a purge-all): start from the beginning of the scope."""
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = MAX_PAGE
    sent_at_ms: TimeMs = 0
    """The laptop's server-corrected time: a signed pull is accepted within ``PULL_WINDOW_MS`` of it."""
    nonce: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = None


PULL_WINDOW_MS = 10 * 60_000


class SignedPullRequest(BaseModel):
    """A pull signed by the device: without it, knowing a device id would be enough to read data."""

    model_config = _CONFIG

    request: PullRequest
    signature: Annotated[
        str, StringConstraints(min_length=86, max_length=88), AfterValidator(_check_signature)
    ]


class PurgeItem(BaseModel):
    """Records the laptop may no longer hold (its scope shrank): erase them locally."""

    model_config = _CONFIG

    table: SyncTable
    record_ids: Annotated[list[RecordId], Field(min_length=1, max_length=MAX_PURGE_IDS)]


class PullPage(BaseModel):
    model_config = _CONFIG

    server_time_ms: TimeMs
    server_hlc: Hlc
    changes: Annotated[list[RemoteChange], Field(max_length=MAX_PAGE)] = []
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_CHARS)]
    """Opaque; the laptop stores it only after applying the page, so an interrupted pull resumes."""
    more: bool = False
    purge: list[PurgeItem] = []
    revoked: bool = False
    """True: the laptop must erase its keys and all local data, then stop syncing."""
    reset: bool = False
    """The device's scope changed: drop every record not awaiting push, then pull from the start."""

    @model_validator(mode="after")
    def _nothing_for_revoked(self) -> PullPage:
        if self.revoked and self.changes:
            raise _protocol_error("revoked", "Aucune donnée ne doit être envoyée à un appareil révoqué.")
        return self


class ErrorResponse(BaseModel):
    model_config = _CONFIG

    status: Annotated[int, Field(ge=400, le=599)]
    detail: FrenchText
    server_time_ms: TimeMs
    revoked: bool = False
    """Set with :data:`DEVICE_REVOKED`: the laptop erases its keys and data on receiving it."""


def error_response(error: ProtocolError, server_time_ms: int, *, revoked: bool = False) -> ErrorResponse:
    """Every response carries the server time, refusals included, so the laptop can track clock skew."""
    return ErrorResponse(
        status=error.status, detail=error.message, server_time_ms=server_time_ms, revoked=revoked
    )


# --- Parsing of untrusted input --------------------------------------------------------------------


def parse_signed_batch(raw: bytes) -> SignedPushBatch:
    """Validate a pushed body completely before anything is applied: all or nothing.

    The size check comes first, on the raw bytes, so an oversized body is never parsed.
    """
    if len(raw) > MAX_BATCH_BYTES:
        raise ProtocolError(413, f"Lot trop volumineux ({_megabytes(MAX_BATCH_BYTES)} Mo au plus).")
    try:
        return SignedPushBatch.model_validate_json(raw)
    except ValidationError as error:
        raise validation_error(error) from None


def validation_error(error: ValidationError) -> ProtocolError:
    """400 when the bytes are not JSON at all, 422 (with a French summary) when the shape is wrong."""
    if any(item["type"] == "json_invalid" for item in error.errors(include_url=False)):
        return ProtocolError(400, BATCH_UNREADABLE)
    return ProtocolError(422, french_summary(error))


def french_summary(error: ValidationError, subject: str = "Lot invalide") -> str:
    """The first error in French (where and why), plus how many others, never the offending value."""
    errors = error.errors(include_url=False, include_input=False)
    first = errors[0]
    others = len(errors) - 1
    plural = "s" if others > 1 else ""
    more = f" (et {others} autre{plural} erreur{plural})" if others else ""
    if first["type"] == "sync_protocol":
        return first["msg"] + more.replace(" (et", " (", 1)
    path = _path(first["loc"])
    where = f"{path} — " if path else ""
    return f"{subject} : {where}{_french_reason(first)}{more}."


_FRENCH_REASONS: dict[str, str] = {
    "missing": "champ obligatoire manquant",
    "extra_forbidden": "champ non reconnu",
    "string_pattern_mismatch": "format invalide",
    "string_type": "texte attendu",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu",
    "bool_type": "booléen (true/false) attendu",
    "bool_parsing": "booléen (true/false) attendu",
    "dict_type": "objet attendu",
    "model_type": "objet attendu",
    "model_attributes_type": "objet attendu",
    "list_type": "liste attendue",
    "none_required": "valeur nulle attendue",
    "frozen_instance": "valeur non modifiable",
}


def _french_reason(item: Any) -> str:
    kind: str = item["type"]
    ctx: dict[str, Any] = item.get("ctx") or {}
    if kind == "sync_protocol":
        return item["msg"]
    if kind in _FRENCH_REASONS:
        return _FRENCH_REASONS[kind]
    if kind == "literal_error":
        expected = str(ctx.get("expected", "?")).replace(" or ", " ou ")
        return f"valeur non autorisée (valeurs admises : {expected})"
    if kind == "greater_than_equal":
        return f"doit être supérieur ou égal à {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"doit être inférieur ou égal à {ctx.get('le')}"
    if kind == "string_too_short":
        return f"texte trop court ({ctx.get('min_length')} caractère(s) au moins)"
    if kind == "string_too_long":
        return f"texte trop long ({ctx.get('max_length')} caractères au plus)"
    if kind == "too_short":
        return f"{ctx.get('min_length')} élément(s) au moins"
    if kind == "too_long":
        return f"{ctx.get('max_length')} éléments au plus"
    return "valeur invalide"


def _path(loc: tuple[int | str, ...]) -> str:
    """``batch.operations[3].table``; long or odd keys are shortened (they may be user data)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (nom de champ)"
        else:
            label = part if len(part) <= 40 else part[:40] + "…"
            text += f".{label}" if text else label
    return f"« {text} »" if text else ""


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g}".replace(".", ",")


# --- Pull cursor -----------------------------------------------------------------------------------


def encode_cursor(position: int, scope_epoch: int) -> str:
    """Opaque resume point of a pull: change-log position plus the scope generation it was read in.

    Not authenticated on purpose: it grants nothing, since the server re-applies the device's scope
    on every pull; a forged position only makes the laptop re-read or skip its own data. A stale
    ``scope_epoch`` tells the server the scope changed since, so it sends a purge.
    """
    if position < 0 or scope_epoch < 0:
        raise ValueError("position and scope_epoch must be >= 0")
    body = json.dumps({"v": PROTOCOL_VERSION, "p": position, "e": scope_epoch}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, int]:
    """``(position, scope_epoch)``; ``ProtocolError(400)`` for anything :func:`encode_cursor` did not make."""
    invalid = ProtocolError(400, BAD_CURSOR)
    if not isinstance(text, str) or not 0 < len(text) <= MAX_CURSOR_CHARS:
        raise invalid
    try:
        raw = base64.b64decode((text + "=" * (-len(text) % 4)).encode("ascii"), altchars=b"-_", validate=True)
        data = json.loads(raw)
    except (UnicodeError, ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(data, dict) or set(data) != {"v", "p", "e"}:
        raise invalid
    version, position, epoch = data["v"], data["p"], data["e"]
    for number in (version, position, epoch):
        if type(number) is not int or number < 0:
            raise invalid
    if version != PROTOCOL_VERSION or encode_cursor(position, epoch) != text:
        raise invalid
    return position, epoch
