import pytest

from idp import create_app
from idp.config import ConfigError
from idp.config import is_loopback_host


@pytest.mark.parametrize("issuer", ["http://idp.example.go.th", "ftp://localhost", "http://localhost/?x=1",
                                    "https://idp.example#frag", "localhost:5000"])
def test_unsafe_issuer_refuses_to_start(tmp_path, issuer):
    with pytest.raises(ConfigError):
        create_app({"ISSUER": issuer, "SECRET_KEY": "s" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                    "KEYS_DIR": str(tmp_path)})


def test_short_secret_key_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": "short", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "KEYS_DIR": str(tmp_path)})


def test_https_issuer_makes_cookies_secure(tmp_path):
    app = create_app({"ISSUER": "https://idp.example.go.th", "SECRET_KEY": "s" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "KEYS_DIR": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_ISSUER", "http://127.0.0.1:8080")
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "KEYS_DIR": str(tmp_path)})
    assert app.config["ISSUER"] == "http://127.0.0.1:8080"
    # a secret key is generated into the instance folder on first run, and kept
    secret = (tmp_path / "inst" / "secret_key").read_text()
    assert app.config["SECRET_KEY"] == secret and len(secret) >= 32
    assert create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "KEYS_DIR": str(tmp_path)}).config[
        "SECRET_KEY"] == secret


@pytest.mark.parametrize("host,loopback", [("localhost", True), ("idp.localhost", True), ("127.0.0.1", True),
                                           ("[::1]", True), ("10.0.0.1", False), ("localhost.example", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


def test_list_settings_accept_plain_strings_and_trust_anchors_must_exist(tmp_path, monkeypatch):
    anchor = tmp_path / "root.pem"
    anchor.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("IDP_WEBAUTHN_TRUST_ANCHORS", str(anchor))
    monkeypatch.setenv("IDP_WEBAUTHN_AAGUIDS", "aaguid-1, aaguid-2")
    app = create_app({"SECRET_KEY": "k" * 40, "KEYS_DIR": str(tmp_path / "keys"),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["WEBAUTHN_TRUST_ANCHORS"] == [str(anchor)]
    assert app.config["WEBAUTHN_AAGUIDS"] == ["aaguid-1", "aaguid-2"]
    monkeypatch.setenv("IDP_WEBAUTHN_TRUST_ANCHORS", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="WEBAUTHN_TRUST_ANCHORS"):
        create_app({"SECRET_KEY": "k" * 40, "KEYS_DIR": str(tmp_path / "keys"),
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_outbound_loopback_follows_the_issuer_and_is_refused_on_a_public_one(tmp_path):
    base = {"SECRET_KEY": "s" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "KEYS_DIR": str(tmp_path)}
    assert create_app({**base, "ISSUER": "http://localhost:5000"}).config["OUTBOUND_ALLOW_LOOPBACK"] is True
    assert create_app({**base, "ISSUER": "https://idp.example.go.th"}).config["OUTBOUND_ALLOW_LOOPBACK"] is False
    assert create_app({**base, "ISSUER": "http://localhost", "OUTBOUND_ALLOW_LOOPBACK": "false"}
                      ).config["OUTBOUND_ALLOW_LOOPBACK"] is False
    with pytest.raises(ConfigError, match="OUTBOUND_ALLOW_LOOPBACK"):
        create_app({**base, "ISSUER": "https://idp.example.go.th", "OUTBOUND_ALLOW_LOOPBACK": True})
