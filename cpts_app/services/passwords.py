"""Password hashing with Argon2id at the OWASP parameters (m=19 MiB, t=2, p=1).

Why ``cryptography``: it is already a dependency and ships Argon2id with PHC-string encoding,
so the parameters travel with each hash and can be raised later without a migration.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

MEMORY_COST_KIB = 19 * 1024
ITERATIONS = 2
LANES = 1
HASH_LENGTH = 32
SALT_LENGTH = 16
MIN_PASSWORD_LENGTH = 12


def _kdf(salt: bytes) -> Argon2id:
    return Argon2id(
        salt=salt, length=HASH_LENGTH, iterations=ITERATIONS, lanes=LANES, memory_cost=MEMORY_COST_KIB
    )


def hash_password(password: str) -> str:
    """The PHC string (``$argon2id$v=19$m=19456,t=2,p=1$…``) of ``password`` with a fresh salt."""
    return _kdf(os.urandom(SALT_LENGTH)).derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; never raises on a malformed hash."""
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), encoded)
    except (InvalidKey, ValueError):
        return False
    return True


# A hash of a random secret, verified when the e-mail is unknown so that the answer takes the
# same time whether or not the account exists.
DUMMY_HASH = hash_password(os.urandom(16).hex())
