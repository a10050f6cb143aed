"""Signing keys in the database: generate, rotate, load, and publish as a JWKS.

Every instance reads the same keys from the one database (issue 12: an instance holds
configuration and caches with a bounded life, nothing else), so ``idp keys rotate`` on any of
them reaches all within ``KEYS_REFRESH_SECONDS``. Each key is a row of ``signing_keys``
(:class:`idp.oidc.models.SigningKeyRecord`): PKCS#8 PEM encrypted with a passphrase derived from
``KEYS_SECRET`` (or ``SECRET_KEY``). States follow the usual roll-over:

- ``next``: published in the JWKS but never used to sign, so relying parties have cached it
  before it signs anything;
- ``active``: signs (one per algorithm, held by a unique index);
- ``retired``: no longer signs, still published until every token it signed has expired.

The ``kid`` is the RFC 7638 thumbprint. Keys that an earlier version kept as files in
``KEYS_DIR`` (``<kid>.pem`` and ``<kid>.json``) are imported by ``idp init`` when the table is
empty, with their ``kid``, so tokens already issued keep verifying.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import cast

from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey
from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError

from idp.crypto import derive_key
from idp.oidc.models import SigningKeyRecord

# RS256 for every client by default, ES256 on request, PS256 for FAPI 2.0 clients (idp.oidc.fapi).
ALGORITHMS = ("RS256", "ES256", "PS256")
RSA_ALGORITHMS = ("RS256", "PS256")
SigningKey = RSAKey | ECKey
_TABLE = cast(Table, SigningKeyRecord.__table__)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    state: str
    created_at: str
    retired_at: str | None = None


class KeyringError(RuntimeError):
    """No active key, or the keys cannot be read."""


def _passphrase(secret: str) -> str:
    return base64.urlsafe_b64encode(derive_key(secret, purpose="signing-keys")).decode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _generate(alg: str) -> SigningKey:
    if alg in RSA_ALGORITHMS:
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise KeyringError(f"unsupported algorithm {alg}")


def _info(row: Any) -> KeyInfo:
    return KeyInfo(kid=row.kid, alg=row.alg, state=row.state, created_at=row.created_at.isoformat(),
                   retired_at=row.retired_at.isoformat() if row.retired_at else None)


def list_keys(engine: Engine) -> list[KeyInfo]:
    with engine.connect() as connection:
        rows = connection.execute(select(_TABLE.c.kid, _TABLE.c.alg, _TABLE.c.state, _TABLE.c.created_at,
                                         _TABLE.c.retired_at)).all()
    return sorted((_info(row) for row in rows), key=lambda i: (i.alg, i.created_at))


def _new_row(alg: str, state: str, secret: str) -> dict[str, Any]:
    key = _generate(alg)
    return {"kid": key.thumbprint(), "alg": alg, "state": state, "created_at": _now(), "retired_at": None,
            "private_pem": key.as_pem(private=True, password=_passphrase(secret))}


def ensure_keys(engine: Engine, secret: str, *, import_dir: Path | None = None) -> list[KeyInfo]:
    """Create an active and a next key per algorithm where missing; safe to run again, also
    from several instances at once (the unique index on the active key decides).

    :param import_dir: a ``KEYS_DIR`` of an earlier version: its keys are taken over, kids and
        states kept, when the table is still empty
    """
    for attempt in range(2):
        try:
            return _ensure(engine, secret, import_dir)
        except IntegrityError:  # another instance made the same keys at the same moment
            if attempt:
                raise
    return []  # pragma: no cover


def _ensure(engine: Engine, secret: str, import_dir: Path | None) -> list[KeyInfo]:
    created: list[dict[str, Any]] = []
    with engine.begin() as connection:
        rows: list[tuple[str, str]] = [(r.alg, r.state) for r in connection.execute(select(_TABLE.c.alg,
                                                                                             _TABLE.c.state))]
        if not rows and import_dir is not None:
            created += _from_files(import_dir)
            rows = [(row["alg"], row["state"]) for row in created]
        for alg in ALGORITHMS:
            states = {state for row_alg, state in rows if row_alg == alg}
            created += [_new_row(alg, state, secret) for state in ("active", "next") if state not in states]
        if created:
            connection.execute(insert(_TABLE), created)
    return [KeyInfo(r["kid"], r["alg"], r["state"], r["created_at"].isoformat(),
                    r["retired_at"].isoformat() if r["retired_at"] else None) for r in created]


def _from_files(directory: Path) -> list[dict[str, Any]]:
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        info = json.loads(path.read_text())
        pem = directory / f"{info['kid']}.pem"
        if not pem.is_file() or info.get("alg") not in ALGORITHMS:
            continue
        found.append({"kid": info["kid"], "alg": info["alg"], "state": info["state"],
                      "created_at": dt.datetime.fromisoformat(info["created_at"]),
                      "retired_at": dt.datetime.fromisoformat(info["retired_at"]) if info.get("retired_at") else None,
                      "private_pem": pem.read_bytes()})
    # Two active keys of one algorithm (caught mid-rotation): the newer stays active.
    newest: dict[str, dict[str, Any]] = {}
    for row in sorted(found, key=lambda r: r["created_at"]):
        if row["state"] == "active":
            newest[row["alg"]] = row
    for row in found:
        if row["state"] == "active" and newest[row["alg"]] is not row:
            row.update(state="retired", retired_at=_now())
    return found


def rotate(engine: Engine, secret: str, *, retire_after: int) -> list[KeyInfo]:
    """Retire each active key, promote the ``next`` one, and publish a new ``next``: one
    transaction, so no instance ever reads a state without an active key.

    Retired keys older than ``retire_after`` seconds are deleted: nothing they signed is
    still valid.
    """
    ensure_keys(engine, secret)
    now = _now()
    with engine.begin() as connection:
        connection.execute(delete(_TABLE).where(_TABLE.c.state == "retired",
                                                _TABLE.c.retired_at < now - dt.timedelta(seconds=retire_after)))
        connection.execute(update(_TABLE).where(_TABLE.c.state == "active").values(state="retired", retired_at=now))
        connection.execute(update(_TABLE).where(_TABLE.c.state == "next").values(state="active"))
        connection.execute(insert(_TABLE), [_new_row(alg, "next", secret) for alg in ALGORITHMS])
    return list_keys(engine)


class Keyring:
    """The keys a running server signs with and publishes, read again from the database at most
    every ``refresh_every`` seconds (and loaded again only when a key changed)."""

    def __init__(self, engine: Engine, secret: str, *, retire_after: int, refresh_every: float = 10.0) -> None:
        self.engine = engine
        self._secret = secret
        self._retire_after = retire_after
        self._refresh_every = refresh_every
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._active: dict[str, SigningKey] = {}
        self._published: KeySet = KeySet([])
        self._jwks: dict[str, Any] = {"keys": []}
        self._jwks_json = '{"keys": []}'

    def reload(self) -> None:
        """Read the keys again on the next use (this process just rotated them)."""
        self._checked_at = None

    def _refresh(self) -> None:
        checked = self._checked_at
        if checked is not None and time.monotonic() - checked < self._refresh_every:
            return
        with self._lock:
            if self._checked_at is not None and time.monotonic() - self._checked_at < self._refresh_every:
                return
            try:
                self._load()
            except SQLAlchemyError as exc:
                if not self._active:
                    raise KeyringError("the signing keys could not be read from the database") from exc
                _log.warning("signing keys: the database could not be read; keeping the keys loaded before")
            self._checked_at = time.monotonic()

    def _load(self) -> None:
        now = _now()
        with self.engine.connect() as connection:
            rows = connection.execute(select(_TABLE.c.kid, _TABLE.c.alg, _TABLE.c.state, _TABLE.c.created_at,
                                             _TABLE.c.retired_at).order_by(_TABLE.c.created_at)).all()
            live = [row for row in rows if row.state != "retired" or row.retired_at is None
                    or row.retired_at + dt.timedelta(seconds=self._retire_after) >= now]
            stamp = tuple((row.kid, row.state) for row in live)
            if stamp == self._stamp:
                return
            pems = dict(connection.execute(select(_TABLE.c.kid, _TABLE.c.private_pem)
                                           .where(_TABLE.c.kid.in_([row.kid for row in live]))).all())
        active: dict[str, SigningKey] = {}
        published: list[Any] = []
        for row in live:
            cls = RSAKey if row.alg in RSA_ALGORITHMS else ECKey
            key = cls.import_key(pems[row.kid], parameters={"kid": row.kid, "alg": row.alg, "use": "sig"},
                                 password=_passphrase(self._secret))
            published.append(key)
            if row.state == "active":
                active[row.alg] = key  # in creation order: the newer wins
        if not active:
            raise KeyringError("no active signing key; run `idp init`")
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
