"""Signing keys in the database (idp/keyring.py): one roll-over for every instance, the newer of
two active keys signs, the private keys need the configured secret, and keys an earlier version
kept as files are taken over with their kids."""

import datetime as dt
import json

import pytest
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from idp import keyring
from idp.db import Base
from idp.oidc.models import SigningKeyRecord

SECRET = "k" * 40


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    Base.metadata.create_all(engine, tables=[SigningKeyRecord.__table__])
    yield engine
    engine.dispose()


def _ring(engine, secret=SECRET):
    return keyring.Keyring(engine, secret, retire_after=60, refresh_every=0)


def test_rotation_lifecycle_reaches_every_keyring_reading_the_database(engine):
    keyring.ensure_keys(engine, SECRET)
    one, another = _ring(engine), keyring.Keyring(engine, SECRET, retire_after=60, refresh_every=3600)
    first = one.signing_key("ES256").kid
    assert another.signing_key("ES256").kid == first
    next_kid = next(i.kid for i in keyring.list_keys(engine) if i.alg == "ES256" and i.state == "next")
    keyring.rotate(engine, SECRET, retire_after=60)
    assert one.signing_key("ES256").kid == next_kid
    assert first in {k["kid"] for k in one.jwks()["keys"]}  # retired, still published
    assert another.signing_key("ES256").kid == first  # until its refresh interval has passed
    another.reload()
    assert another.signing_key("ES256").kid == next_kid
    # once the retirement is older than the tokens it signed, it is no longer published, and the
    # next rotation deletes it
    with engine.begin() as connection:
        connection.execute(update(SigningKeyRecord).where(SigningKeyRecord.kid == first)
                           .values(retired_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    assert first not in {k["kid"] for k in one.jwks()["keys"]}
    keyring.rotate(engine, SECRET, retire_after=60)
    assert first not in {i.kid for i in keyring.list_keys(engine)}


def test_ensure_is_safe_to_repeat_and_one_active_key_per_algorithm(engine):
    assert len(keyring.ensure_keys(engine, SECRET)) == 6
    assert keyring.ensure_keys(engine, SECRET) == []
    states = sorted((i.alg, i.state) for i in keyring.list_keys(engine))
    assert states == [("ES256", "active"), ("ES256", "next"), ("PS256", "active"), ("PS256", "next"),
                      ("RS256", "active"), ("RS256", "next")]
    with pytest.raises(IntegrityError):  # the index holds one active key per algorithm
        with engine.begin() as connection:
            connection.execute(update(SigningKeyRecord).where(SigningKeyRecord.alg == "RS256").values(state="active"))


def test_private_keys_are_encrypted_and_need_the_configured_secret(engine):
    keyring.ensure_keys(engine, SECRET)
    with engine.connect() as connection:
        pems = connection.execute(select(SigningKeyRecord.private_pem)).scalars().all()
    assert all(b"ENCRYPTED PRIVATE KEY" in pem for pem in pems)
    with pytest.raises(ValueError):
        _ring(engine, "another secret " * 3).signing_key("RS256")


def test_no_keys_is_a_clear_error(engine):
    with pytest.raises(keyring.KeyringError, match="idp init"):
        _ring(engine).signing_key("RS256")


def test_keys_of_an_earlier_version_are_imported_with_their_kids(engine, tmp_path):
    from joserfc.jwk import ECKey

    old = tmp_path / "old-keys"
    old.mkdir()
    key = ECKey.generate_key("P-256", private=True)
    kid = key.thumbprint()
    (old / f"{kid}.pem").write_bytes(key.as_pem(private=True, password=keyring._passphrase(SECRET)))
    (old / f"{kid}.json").write_text(json.dumps({"kid": kid, "alg": "ES256", "state": "active",
                                                 "created_at": dt.datetime.now(dt.UTC).isoformat()}))
    created = keyring.ensure_keys(engine, SECRET, import_dir=old)
    assert {(i.kid, i.state) for i in created if i.alg == "ES256"} >= {(kid, "active")}
    assert _ring(engine).signing_key("ES256").kid == kid
    assert {i.alg for i in keyring.list_keys(engine) if i.state == "active"} == {"ES256", "PS256", "RS256"}
    # only into an empty table: a second import does nothing
    assert keyring.ensure_keys(engine, SECRET, import_dir=old) == []


def test_a_database_that_goes_away_keeps_the_keys_already_loaded(engine):
    keyring.ensure_keys(engine, SECRET)
    ring = _ring(engine)
    kid = ring.signing_key("RS256").kid
    SigningKeyRecord.__table__.drop(engine)
    assert ring.signing_key("RS256").kid == kid
