"""The ``idp`` command: JSON on stdout, errors on stderr with a non-zero exit."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.authn.models import TotpCredential
from idp.cli import cli
from idp.cli import clients
from idp.cli import db
from idp.cli import demo
from idp.cli import keys
from idp.cli import serve
from idp.cli import users
from idp.db import get_session
from idp.oidc.models import Client
from tests.factories import make_user

for _module in (clients, db, demo, keys, serve, users):
    _module.register(cli)


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), obj=_script_info(app), catch_exceptions=False)

    return invoke


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_clients_add_prints_one_json_object(run):
    result = run("clients", "add", "--name", "Licence", "--redirect-uri", "https://rp.example/cb", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"client_id", "client_secret"}


def test_public_client_has_no_secret(run):
    result = run("clients", "add", "--name", "SPA", "--redirect-uri", "https://rp.example/cb", "--auth-method",
                 "none", "--json")
    assert set(json.loads(result.stdout)) == {"client_id"}


@pytest.mark.parametrize("uri", ["http://rp.example/cb", "https://rp.example/cb#frag", "not a uri"])
def test_clients_add_refuses_unsafe_redirect_uris(run, uri):
    result = run("clients", "add", "--name", "Bad", "--redirect-uri", uri, "--json")
    assert result.exit_code != 0 and result.stdout == ""
    assert "https" in result.stderr or "absolute" in result.stderr


def test_private_key_jwt_client_needs_keys(run):
    result = run("clients", "add", "--name", "K", "--redirect-uri", "https://rp.example/cb",
                 "--auth-method", "private_key_jwt", "--json")
    assert result.exit_code != 0 and "jwks" in result.stderr


def test_public_client_cannot_skip_pkce(run):
    result = run("clients", "add", "--name", "K", "--redirect-uri", "https://rp.example/cb",
                 "--auth-method", "none", "--no-pkce", "--json")
    assert result.exit_code != 0


def test_users_create_applies_password_rules(run):
    ok = run("users", "create", "--email", "a@example.com", "--password", "long enough phrase", "--json")
    assert ok.exit_code == 0 and isinstance(json.loads(ok.stdout)["id"], int)
    weak = run("users", "create", "--email", "b@example.com", "--password", "password", "--json")
    assert weak.exit_code != 0 and "common" in weak.stderr
    dup = run("users", "create", "--email", "A@example.com", "--password", "long enough phrase", "--json")
    assert dup.exit_code != 0 and "email_taken" in dup.stderr


def test_demo_seed_is_idempotent(app, run):
    first = json.loads(run("demo", "seed", "--json").stdout)
    second = json.loads(run("demo", "seed", "--json").stdout)
    assert first == second
    saved = json.loads(Path(first["client_file"]).read_text())
    assert saved["client_id"] and saved["client_secret"]
    with app.app_context():  # one demo authenticator each for the citizen and the staff member, however often
        assert get_session().scalar(select(func.count()).select_from(TotpCredential)) == 2
        [eservice] = get_session().scalars(select(Client)).all()
        # Every page of the journey names the waiting e-Service in the reader's language.
        assert (eservice.display_name("th"), eservice.display_name("en")) == (
            "ใบอนุญาตประกอบกิจการร้านอาหาร (ทดลอง)", "Restaurant business licence (demo)")


def test_init_is_safe_to_run_again(run):
    assert run("init", "--json").exit_code == 0
    assert json.loads(run("init", "--json").stdout)["keys_created"] == 0


def test_keys_rotate_publishes_next_before_it_signs(app, client, run):
    before = json.loads(run("keys", "list", "--json").stdout)["keys"]
    next_kids = {k["kid"] for k in before if k["state"] == "next"}
    active_kids = {k["kid"] for k in before if k["state"] == "active"}
    published = {k["kid"] for k in client.get("/jwks.json").json["keys"]}
    assert next_kids <= published  # already published, not yet signing
    run("keys", "rotate", "--json")
    after = {k["kid"]: k["state"] for k in json.loads(run("keys", "list", "--json").stdout)["keys"]}
    assert all(after[kid] == "active" for kid in next_kids)
    assert all(after[kid] == "retired" for kid in active_kids)
    # the running app picks it up without a restart; the retired keys stay published
    published = {k["kid"] for k in client.get("/jwks.json").json["keys"]}
    assert active_kids <= published and next_kids <= published
    with app.app_context():
        assert app.extensions["idp.keyring"].signing_key("RS256").kid in next_kids
    with app.app_context():
        rotated = get_session().scalars(select(AuditEvent).where(AuditEvent.event == "signing_keys_rotated")).all()
        assert len(rotated) == 1 and set(rotated[0].details["active"]) == next_kids


def test_private_keys_are_stored_encrypted_in_the_database_and_no_file_is_written(app, run):
    from idp.oidc.models import SigningKeyRecord

    run("init", "--json")
    with app.app_context():
        pems = get_session().scalars(select(SigningKeyRecord.private_pem)).all()
    assert len(pems) == 6 and all(b"ENCRYPTED PRIVATE KEY" in pem for pem in pems)
    assert not any(Path(app.config["KEYS_DIR"]).glob("*.pem"))


def test_unsafe_setting_refuses_to_start_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    script = Path(sys.executable).parent / "idp"
    env = {**os.environ, "IDP_ISSUER": "http://idp.example.go.th", "IDP_INSTANCE_PATH": str(tmp_path)}
    env.pop("IDP_TEST_DATABASE_URL", None)
    result = subprocess.run([str(script), "init"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "https" in result.stderr


def test_db_prune_deletes_only_what_can_no_longer_be_used(app, client, run):
    import datetime as dt

    from sqlalchemy import func
    from sqlalchemy import select
    from sqlalchemy import update

    from idp.db import get_session
    from idp.db import utc_now
    from idp.oidc.models import AuthorizationCode
    from idp.oidc.models import Token
    from idp.oidc.models import TokenFamily
    from tests.factories import make_client
    from tests.factories import make_user
    from tests.flows import basic
    from tests.flows import full_flow

    make_user(app)
    rp = make_client(app)
    full_flow(client, rp.client.client_id, rp.client_secret)  # short-lived, no refresh token
    live = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    long_ago = utc_now() - dt.timedelta(days=3)
    with app.app_context():
        db = get_session()
        db.execute(update(Token).values(access_expires_at=long_ago))
        db.execute(update(AuthorizationCode).values(expires_at=long_ago))
        db.execute(update(TokenFamily).values(created_at=long_ago))
        db.commit()
    counts = json.loads(run("db", "prune", "--json").stdout)
    assert counts["tokens"] == 1 and counts["authorization_codes"] == 2
    assert counts["token_families"] == 1  # the live refresh token's family stays
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Token)) == 1
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": live["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 200


def test_roles_are_granted_and_revoked_with_an_audit_trail(app, run):
    from tests.factories import make_user

    make_user(app, "officer@example.com")
    def grant():
        return json.loads(run("users", "grant-role", "officer@example.com", "proofing_officer", "--json").stdout)

    assert grant()["changed"] and not grant()["changed"]
    assert run("users", "grant-role", "officer@example.com", "emperor").exit_code != 0
    assert run("users", "grant-role", "nobody@example.com", "admin").exit_code != 0
    assert json.loads(run("users", "revoke-role", "officer@example.com", "proofing_officer", "--json").stdout)[
        "changed"]
    with app.app_context():
        events = [e.event for e in get_session().scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events.count("role_granted") == 1 and events.count("role_revoked") == 1


def test_clients_issue_token_disable_and_enable(app, run):
    issued = json.loads(run("clients", "issue-token", "--agency", "Land Department", "--scope", "email",
                            "--max-ial", "2", "--days", "10", "--json").stdout)
    from idp.oidc.registration import find_initial_token

    with app.app_context():
        row = find_initial_token(get_session(), issued["initial_access_token"])
        assert row is not None and row.agency == "Land Department" and row.max_ial == 2
        assert row.allowed_scopes == ["email", "openid"]
    assert run("clients", "issue-token", "--agency", "X", "--scope", "bogus").exit_code != 0
    added = json.loads(run("clients", "add", "--name", "Shop", "--redirect-uri", "https://shop.example/cb",
                           "--json").stdout)
    assert json.loads(run("clients", "disable", added["client_id"], "--json").stdout)["status"] == "disabled"
    listed = json.loads(run("clients", "list", "--json").stdout)["clients"]
    assert [c["status"] for c in listed if c["client_id"] == added["client_id"]] == ["disabled"]
    assert json.loads(run("clients", "enable", added["client_id"], "--json").stdout)["status"] == "active"
    assert run("clients", "disable", "nope").exit_code != 0


def test_demo_seed_makes_a_staff_member_with_every_role(app, run):
    out = json.loads(run("demo", "seed", "--json").stdout)
    from idp.accounts import roles
    from idp.accounts.service import find_by_email

    with app.app_context():
        db = get_session()
        assert roles.roles_of(db, find_by_email(db, out["staff_email"]).id) == set(roles.ROLES)
    run("demo", "seed", "--json")  # twice is fine


def test_the_last_admin_keeps_the_role(app, run):
    make_user(app, "boss@example.com")
    make_user(app, "deputy@example.com")
    run("users", "grant-role", "boss@example.com", "admin")
    refused = run("users", "revoke-role", "boss@example.com", "admin")
    assert refused.exit_code != 0 and "last_admin" in refused.output
    run("users", "grant-role", "deputy@example.com", "admin")
    assert json.loads(run("users", "revoke-role", "boss@example.com", "admin", "--json").stdout)["changed"]
