"""Deterministic records for the sync benchmarks: one médicobus day, and a large first sync.

``medicobus_day(seed)`` is what one laptop writes during a day of the tour: about 60 consultations
(two professionals seeing patients in parallel, 8:30 to 17:30) and about 4 000 writes in all.
A write (``Change``) sets some fields of one record, as the app's forms do:

- a new patient is created with all fields at once, then a few fields are corrected (phone,
  address, commune, médecin traitant) and observations are appended one at a time;
- a consultation is created (patient, date, professional, motive), its motive is sometimes
  refined, and its notes are appended one by one as the visit goes on (autosave: many small
  writes);
- a follow-up slot is booked (``slot_booking``) for some patients;
- once in the day a duplicate patient is created by mistake and deleted.

Appends (``notes``, ``observations``) come in two forms, ``appends=``:

- ``"entry"`` (default): the write carries a one-entry list, the new entry only. The server merges
  these fields as a union of entries by id (``mobile_sync.merge``), so this is all it needs: many
  small writes. Whoever applies the changes must union them too (``replicate.js`` does).
- ``"whole"``: the write carries the whole list so far, as ``LocalStore.write`` stores a field
  (it replaces the value). The pushed bytes then grow with the square of the notes per visit.

``first_sync_records(n)`` is ``n`` complete records (45 % patients, 45 % consultations, 10 %
bookings) as a laptop's first download of a territory would bring them.

Everything comes from ``random.Random(seed)``: same seed, same records, ids included (32 hex
characters, like ``uuid4().hex``). Names and texts are invented from small lists below.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

DAY = date(2025, 3, 12)
"""The day of the tour (fixed, in the past, so birth dates and visit dates stay valid)."""
PARIS = timezone(timedelta(hours=1))  # winter time; a fixed offset keeps the output deterministic
DEVICE = "medicobus-07"

NOMS = [
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Le Goff", "Marchand",
]  # fmt: skip
PRENOMS_F = [
    "Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie",
    "Martine", "Christine", "Anne", "Sophie", "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès",
    "Louise", "Zoé", "Hélène", "Odette", "Simone", "Yvette", "Aïcha", "Fatou",
]  # fmt: skip
PRENOMS_M = [
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Jacques", "Bernard", "Louis",
    "Paul", "Lucas", "Hugo", "Gabriel", "Nathan", "Thomas", "Nicolas", "Julien", "René",
    "Marcel", "Roger", "Mohamed", "Karim", "Yannick", "Gérard",
]  # fmt: skip
VOIES = [
    "rue de l'Église", "place de la Mairie", "route de Nevers", "chemin des Vignes", "rue du Lavoir",
    "impasse des Tilleuls", "rue Victor Hugo", "lieu-dit Les Granges", "avenue de la Gare",
    "rue du Moulin", "hameau de la Croix", "grande rue",
]  # fmt: skip
COMMUNES_INSEE = [
    "58001", "58004", "58011", "58020", "58036", "58048", "58062", "58086", "58103", "58117",
    "58134", "58160", "58194", "58213", "58230", "58256", "58273", "58289", "58300", "2A004",
]  # fmt: skip
PROFESSIONNELS = ["Dr Claire Vasseur (médecin généraliste)", "Julien Marty (infirmier ASALEE)"]
MOTIFS = [
    "Renouvellement d'ordonnance", "Suivi diabète de type 2", "Contrôle tension artérielle",
    "Douleurs lombaires", "Toux persistante", "Pansement plaie jambe", "Vaccination grippe",
    "Bilan de chute", "Suivi anticoagulant", "Fatigue, perte d'appétit", "Certificat sport",
    "Éruption cutanée", "Suivi insuffisance cardiaque", "Douleur genou droit",
]  # fmt: skip
MOTIF_PRECISIONS = [
    " ; demande aussi un avis sur le sommeil", " ; à revoir avec les résultats de biologie",
    " ; accompagné(e) par sa fille", " ; pas de médecin traitant depuis 2 ans",
]  # fmt: skip
NOTE_PHRASES = [
    "TA {a}/{b} mmHg au repos, contrôlée après 5 minutes.",
    "FC {c} bpm, régulière. SpO2 {d} % en air ambiant.",
    "Poids {e} kg, stable par rapport au dernier passage.",
    "Glycémie capillaire {f} g/L à jeun.",
    "Auscultation cardio-pulmonaire sans particularité.",
    "Abdomen souple, dépressible, indolore.",
    "Se plaint de douleurs articulaires matinales, dérouillage d'environ {g} minutes.",
    "Traitement habituel bien pris selon la patiente, pilulier préparé par l'IDE.",
    "Pas de fièvre, pas de frissons, pas de perte de poids récente rapportée.",
    "Plaie propre, bourgeonnante, pansement refait (hydrocolloïde).",
    "Examen des pieds : pas de lésion, monofilament perçu aux deux pieds.",
    "Éducation thérapeutique : rappel des règles hygiéno-diététiques.",
    "Ordonnance renouvelée pour {h} mois, sans modification.",
    "Biologie demandée : NFS, ionogramme, créatinine, HbA1c.",
    "Orientation vers le kinésithérapeute du secteur, courrier remis.",
    "Vaccin antigrippal injecté dans le deltoïde gauche, lot noté au carnet.",
    "Conseils donnés en cas d'aggravation : appeler le 15.",
    "Vit seul(e), aide à domicile deux fois par semaine.",
    "Transport difficile : ne conduit plus depuis {i} mois.",
    "Prochain passage du médicobus prévu dans un mois.",
]
OBSERVATIONS = [
    "Allergie déclarée à la pénicilline.",
    "Antécédent d'infarctus en {y}, stenté.",
    "Diabète de type 2 connu depuis {n} ans.",
    "Vit en zone blanche : joignable sur le fixe uniquement.",
    "Personne de confiance : sa fille, coordonnées au dossier.",
    "Refuse pour l'instant le dépistage colorectal.",
    "Tabagisme sevré depuis {n} ans.",
    "Chutes répétées cet hiver, téléassistance à discuter.",
    "Souhaite un médecin traitant sur le secteur, inscrit(e) sur la liste d'attente CPAM.",
]


@dataclass(frozen=True)
class Change:
    """One write: ``fields`` of ``table``/``record_id`` (all required ones when it creates)."""

    table: str
    record_id: str
    fields: dict[str, Any]
    delete: bool = False
    at_ms: int = 0
    """Wall time of the write (ms since the epoch), in increasing order over a dataset."""
    creating: bool = field(default=False, compare=False)
    """True for the write that creates the record."""

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "id": self.record_id,
            "fields": self.fields,
            "delete": self.delete,
            "at_ms": self.at_ms,
        }


def hlc_at(at_ms: int, counter: int = 0, node: str = DEVICE) -> str:
    """An HLC string as ``mobile_sync.hlc`` encodes it."""
    return f"{at_ms:015d}-{counter:06d}-{node}"


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def rid(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def phone(self) -> str:
        prefix = self.rng.choice(["06", "07", "03", "03", "06"])
        return " ".join([prefix, *(f"{self.rng.randrange(100):02d}" for _ in range(4))])

    def birth_date(self) -> str:
        age_days = self.rng.randrange(2 * 365, 98 * 365)
        return (DAY - timedelta(days=age_days)).isoformat()

    def address(self) -> str:
        return f"{self.rng.randrange(1, 80)} {self.rng.choice(VOIES)}"

    def patient(self) -> dict[str, Any]:
        sexe = self.rng.choices(["F", "M", "I"], weights=[52, 47, 1])[0]
        prenoms = PRENOMS_F if sexe == "F" else PRENOMS_M if sexe == "M" else PRENOMS_F + PRENOMS_M
        count = self.rng.choice([1, 1, 2, 3])
        return {
            "nom": self.rng.choice(NOMS).upper(),
            "prenoms": " ".join(self.rng.sample(prenoms, count)),
            "date_naissance": self.birth_date(),
            "sexe": sexe,
            "telephone": self.phone(),
            "commune_insee": self.rng.choice(COMMUNES_INSEE),
            "adresse": self.address(),
            "sans_medecin_traitant": self.rng.random() < 0.35,
            "observations": [],
        }

    def phrase(self, templates: list[str]) -> str:
        rng = self.rng
        return rng.choice(templates).format(
            a=rng.randrange(105, 175),
            b=rng.randrange(60, 100),
            c=rng.randrange(52, 110),
            d=rng.randrange(91, 100),
            e=rng.randrange(45, 120),
            f=f"{rng.uniform(0.8, 2.4):.2f}".replace(".", ","),
            g=rng.randrange(5, 60),
            h=rng.choice([1, 3, 6]),
            i=rng.randrange(2, 24),
            y=rng.randrange(1985, 2024),
            n=rng.randrange(2, 30),
        )

    def entry(self, templates: list[str], auteur: str, at_ms: int) -> dict[str, str]:
        return {"id": self.rid(), "texte": self.phrase(templates), "auteur": auteur, "hlc": hlc_at(at_ms)}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def medicobus_day(seed: int = 2025, consultations: int = 60, appends: str = "entry") -> list[Change]:
    """About ``consultations`` visits and ~66 writes per visit, in the order they were made."""
    if appends not in ("entry", "whole"):
        raise ValueError("appends: 'entry' or 'whole'")
    gen = _Gen(seed)
    rng = gen.rng
    changes: list[Change] = []
    start = datetime.combine(DAY, datetime.min.time(), PARIS).replace(hour=8, minute=30)
    visit_length = timedelta(hours=9) * 2 / consultations  # two professionals side by side
    patients: list[tuple[str, dict[str, Any], datetime]] = []  # id, current fields, end of last visit
    duplicate_at = rng.randrange(consultations)
    moments = iter(())

    def write(
        table: str, rid: str, fields: dict[str, Any], *, creating: bool = False, delete: bool = False
    ) -> int:
        at = _ms(next(moments))
        changes.append(Change(table, rid, fields, delete=delete, at_ms=at, creating=creating))
        return at

    for visit in range(consultations):
        professionnel = PROFESSIONNELS[visit % 2]
        begin = start + visit_length * (visit // 2)
        moments = iter(sorted(begin + visit_length * rng.random() * 0.95 for _ in range(200)))
        # 200 sorted instants inside this visit, taken in order: each write is later than the last

        earlier = [p for p in patients if p[2] <= begin]
        if earlier and rng.random() < 0.1:  # seen by the other professional earlier in the day
            index = patients.index(rng.choice(earlier))
            patient_id, patient, _ = patients[index]
        else:
            patient_id, patient = gen.rid(), gen.patient()
            write("patient", patient_id, dict(patient), creating=True)
            index = len(patients)
            patients.append((patient_id, patient, begin))
        if visit == duplicate_at:
            duplicate = gen.rid()
            write("patient", duplicate, gen.patient(), creating=True)
            write("patient", duplicate, {}, delete=True)

        for _ in range(rng.randrange(2, 7)):  # identity and contact corrections
            name = rng.choice(["telephone", "adresse", "commune_insee", "sans_medecin_traitant", "prenoms"])
            if name == "telephone":
                value: Any = gen.phone()
            elif name == "adresse":
                value = gen.address()
            elif name == "commune_insee":
                value = rng.choice(COMMUNES_INSEE)
            elif name == "sans_medecin_traitant":
                value = not patient["sans_medecin_traitant"]
            else:  # the usual first name only
                value = patient["prenoms"].split(" ")[0]
            patient[name] = value
            write("patient", patient_id, {name: value})

        consultation_id = gen.rid()
        consultation = {
            "patient": patient_id,
            "date": next(moments).isoformat(timespec="seconds"),
            "professionnel": professionnel,
            "motif": rng.choice(MOTIFS),
            "notes": [],
        }
        write("consultation", consultation_id, dict(consultation), creating=True)
        if rng.random() < 0.5:
            consultation["motif"] += rng.choice(MOTIF_PRECISIONS)
            write("consultation", consultation_id, {"motif": consultation["motif"]})

        notes_left = rng.randrange(45, 66)
        observations_left = rng.randrange(2, 9)
        while notes_left or observations_left:
            if observations_left and rng.random() < observations_left / (notes_left + observations_left):
                observations_left -= 1
                at = _ms(next(moments))
                entry = gen.entry(OBSERVATIONS, professionnel, at)
                patient["observations"] = [*patient["observations"], entry]
                written = patient["observations"] if appends == "whole" else [entry]
                changes.append(Change("patient", patient_id, {"observations": written}, at_ms=at))
            else:
                notes_left -= 1
                at = _ms(next(moments))
                entry = gen.entry(NOTE_PHRASES, professionnel, at)
                consultation["notes"] = [*consultation["notes"], entry]
                written = consultation["notes"] if appends == "whole" else [entry]
                changes.append(Change("consultation", consultation_id, {"notes": written}, at_ms=at))

        for _ in range(rng.choice([0, 1, 1, 1, 2])):  # follow-up slots on the next tour
            booking_id = gen.rid()
            booking = {
                "creneau": f"slot-{rng.randrange(1, 5000)}",
                "patient": patient_id,
                "motif": rng.choice(MOTIFS),
            }
            write("slot_booking", booking_id, booking, creating=True)
            if rng.random() < 0.2:
                write(
                    "slot_booking", booking_id, {"motif": rng.choice(MOTIFS) + rng.choice(MOTIF_PRECISIONS)}
                )
        patients[index] = (patient_id, patient, begin + visit_length)

    changes.sort(key=lambda change: change.at_ms)  # the two professionals' writes interleave
    ordered: list[Change] = []
    for change in changes:  # strictly increasing times (stable sort kept each record's order)
        at = max(change.at_ms, ordered[-1].at_ms + 1) if ordered else change.at_ms
        ordered.append(change if at == change.at_ms else replace(change, at_ms=at))
    return ordered


def first_sync_records(n: int = 50_000, seed: int = 50) -> list[Change]:
    """``n`` complete records (one creating write each): patients, their consultations, bookings."""
    gen = _Gen(seed)
    rng = gen.rng
    records: list[Change] = []
    patient_ids: list[str] = []
    moment = datetime.combine(DAY, datetime.min.time(), PARIS) - timedelta(days=730)
    step = timedelta(days=730) / max(n, 1)
    for _ in range(n):
        moment += step
        at = _ms(moment)
        kind = rng.random()
        if not patient_ids or kind < 0.45:
            rid, fields = gen.rid(), gen.patient()
            fields["observations"] = [
                gen.entry(OBSERVATIONS, rng.choice(PROFESSIONNELS), at)
                for _ in range(rng.choice([0, 0, 1, 2, 3]))
            ]
            patient_ids.append(rid)
            records.append(Change("patient", rid, fields, at_ms=at, creating=True))
        elif kind < 0.9:
            professionnel = rng.choice(PROFESSIONNELS)
            fields = {
                "patient": rng.choice(patient_ids),
                "date": moment.isoformat(timespec="seconds"),
                "professionnel": professionnel,
                "motif": rng.choice(MOTIFS),
                "notes": [gen.entry(NOTE_PHRASES, professionnel, at) for _ in range(rng.randrange(2, 7))],
            }
            records.append(Change("consultation", gen.rid(), fields, at_ms=at, creating=True))
        else:
            fields = {
                "creneau": f"slot-{rng.randrange(1, 100_000)}",
                "patient": rng.choice(patient_ids),
                "motif": rng.choice(MOTIFS),
            }
            records.append(Change("slot_booking", gen.rid(), fields, at_ms=at, creating=True))
    return records


def summary(changes: list[Change]) -> dict[str, int]:
    """Counts per table, records, creations, deletions and JSON size of the fields."""
    out: dict[str, int] = {"changes": len(changes), "records": len({(c.table, c.record_id) for c in changes})}
    for change in changes:
        out[change.table] = out.get(change.table, 0) + 1
    out["creations"] = sum(c.creating for c in changes)
    out["deletions"] = sum(c.delete for c in changes)
    out["fields_json_bytes"] = sum(len(json.dumps(c.fields, ensure_ascii=False).encode()) for c in changes)
    return out
