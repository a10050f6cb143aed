"""Signing keys on disk: generate, rotate, load, and publish as a JWKS.

Each key is ``<kid>.pem`` (PKCS#8, encrypted with a key from configuration, mode 0600) and
``<kid>.json`` (algorithm, state, times). States follow the usual roll-over:

- ``next``: published in the JWKS but never used to sign, so relying parties have cached it
  before it signs anything;
- ``active``: signs (one per algorithm);
- ``retired``: no longer signs, still published until every token it signed has expired.

The ``kid`` is the RFC 7638 thumbprint. A running server notices a rotation by the directory's
modification time, so ``idp keys rotate`` needs no restart.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from idp.crypto import derive_key

ALGORITHMS = ("RS256", "ES256")
SigningKey = RSAKey | ECKey


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    state: str
    created_at: str
    retired_at: str | None = None


class KeyringError(RuntimeError):
    """The keys directory is missing, unreadable or has no active key."""


def _passphrase(secret: str) -> str:
    return base64.urlsafe_b64encode(derive_key(secret, purpose="signing-keys")).decode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _generate(alg: str) -> SigningKey:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise KeyringError(f"unsupported algorithm {alg}")


def _write_key(directory: Path, key: SigningKey, alg: str, state: str, secret: str) -> KeyInfo:
    kid = key.thumbprint()
    info = KeyInfo(kid=kid, alg=alg, state=state, created_at=_now().isoformat())
    pem = key.as_pem(private=True, password=_passphrase(secret))
    fd = os.open(directory / f"{kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    _write_info(directory, info)
    return info


def _write_info(directory: Path, info: KeyInfo) -> None:
    tmp = directory / f".{info.kid}.json.tmp"
    tmp.write_text(json.dumps(info.__dict__, indent=2))
    os.replace(tmp, directory / f"{info.kid}.json")


def list_keys(directory: Path) -> list[KeyInfo]:
    if not directory.is_dir():
        return []
    infos = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        infos.append(KeyInfo(**data))
    return sorted(infos, key=lambda i: (i.alg, i.created_at))


def ensure_keys(directory: Path, secret: str) -> list[KeyInfo]:
    """Create an active and a next key per algorithm where missing; safe to run again."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    created = []
    infos = list_keys(directory)
    for alg in ALGORITHMS:
        states = {i.state for i in infos if i.alg == alg}
        if "active" not in states:
            created.append(_write_key(directory, _generate(alg), alg, "active", secret))
        if "next" not in states:
            created.append(_write_key(directory, _generate(alg), alg, "next", secret))
    return created


def rotate(directory: Path, secret: str, *, retire_after: int) -> list[KeyInfo]:
    """Promote each ``next`` key to active, retire the active one, and publish a new ``next``.

    Retired keys older than ``retire_after`` seconds are deleted: nothing they signed is
    still valid.
    """
    ensure_keys(directory, secret)
    now = _now()
    before = list_keys(directory)
    # Promote first, retire second: a server reading the directory in between sees two active
    # keys (and signs with the newer), never none.
    for info in before:
        if info.state == "next":
            _write_info(directory, KeyInfo(info.kid, info.alg, "active", info.created_at))
    for info in before:
        if info.state == "active":
            _write_info(directory, KeyInfo(info.kid, info.alg, "retired", info.created_at, now.isoformat()))
        elif info.state == "retired" and info.retired_at:
            if dt.datetime.fromisoformat(info.retired_at) + dt.timedelta(seconds=retire_after) < now:
                (directory / f"{info.kid}.json").unlink(missing_ok=True)
                (directory / f"{info.kid}.pem").unlink(missing_ok=True)
    ensure_keys(directory, secret)
    return list_keys(directory)


class Keyring:
    """The keys a running server signs with and publishes; reloaded when the directory changes."""

    def __init__(self, directory: str | Path, secret: str, *, retire_after: int) -> None:
        self.directory = Path(directory)
        self._secret = secret
        self._retire_after = retire_after
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._active: dict[str, SigningKey] = {}
        self._published: KeySet = KeySet([])
        self._jwks: dict[str, Any] = {"keys": []}
        self._jwks_json = '{"keys": []}'

    def _refresh(self) -> None:
        try:
            stamp = self.directory.stat().st_mtime
        except FileNotFoundError as exc:
            raise KeyringError(f"keys directory {self.directory} does not exist; run `idp init`") from exc
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            active: dict[str, SigningKey] = {}
            published: list[Any] = []
            now = _now()
            for info in list_keys(self.directory):
                if info.state == "retired" and info.retired_at:
                    if dt.datetime.fromisoformat(info.retired_at) + dt.timedelta(seconds=self._retire_after) < now:
                        continue
                pem = (self.directory / f"{info.kid}.pem").read_bytes()
                cls = RSAKey if info.alg == "RS256" else ECKey
                key = cls.import_key(pem, parameters={"kid": info.kid, "alg": info.alg, "use": "sig"},
                                     password=_passphrase(self._secret))
                published.append(key)
                if info.state == "active":
                    active[info.alg] = key
            if not active:
                if self._active:
                    return  # caught mid-write: keep the last good set and look again next time
                raise KeyringError(f"no active signing key in {self.directory}; run `idp init`")
            self._active = active
            self._published = KeySet(published)
            self._jwks = {"keys": [k.as_dict(private=False) for k in published]}
            self._jwks_json = json.dumps(self._jwks)
            self._stamp = stamp

    def signing_key(self, alg: str) -> SigningKey:
        self._refresh()
        try:
            return self._active[alg]
        except KeyError as exc:
            raise KeyringError(f"no active {alg} key") from exc

    def public_keys(self) -> KeySet:
        """Every published key, for checking our own tokens (id_token_hint, access tokens)."""
        self._refresh()
        return self._published

    def jwks(self) -> dict[str, Any]:
        self._refresh()
        return self._jwks

    def jwks_json(self) -> str:
        self._refresh()
        return self._jwks_json

    def algorithms(self) -> list[str]:
        self._refresh()
        return sorted(self._active)
