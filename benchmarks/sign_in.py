"""Cost of a sign-in: the Argon2id hash alone, and a whole successful sign-in on SQLite.

Usage: python -m benchmarks.sign_in [--runs 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlmodel import Session

from benchmarks.machine import describe, percentile
from cpts_app.db import make_engine, migrate
from cpts_app.models.access import Role
from cpts_app.services import authentication, passwords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    hashes: list[float] = []
    for _ in range(args.runs):
        start = time.perf_counter()
        passwords.hash_password("un mot de passe assez long")
        hashes.append((time.perf_counter() - start) * 1000)

    sign_ins: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        engine = make_engine(url)
        with Session(engine) as session:
            authentication.create_user(
                session,
                email="bench@example.fr",
                password="un mot de passe assez long",
                role=Role.COORDINATOR,
                display_name="Banc d'essai",
            )
            session.commit()
        for _ in range(args.runs):
            start = time.perf_counter()
            with Session(engine) as session:
                outcome = authentication.sign_in(
                    session,
                    email="bench@example.fr",
                    password="un mot de passe assez long",
                    ip="127.0.0.1",
                    user_agent="bench",
                )
                session.commit()
            sign_ins.append((time.perf_counter() - start) * 1000)
            assert outcome.token is not None
        engine.dispose()

    print(f"machine: {describe()}")
    hash_p50, hash_p95 = percentile(hashes, 0.5), percentile(hashes, 0.95)
    sign_in_p50, sign_in_p95 = percentile(sign_ins, 0.5), percentile(sign_ins, 0.95)
    print(f"argon2id m=19MiB t=2 p=1 hash ms: p50={hash_p50:.1f} p95={hash_p95:.1f}")
    print(f"successful sign-in (SQLite) ms: p50={sign_in_p50:.1f} p95={sign_in_p95:.1f}")


if __name__ == "__main__":
    main()
