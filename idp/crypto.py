"""The one place secrets are made, hashed, derived and encrypted.

Random tokens (client secrets, codes, refresh tokens) carry 256 bits of entropy, so a plain
SHA-256 digest is enough to store them: there is nothing to brute-force, and a digest lets us
look a token up by its hash in one indexed query.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(value: str) -> str:
    """Hex SHA-256 of a high-entropy secret, for storage and lookup."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_secret(value: str, *, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(value), expected_hash)


@functools.lru_cache(maxsize=64)
def derive_key(master: str, *, purpose: str, length: int = 32) -> bytes:
    """A sub-key for one purpose, so one configured secret never serves two jobs.

    Cached: subjects are derived on every token and userinfo response.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=f"idp:{purpose}".encode())
    return hkdf.derive(master.encode("utf-8"))


def keyed_hash(key: bytes, value: str) -> str:
    """Base64url HMAC-SHA256: pairwise subjects and blind indexes."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def encrypt_field(key: bytes, plaintext: bytes, *, context: str) -> bytes:
    """AES-256-GCM with a random nonce; ``context`` binds the value to its column."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def decrypt_field(key: bytes, blob: bytes, *, context: str) -> bytes:
    return AESGCM(key).decrypt(blob[:12], blob[12:], context.encode())
