"""The territory's directory: search, cards and edit forms of professionals and structures.

Why views: pages and the API receive frozen dataclasses of plain values, never ORM rows, so that no
lazy load or accidental write can happen outside the service and its permission check.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cpts_app.models.directory import (
    Commune,
    Profession,
    Professional,
    ProfessionalCommune,
    ProfessionalStructure,
    Structure,
    StructureKind,
)
from cpts_app.models.types import utcnow
from cpts_app.services import audit
from cpts_app.services.errors import NotFound, ValidationFailed
from cpts_app.services.identifiers import (
    format_phone,
    normalize_email,
    normalize_phone,
    search_key,
    validate_adeli,
    validate_finess,
    validate_rpps,
)
from cpts_app.services.labels import CLINICAL_PROFESSIONS, PROFESSION_LABELS, STRUCTURE_KIND_LABELS
from cpts_app.services.permissions import Actor, Permission, require

PAGE_SIZE = 10
MAX_CAPACITY = 10_000

REQUIRED = "Ce champ est obligatoire."
PROFESSIONAL_NOT_FOUND = "Ce professionnel n'existe pas."
STRUCTURE_NOT_FOUND = "Cette structure n'existe pas."
DUPLICATE_RPPS = "Ce numéro RPPS est déjà enregistré pour un autre professionnel."
DUPLICATE_FINESS = "Ce numéro FINESS est déjà enregistré pour une autre structure."
FINESS_REQUIRED_KINDS: frozenset[StructureKind] = frozenset(
    {StructureKind.PHARMACY, StructureKind.LABORATORY, StructureKind.HOSPITAL, StructureKind.HEALTH_CENTRE}
)


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryFilter:
    """What the directory search page asks for (profession: a ``Profession`` value or "" for all)."""

    text: str = ""
    profession: str = ""
    commune_id: int | None = None
    accepts_new_patients: bool = False


@dataclass(frozen=True)
class CommuneRef:
    id: int
    name: str
    insee_code: str
    postcode: str


@dataclass(frozen=True)
class StructureRef:
    id: int
    name: str
    kind: str
    kind_label: str
    commune_name: str
    address: str
    phone: str
    email: str
    finess: str


@dataclass(frozen=True)
class ProfessionalSummary:
    id: int
    full_name: str
    profession: str
    profession_label: str
    specialty: str
    communes: list[str]
    structures: list[str]
    accepts_new_patients: bool
    new_patient_capacity: int
    phone: str
    email: str


@dataclass(frozen=True)
class DirectoryPage:
    items: list[ProfessionalSummary]
    total: int
    page: int
    page_count: int


@dataclass(frozen=True)
class ProfessionalCard:
    id: int
    full_name: str
    profession: str
    profession_label: str
    specialty: str
    communes: list[str]
    structures: list[str]
    accepts_new_patients: bool
    new_patient_capacity: int
    phone: str
    email: str
    rpps: str
    adeli: str
    structure_refs: list[StructureRef]
    commune_refs: list[CommuneRef]


@dataclass
class ProfessionalForm:
    """A professional as typed by a user (strings), before validation."""

    first_name: str = ""
    last_name: str = ""
    profession: str = ""
    specialty: str = ""
    rpps: str = ""
    adeli: str = ""
    phone: str = ""
    email: str = ""
    accepts_new_patients: bool = False
    new_patient_capacity: str = "0"
    structure_ids: list[int] = field(default_factory=list)
    commune_ids: list[int] = field(default_factory=list)


@dataclass
class StructureForm:
    """A structure as typed by a user (strings), before validation."""

    name: str = ""
    kind: str = ""
    finess: str = ""
    commune_id: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""


# --- helpers ----------------------------------------------------------------------------------


def _profession_label(value: str) -> str:
    try:
        return PROFESSION_LABELS[Profession(value)]
    except ValueError:
        return value


def _kind_label(value: str) -> str:
    try:
        return STRUCTURE_KIND_LABELS[StructureKind(value)]
    except ValueError:
        return value


def _full_name(pro: Professional) -> str:
    return f"{pro.first_name} {pro.last_name.upper()}"


def _sort_key(name: str, ident: int | None) -> tuple[str, int]:
    """Accent-free alphabetical order, identical on SQLite and PostgreSQL whatever the collation."""
    return (search_key(name), ident or 0)


def _structure_ref(structure: Structure, commune_name: str) -> StructureRef:
    assert structure.id is not None
    return StructureRef(
        id=structure.id,
        name=structure.name,
        kind=str(structure.kind),
        kind_label=_kind_label(str(structure.kind)),
        commune_name=commune_name,
        address=structure.address or "",
        phone=format_phone(structure.phone),
        email=structure.email or "",
        finess=structure.finess or "",
    )


def _commune_ref(commune: Commune) -> CommuneRef:
    assert commune.id is not None
    return CommuneRef(
        id=commune.id, name=commune.name, insee_code=commune.insee_code, postcode=commune.postcode
    )


def _structures_by_professional(
    session: Session, ids: Sequence[int]
) -> dict[int, list[tuple[Structure, str]]]:
    """The structures (with their commune's name) of several professionals, in one query."""
    result: dict[int, list[tuple[Structure, str]]] = defaultdict(list)
    if not ids:
        return result
    rows = session.exec(
        select(ProfessionalStructure.professional_id, Structure, Commune.name)
        .join(Structure, col(Structure.id) == ProfessionalStructure.structure_id)
        .join(Commune, col(Commune.id) == Structure.commune_id)
        .where(col(ProfessionalStructure.professional_id).in_(ids))
    ).all()
    for professional_id, structure, commune_name in rows:
        result[professional_id].append((structure, commune_name))
    for items in result.values():
        items.sort(key=lambda item: _sort_key(item[0].name, item[0].id))
    return result


def _communes_by_professional(session: Session, ids: Sequence[int]) -> dict[int, list[Commune]]:
    """The communes served by several professionals, in one query."""
    result: dict[int, list[Commune]] = defaultdict(list)
    if not ids:
        return result
    rows = session.exec(
        select(ProfessionalCommune.professional_id, Commune)
        .join(Commune, col(Commune.id) == ProfessionalCommune.commune_id)
        .where(col(ProfessionalCommune.professional_id).in_(ids))
    ).all()
    for professional_id, commune in rows:
        result[professional_id].append(commune)
    for items in result.values():
        items.sort(key=lambda commune: _sort_key(commune.name, commune.id))
    return result


def _summary_fields(
    pro: Professional, structures: list[tuple[Structure, str]], communes: list[Commune]
) -> dict[str, Any]:
    assert pro.id is not None
    return {
        "id": pro.id,
        "full_name": _full_name(pro),
        "profession": str(pro.profession),
        "profession_label": _profession_label(str(pro.profession)),
        "specialty": pro.specialty or "",
        "communes": [commune.name for commune in communes],
        "structures": [structure.name for structure, _ in structures],
        "accepts_new_patients": pro.accepts_new_patients,
        "new_patient_capacity": pro.new_patient_capacity,
        "phone": format_phone(pro.phone),
        "email": pro.email or "",
    }


def _text(value: str | None) -> str:
    return (value or "").strip()


def _optional(errors: dict[str, str], name: str, raw: str, check: Callable[[str], str]) -> str | None:
    """``check(raw)`` when ``raw`` is filled in, None when blank; the error goes to ``errors``."""
    value = _text(raw)
    if not value:
        return None
    try:
        return check(value)
    except ValueError as exc:
        errors[name] = str(exc)
        return None


def _required(errors: dict[str, str], name: str, raw: str, max_length: int) -> str:
    value = " ".join(_text(raw).split())
    if not value:
        errors[name] = REQUIRED
    elif len(value) > max_length:
        errors[name] = f"Ce champ ne doit pas dépasser {max_length} caractères."
    return value


def _existing_ids(session: Session, model: type[Structure] | type[Commune], ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    id_column = col(model.id)
    return set(session.exec(select(id_column).where(id_column.in_(wanted))).all())


def _is_unique_violation(exc: IntegrityError, constraint: str, column: str) -> bool:
    text = str(exc.orig)
    return constraint in text or column in text


# --- professionals ----------------------------------------------------------------------------


def search_professionals(
    session: Session, actor: Actor, filt: DirectoryFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> DirectoryPage:
    """One page of active professionals matching the filter, in alphabetical order.

    Each word of the text must appear in the accent-free ``search_name`` (or the text is the RPPS).
    Three queries at most per page (count, rows, then structures and communes of the page's ids).
    """
    require(actor, Permission.READ_DIRECTORY)
    page_size = max(1, page_size)
    conditions: list[Any] = [col(Professional.active).is_(True)]
    words = search_key(filt.text).split()
    if words:
        name_match = [col(Professional.search_name).contains(word, autoescape=True) for word in words]
        compact = "".join(filt.text.split())
        if compact.isdigit():
            conditions.append(or_(and_(*name_match), col(Professional.rpps) == compact))
        else:
            conditions.extend(name_match)
    if filt.profession:
        conditions.append(col(Professional.profession) == filt.profession)
    if filt.commune_id is not None:
        conditions.append(
            exists().where(
                col(ProfessionalCommune.professional_id) == col(Professional.id),
                col(ProfessionalCommune.commune_id) == filt.commune_id,
            )
        )
    if filt.accepts_new_patients:
        conditions.append(col(Professional.accepts_new_patients).is_(True))

    total = session.exec(select(func.count()).select_from(Professional).where(*conditions)).one()
    page_count = max(1, math.ceil(total / page_size))
    page = min(max(1, page), page_count)
    rows = session.exec(
        select(Professional)
        .where(*conditions)
        .order_by(
            col(Professional.search_name),
            col(Professional.last_name),
            col(Professional.first_name),
            col(Professional.id),
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    ids = [pro.id for pro in rows if pro.id is not None]
    structures = _structures_by_professional(session, ids)
    communes = _communes_by_professional(session, ids)
    items = [
        ProfessionalSummary(
            **_summary_fields(pro, structures.get(pro.id or 0, []), communes.get(pro.id or 0, []))
        )
        for pro in rows
    ]
    return DirectoryPage(items=items, total=total, page=page, page_count=page_count)


def get_professional_card(session: Session, actor: Actor, professional_id: int) -> ProfessionalCard:
    """Everything the directory shows about one professional."""
    require(actor, Permission.READ_DIRECTORY)
    pro = session.get(Professional, professional_id)
    if pro is None:
        raise NotFound(PROFESSIONAL_NOT_FOUND)
    structures = _structures_by_professional(session, [professional_id]).get(professional_id, [])
    communes = _communes_by_professional(session, [professional_id]).get(professional_id, [])
    return ProfessionalCard(
        **_summary_fields(pro, structures, communes),
        rpps=pro.rpps or "",
        adeli=pro.adeli or "",
        structure_refs=[_structure_ref(structure, commune_name) for structure, commune_name in structures],
        commune_refs=[_commune_ref(commune) for commune in communes],
    )


def _linked_ids(
    session: Session, link: type[ProfessionalStructure] | type[ProfessionalCommune], pro_id: int
) -> set[int]:
    target = (
        ProfessionalStructure.structure_id
        if link is ProfessionalStructure
        else ProfessionalCommune.commune_id
    )
    return set(session.exec(select(col(target)).where(col(link.professional_id) == pro_id)).all())


def professional_form(session: Session, actor: Actor, professional_id: int) -> ProfessionalForm:
    """The edit form of a professional, filled with the stored values as a user would type them."""
    require(actor, Permission.MANAGE_DIRECTORY)
    pro = session.get(Professional, professional_id)
    if pro is None:
        raise NotFound(PROFESSIONAL_NOT_FOUND)
    return ProfessionalForm(
        first_name=pro.first_name,
        last_name=pro.last_name,
        profession=str(pro.profession),
        specialty=pro.specialty or "",
        rpps=pro.rpps or "",
        adeli=pro.adeli or "",
        phone=format_phone(pro.phone),
        email=pro.email or "",
        accepts_new_patients=pro.accepts_new_patients,
        new_patient_capacity=str(pro.new_patient_capacity),
        structure_ids=sorted(_linked_ids(session, ProfessionalStructure, professional_id)),
        commune_ids=sorted(_linked_ids(session, ProfessionalCommune, professional_id)),
    )


def _parse_capacity(errors: dict[str, str], raw: str) -> int:
    compact = "".join(_text(raw).split()) or "0"
    if compact.isdigit() and int(compact) <= MAX_CAPACITY:
        return int(compact)
    errors["new_patient_capacity"] = "Indiquez un nombre entier entre 0 et 10 000."
    return 0


def _replace_links(
    session: Session,
    link: type[ProfessionalStructure] | type[ProfessionalCommune],
    pro_id: int,
    old: set[int],
    new: set[int],
) -> None:
    removed = old - new
    if removed:
        target = (
            ProfessionalStructure.structure_id
            if link is ProfessionalStructure
            else ProfessionalCommune.commune_id
        )
        session.exec(  # type: ignore[call-overload]
            delete(link).where(col(link.professional_id) == pro_id, col(target).in_(removed))
        )
    for target_id in sorted(new - old):
        if link is ProfessionalStructure:
            session.add(ProfessionalStructure(professional_id=pro_id, structure_id=target_id))
        else:
            session.add(ProfessionalCommune(professional_id=pro_id, commune_id=target_id))


def save_professional(
    session: Session, actor: Actor, form: ProfessionalForm, professional_id: int | None = None
) -> int:
    """Create or update a professional; every invalid field is reported at once, nothing is written.

    The caller commits. Returns the professional's id.
    """
    require(actor, Permission.MANAGE_DIRECTORY)
    pro: Professional | None = None
    if professional_id is not None:
        pro = session.get(Professional, professional_id)
        if pro is None:
            raise NotFound(PROFESSIONAL_NOT_FOUND)

    errors: dict[str, str] = {}
    first_name = _required(errors, "first_name", form.first_name, 100)
    last_name = _required(errors, "last_name", form.last_name, 100)
    profession: Profession | None = None
    try:
        profession = Profession(_text(form.profession))
    except ValueError:
        errors["profession"] = "Choisissez une profession dans la liste."
    specialty = " ".join(_text(form.specialty).split()) or None
    if specialty is not None and len(specialty) > 120:
        errors["specialty"] = "Ce champ ne doit pas dépasser 120 caractères."
    rpps = _optional(errors, "rpps", form.rpps, validate_rpps)
    adeli = _optional(errors, "adeli", form.adeli, validate_adeli)
    if rpps is not None:
        duplicate = select(Professional.id).where(Professional.rpps == rpps)
        if professional_id is not None:
            duplicate = duplicate.where(col(Professional.id) != professional_id)
        if session.exec(duplicate).first() is not None:
            errors["rpps"] = DUPLICATE_RPPS
    if profession in CLINICAL_PROFESSIONS and not _text(form.rpps) and not _text(form.adeli):
        errors["rpps"] = "Indiquez le numéro RPPS (ou ADELI) de ce professionnel de santé."
    phone = _optional(errors, "phone", form.phone, normalize_phone)
    email = _optional(errors, "email", form.email, normalize_email)
    capacity = _parse_capacity(errors, form.new_patient_capacity)
    structure_ids = {int(i) for i in form.structure_ids}
    if _existing_ids(session, Structure, structure_ids) != structure_ids:
        errors["structure_ids"] = "Une des structures choisies n'existe pas."
    commune_ids = {int(i) for i in form.commune_ids}
    if _existing_ids(session, Commune, commune_ids) != commune_ids:
        errors["commune_ids"] = "Une des communes choisies n'existe pas."
    if errors:
        raise ValidationFailed(errors)
    assert profession is not None

    values: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "profession": profession,
        "specialty": specialty,
        "rpps": rpps,
        "adeli": adeli,
        "phone": phone,
        "email": email,
        "accepts_new_patients": bool(form.accepts_new_patients),
        "new_patient_capacity": capacity,
    }
    creating = pro is None
    old_structures = (
        set() if pro is None else _linked_ids(session, ProfessionalStructure, professional_id or 0)
    )
    old_communes = set() if pro is None else _linked_ids(session, ProfessionalCommune, professional_id or 0)
    if pro is None:
        pro = Professional(first_name=first_name, last_name=last_name, profession=profession)
        changed = [name for name, value in values.items() if value not in (None, "", False, 0)]
    else:
        changed = [name for name, value in values.items() if getattr(pro, name) != value]
    if old_structures != structure_ids:
        changed.append("structure_ids")
    if old_communes != commune_ids:
        changed.append("commune_ids")

    try:
        with session.begin_nested():
            for name, value in values.items():
                setattr(pro, name, value)
            pro.search_name = search_key(f"{last_name} {first_name}")
            pro.updated_at = utcnow()
            session.add(pro)
            session.flush()
    except IntegrityError as exc:
        if not _is_unique_violation(exc, "uq_professional_rpps", "professional.rpps"):
            raise
        if not creating:
            session.refresh(pro)
        raise ValidationFailed({"rpps": DUPLICATE_RPPS}) from exc
    assert pro.id is not None
    _replace_links(session, ProfessionalStructure, pro.id, old_structures, structure_ids)
    _replace_links(session, ProfessionalCommune, pro.id, old_communes, commune_ids)
    audit.record(
        session,
        "directory.professional.create" if creating else "directory.professional.update",
        actor=actor,
        target_type="professional",
        target_id=pro.id,
        detail={"changed": changed},
    )
    session.flush()
    return pro.id


# --- structures -------------------------------------------------------------------------------


def _all_structure_refs(session: Session) -> list[StructureRef]:
    rows = session.exec(
        select(Structure, Commune.name).join(Commune, col(Commune.id) == Structure.commune_id)
    ).all()
    refs = [_structure_ref(structure, commune_name) for structure, commune_name in rows]
    refs.sort(key=lambda ref: _sort_key(ref.name, ref.id))
    return refs


def list_structures(
    session: Session, actor: Actor, text: str = "", page: int = 1, page_size: int = 20
) -> tuple[list[StructureRef], int]:
    """One page of structures sorted by name, filtered on name, commune or FINESS; and the total.

    Why in Python: a territory has tens to a few hundred structures and structures carry no stored
    search key; filtering here keeps the accent-free match identical on every database.
    """
    require(actor, Permission.READ_DIRECTORY)
    refs = _all_structure_refs(session)
    words = search_key(text).split()
    if words:
        refs = [
            ref
            for ref in refs
            if all(word in search_key(f"{ref.name} {ref.commune_name} {ref.finess}") for word in words)
        ]
    page_size = max(1, page_size)
    page_count = max(1, math.ceil(len(refs) / page_size))
    page = min(max(1, page), page_count)
    start = (page - 1) * page_size
    return refs[start : start + page_size], len(refs)


def structure_options(session: Session, actor: Actor) -> list[StructureRef]:
    """Every structure, sorted by name (for the professional form's choices)."""
    require(actor, Permission.READ_DIRECTORY)
    return _all_structure_refs(session)


def commune_options(session: Session) -> list[CommuneRef]:
    """Every commune, sorted by name: public reference data, no actor needed."""
    communes = list(session.exec(select(Commune)).all())
    communes.sort(key=lambda commune: _sort_key(commune.name, commune.id))
    return [_commune_ref(commune) for commune in communes]


def profession_options() -> list[tuple[str, str]]:
    """(value, French label) of every profession, in the enumeration's order."""
    return [(profession.value, PROFESSION_LABELS[profession]) for profession in Profession]


def structure_kind_options() -> list[tuple[str, str]]:
    """(value, French label) of every kind of structure, in the enumeration's order."""
    return [(kind.value, STRUCTURE_KIND_LABELS[kind]) for kind in StructureKind]


def structure_form(session: Session, actor: Actor, structure_id: int) -> StructureForm:
    """The edit form of a structure, filled with the stored values as a user would type them."""
    require(actor, Permission.MANAGE_DIRECTORY)
    structure = session.get(Structure, structure_id)
    if structure is None:
        raise NotFound(STRUCTURE_NOT_FOUND)
    return StructureForm(
        name=structure.name,
        kind=str(structure.kind),
        finess=structure.finess or "",
        commune_id=str(structure.commune_id),
        address=structure.address or "",
        phone=format_phone(structure.phone),
        email=structure.email or "",
    )


def save_structure(
    session: Session, actor: Actor, form: StructureForm, structure_id: int | None = None
) -> int:
    """Create or update a structure; every invalid field is reported at once, nothing is written.

    The caller commits. Returns the structure's id.
    """
    require(actor, Permission.MANAGE_DIRECTORY)
    structure: Structure | None = None
    if structure_id is not None:
        structure = session.get(Structure, structure_id)
        if structure is None:
            raise NotFound(STRUCTURE_NOT_FOUND)

    errors: dict[str, str] = {}
    name = _required(errors, "name", form.name, 200)
    kind: StructureKind | None = None
    try:
        kind = StructureKind(_text(form.kind))
    except ValueError:
        errors["kind"] = "Choisissez un type de structure dans la liste."
    finess = _optional(errors, "finess", form.finess, validate_finess)
    if finess is not None:
        duplicate = select(Structure.id).where(Structure.finess == finess)
        if structure_id is not None:
            duplicate = duplicate.where(col(Structure.id) != structure_id)
        if session.exec(duplicate).first() is not None:
            errors["finess"] = DUPLICATE_FINESS
    elif kind in FINESS_REQUIRED_KINDS and not _text(form.finess):
        errors["finess"] = "Le numéro FINESS est obligatoire pour ce type de structure."
    commune_id: int | None = None
    raw_commune = _text(str(form.commune_id) if form.commune_id is not None else "")
    if raw_commune.isdigit() and session.get(Commune, int(raw_commune)) is not None:
        commune_id = int(raw_commune)
    else:
        errors["commune_id"] = "Choisissez une commune du territoire."
    address = " ".join(_text(form.address).split())
    if len(address) > 300:
        errors["address"] = "Ce champ ne doit pas dépasser 300 caractères."
    phone = _optional(errors, "phone", form.phone, normalize_phone)
    email = _optional(errors, "email", form.email, normalize_email)
    if errors:
        raise ValidationFailed(errors)
    assert kind is not None and commune_id is not None

    values: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "finess": finess,
        "commune_id": commune_id,
        "address": address,
        "phone": phone,
        "email": email,
    }
    creating = structure is None
    if structure is None:
        structure = Structure(name=name, kind=kind, commune_id=commune_id)
        changed = [field_name for field_name, value in values.items() if value not in (None, "")]
    else:
        changed = [
            field_name for field_name, value in values.items() if getattr(structure, field_name) != value
        ]

    try:
        with session.begin_nested():
            for field_name, value in values.items():
                setattr(structure, field_name, value)
            structure.updated_at = utcnow()
            session.add(structure)
            session.flush()
    except IntegrityError as exc:
        if not _is_unique_violation(exc, "finess", "structure.finess"):
            raise
        if not creating:
            session.refresh(structure)
        raise ValidationFailed({"finess": DUPLICATE_FINESS}) from exc
    assert structure.id is not None
    audit.record(
        session,
        "directory.structure.create" if creating else "directory.structure.update",
        actor=actor,
        target_type="structure",
        target_id=structure.id,
        detail={"changed": changed},
    )
    session.flush()
    return structure.id
