"""Field-level merge of one laptop operation into the server's copy of a record.

Why field level: two people rarely change the same field of the same patient; merging per field
keeps both edits in the common case. When they do touch the same field, the later event by hybrid
logical clock wins — deterministic on every node — and the losing value is returned as a
``Conflict`` so that it is stored for a coordinator to review: nothing is ever dropped silently.

Clinical facts are append-only: list fields such as consultation notes merge as a union of
entries by id, and records of append-only tables cannot be deleted. Fields marked set-once (the
patient a consultation belongs to) keep their first value; a different one is a conflict.

Pure functions over plain data: the server calls them inside its transaction and tests call them
directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mobile_sync.hlc import Timestamp, order_key

MergeStatus = Literal["applied", "conflict", "rejected", "unchanged"]
DELETION = "suppression"
"""Pseudo-field name under which a refused deletion is recorded as a conflict."""


@dataclass(frozen=True)
class TablePolicy:
    """How one synced table merges."""

    append_fields: frozenset[str] = frozenset()
    set_once_fields: frozenset[str] = frozenset()
    deletable: bool = True


POLICIES: dict[str, TablePolicy] = {
    "patient": TablePolicy(append_fields=frozenset({"observations"})),
    "consultation": TablePolicy(
        append_fields=frozenset({"notes"}),
        set_once_fields=frozenset({"patient", "date", "professionnel"}),
        deletable=False,
    ),
    "slot_booking": TablePolicy(deletable=False),
    "appointment": TablePolicy(),
}


@dataclass(frozen=True)
class FieldState:
    """A field as the server holds it: value, record version and HLC of its last change, origin."""

    value: Any
    version: int
    hlc: str
    origin: str


@dataclass(frozen=True)
class RecordState:
    version: int = 0
    deleted: bool = False
    fields: dict[str, FieldState] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {name: state.value for name, state in self.fields.items()}


@dataclass(frozen=True)
class IncomingChange:
    """One operation: the fields it sets (or a deletion), the version it started from, who and when."""

    base_version: int
    fields: dict[str, Any]
    hlc: str
    origin: str
    delete: bool = False
    received_ms: int | None = None
    """Server time at reception: the HLC is clamped to it (plus drift) before any comparison."""
    field_hlc: dict[str, str] = field(default_factory=dict)
    """Per-field edit times when the laptop folded several edits into one op (else ``hlc``)."""

    def stamp_of(self, name: str) -> Timestamp:
        return order_key(self.field_hlc.get(name, self.hlc), self.received_ms)


@dataclass(frozen=True)
class Conflict:
    field: str
    kept_value: Any
    discarded_value: Any
    kept_hlc: str
    discarded_hlc: str
    reason: str


@dataclass(frozen=True)
class MergeResult:
    state: RecordState
    status: MergeStatus
    changed: frozenset[str] = frozenset()
    conflicts: tuple[Conflict, ...] = ()
    reason: str | None = None


class MergeError(ValueError):
    """An operation that cannot be merged at all (French message)."""


def _entries(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] for item in value
    ):
        raise MergeError(
            f"Champ « {name} » : une liste d'entrées portant chacune un identifiant est attendue."
        )
    return value


def _union(current: Any, incoming: Any, name: str) -> list[dict[str, Any]]:
    """Entries of both lists, each id once (the first copy seen wins), ordered by (hlc, id)."""
    seen: dict[str, dict[str, Any]] = {}
    for item in _entries(current, name) + _entries(incoming, name):
        seen.setdefault(item["id"], item)
    return sorted(seen.values(), key=lambda item: (str(item.get("hlc", "")), item["id"]))


def merge(current: RecordState | None, change: IncomingChange, policy: TablePolicy) -> MergeResult:
    """Merge ``change`` into ``current`` (``None``: the server has never seen the record)."""
    stamp = order_key(change.hlc, change.received_ms)
    state = current or RecordState()
    if change.delete:
        return _merge_delete(state, change, policy, stamp)
    if state.deleted:
        conflicts = tuple(
            Conflict(
                name,
                None,
                value,
                "",
                stamp.encode(),
                "Enregistrement supprimé entre-temps : modification non appliquée.",
            )
            for name, value in sorted(change.fields.items())
        )
        return MergeResult(state, "conflict" if conflicts else "unchanged", conflicts=conflicts)

    version = state.version + 1
    fields = dict(state.fields)
    changed: set[str] = set()
    conflicts: list[Conflict] = []
    for name, value in sorted(change.fields.items()):
        cur = fields.get(name)
        stamp = change.stamp_of(name)
        if name in policy.append_fields:
            merged = _union(cur.value if cur else None, value, name)
            if cur is None or merged != cur.value:
                fields[name] = FieldState(
                    merged, version, max(stamp.encode(), cur.hlc if cur else ""), change.origin
                )
                changed.add(name)
            continue
        if cur is not None and cur.value == value:
            continue
        if cur is not None and name in policy.set_once_fields:
            conflicts.append(
                Conflict(
                    name,
                    cur.value,
                    value,
                    cur.hlc,
                    stamp.encode(),
                    "Valeur fixée à la création : elle ne change pas.",
                )
            )
            continue
        concurrent = cur is not None and cur.version > change.base_version and cur.origin != change.origin
        if concurrent and Timestamp.parse(cur.hlc) > stamp:
            conflicts.append(
                Conflict(
                    name,
                    cur.value,
                    value,
                    cur.hlc,
                    stamp.encode(),
                    "Modifié des deux côtés : la modification la plus récente est gardée.",
                )
            )
            continue
        if concurrent:
            conflicts.append(
                Conflict(
                    name,
                    value,
                    cur.value,
                    stamp.encode(),
                    cur.hlc,
                    "Modifié des deux côtés : la modification la plus récente est gardée.",
                )
            )
        fields[name] = FieldState(value, version, stamp.encode(), change.origin)
        changed.add(name)

    new_state = RecordState(version, False, fields) if changed else state
    status: MergeStatus = "conflict" if conflicts else ("applied" if changed else "unchanged")
    return MergeResult(new_state, status, frozenset(changed), tuple(conflicts))


def _merge_delete(
    state: RecordState, change: IncomingChange, policy: TablePolicy, stamp: Timestamp
) -> MergeResult:
    if not policy.deletable:
        return MergeResult(state, "rejected", reason="Donnée clinique : elle ne peut pas être supprimée.")
    if state.deleted or state.version == 0:
        return MergeResult(state, "unchanged")
    newer = [
        name
        for name, cur in sorted(state.fields.items())
        if cur.version > change.base_version and cur.origin != change.origin
    ]
    if newer:
        conflict = Conflict(
            DELETION,
            state.values(),
            None,
            max(state.fields[n].hlc for n in newer),
            stamp.encode(),
            "Suppression refusée : l'enregistrement a été modifié ailleurs entre-temps.",
        )
        return MergeResult(state, "conflict", conflicts=(conflict,))
    tomb = replace(state, version=state.version + 1, deleted=True, fields={})
    return MergeResult(tomb, "applied", frozenset(state.fields))
