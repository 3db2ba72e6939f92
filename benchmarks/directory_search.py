"""Directory search latency (p50 / p95 / max) on the demo territory grown to N professionals.

Usage: python -m benchmarks.directory_search [--professionals 2000] [--database-url URL] [--runs 500]
Without --database-url, a temporary SQLite file is used. The figure is recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

import cpts_app.models  # noqa: F401
from benchmarks.machine import describe, percentile
from cpts_app.db import make_engine, migrate
from cpts_app.demo import load_demo
from cpts_app.models.access import Role, User
from cpts_app.models.directory import Commune, Profession, Professional, ProfessionalCommune
from cpts_app.services import directory
from cpts_app.services.identifiers import search_key
from cpts_app.services.permissions import Actor


def _grow(session: Session, target: int, rng: random.Random) -> None:
    communes = session.exec(select(Commune)).all()
    existing = session.exec(select(Professional)).all()
    professions = list(Profession)
    extra = max(0, target - len(existing))
    for i in range(extra):
        first, last = f"Prénom{i}", f"Nom{i:05d}"
        pro = Professional(
            first_name=first,
            last_name=last,
            search_name=search_key(f"{last} {first}"),
            profession=rng.choice(professions),
            accepts_new_patients=rng.random() < 0.3,
            new_patient_capacity=rng.randint(0, 50),
        )
        session.add(pro)
        session.flush()
        for commune in rng.sample(communes, 2):
            session.add(ProfessionalCommune(professional_id=pro.id, commune_id=commune.id))
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--professionals", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        if not url.startswith("sqlite"):
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        migrate(url)
        rng = random.Random(7)
        with Session(engine, expire_on_commit=False) as session:
            load_demo(session)
            session.commit()
            _grow(session, args.professionals, rng)
            user = session.exec(select(User).where(User.role == Role.COORDINATOR)).first()
            assert user is not None and user.id is not None
            actor = Actor(user_id=user.id, role=Role.COORDINATOR, display_name=user.display_name)
            communes = [c.id for c in session.exec(select(Commune)).all()]
            total = len(session.exec(select(Professional.id)).all())

        filters = [
            directory.DirectoryFilter(),
            directory.DirectoryFilter(text="martin"),
            directory.DirectoryFilter(
                profession=Profession.GENERAL_PRACTITIONER.value, accepts_new_patients=True
            ),
        ]
        timings: list[float] = []
        with Session(engine) as session:
            for run in range(args.runs):
                filt = filters[run % len(filters)]
                if run % 2:
                    filt = directory.DirectoryFilter(
                        text=filt.text,
                        profession=filt.profession,
                        commune_id=rng.choice(communes),
                        accepts_new_patients=filt.accepts_new_patients,
                    )
                page = rng.randint(1, 5)
                start = time.perf_counter()
                directory.search_professionals(session, actor, filt, page=page)
                timings.append((time.perf_counter() - start) * 1000)
                session.rollback()
        engine.dispose()

    backend = url.split(":", 1)[0]
    print(f"machine: {describe()}")
    print(f"database: {backend}, professionals: {total}, searches: {args.runs}")
    print(
        f"directory search latency ms: p50={percentile(timings, 0.5):.2f} "
        f"p95={percentile(timings, 0.95):.2f} max={max(timings):.2f}"
    )


if __name__ == "__main__":
    main()
