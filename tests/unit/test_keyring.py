import datetime as dt
import json

from idp import keyring


def test_rotation_lifecycle(tmp_path):
    secret = "k" * 40
    keyring.ensure_keys(tmp_path, secret)
    ring = keyring.Keyring(tmp_path, secret, retire_after=60)
    first = ring.signing_key("ES256").kid
    next_kid = next(i.kid for i in keyring.list_keys(tmp_path) if i.alg == "ES256" and i.state == "next")
    keyring.rotate(tmp_path, secret, retire_after=60)
    assert ring.signing_key("ES256").kid == next_kid
    published = {k["kid"] for k in ring.jwks()["keys"]}
    assert first in published  # retired, still published
    # once the retirement is older than the tokens it signed, the next rotation removes it
    info_path = tmp_path / f"{first}.json"
    info = json.loads(info_path.read_text())
    info["retired_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    info_path.write_text(json.dumps(info))
    keyring.rotate(tmp_path, secret, retire_after=60)
    assert not info_path.exists() and not (tmp_path / f"{first}.pem").exists()
    assert first not in {k["kid"] for k in ring.jwks()["keys"]}


def test_two_active_keys_mid_rotation_sign_with_the_newer(tmp_path):
    secret = "k" * 40
    keyring.ensure_keys(tmp_path, secret)
    infos = keyring.list_keys(tmp_path)
    newer = next(i for i in infos if i.alg == "RS256" and i.state == "next")
    keyring._write_info(tmp_path, keyring.KeyInfo(newer.kid, newer.alg, "active", newer.created_at))
    assert keyring.Keyring(tmp_path, secret, retire_after=60).signing_key("RS256").kid == newer.kid


def test_private_keys_need_the_configured_secret(tmp_path):
    import pytest

    keyring.ensure_keys(tmp_path, "k" * 40)
    with pytest.raises(ValueError):
        keyring.Keyring(tmp_path, "another secret " * 3, retire_after=60).signing_key("RS256")
