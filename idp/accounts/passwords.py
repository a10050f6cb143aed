"""Password hashing and the password rules (NIST SP 800-63B §3.1.1.2).

argon2id with OWASP's minimum parameters (m=19 MiB, t=2, p=1); hashes made with other
parameters are replaced at the next successful sign-in. No composition rules: length and a
list of common and breached passwords only, as 800-63B asks.
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A hash to verify against when the account does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class PasswordRejected(ValueError):
    """The chosen password breaks a rule; ``code`` picks the message shown to the person."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise(password: str) -> str:
    # 800-63B §3.1.1.2: apply NFKC so the same password typed on two keyboards matches.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _hasher.hash(normalise(password))


def verify_password(password: str, *, expected_hash: str | None) -> bool:
    try:
        return _hasher.verify(expected_hash or _DUMMY_HASH, normalise(password)) and bool(expected_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _common_passwords() -> frozenset[str]:
    # The list Django ships (20,000 common and breached passwords), kept in idp/data.
    data = files("idp").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_password_rules(password: str, *, email: str = "") -> None:
    """Raise :class:`PasswordRejected` when the password must not be used."""
    password = normalise(password)
    if len(password) < MIN_LENGTH:
        raise PasswordRejected("too_short")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected("too_long")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise PasswordRejected("common")
    if email and lowered in (email.lower(), email.split("@")[0].lower()):
        raise PasswordRejected("matches_email")
