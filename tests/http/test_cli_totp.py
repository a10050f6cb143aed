"""``idp users totp-import`` and ``idp users unlock``."""

import base64
import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from idp import clock
from idp.accounts.models import User
from idp.assurance import policy
from idp.authn import throttle
from idp.authn import totp
from idp.cli import cli
from idp.cli import users
from idp.db import get_session
from tests.factories import make_user

users.register(cli)

SECRET = base64.b32encode(b"12345678901234567890").decode()



@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)

    return invoke


def test_totp_import_then_a_code_verifies(app, run):
    user_id = make_user(app, "token@example.com").id
    spaced = " ".join(SECRET[i:i + 4] for i in range(0, len(SECRET), 4))
    result = run("users", "totp-import", "--email", "Token@Example.com", "--secret", spaced, "--name", "Key fob",
                 "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["user"] == "token@example.com" and data["name"] == "Key fob" and isinstance(data["totp_id"], int)
    clock.advance(59 - clock.timestamp())  # RFC 6238 appendix B: T=59 gives 94287082
    with app.app_context():
        db = get_session()
        user = db.get(User, user_id)
        assert [c.id for c in totp.list_for(db, user_id)] == [data["totp_id"]]
        assert totp.verify(db, user, "287082", config=app.config) is not None
        assert totp.verify(db, user, "287082", config=app.config) is None


def test_totp_import_default_name_and_text_output(app, run):
    make_user(app, "token@example.com")
    result = run("users", "totp-import", "--email", "token@example.com", "--secret", SECRET)
    assert result.exit_code == 0
    assert "name: Hardware token" in result.stdout.splitlines()


@pytest.mark.parametrize("email,secret,code", [
    ("nobody@example.com", SECRET, "no_such_user"),
    ("token@example.com", "not-base32!", "bad_secret"),
    ("token@example.com", "GEZDGNBV", "bad_secret"),
])
def test_totp_import_errors(app, run, email, secret, code):
    user_id = make_user(app, "token@example.com").id
    result = run("users", "totp-import", "--email", email, "--secret", secret, "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert code in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert secret not in result.stderr
    with app.app_context():
        assert totp.list_for(get_session(), user_id) == []


def test_unlock_lifts_a_suspended_factor(app, run):
    app.config["THROTTLE_SUSPEND_AFTER"] = 6
    user_id = make_user(app, "locked@example.com").id
    key = throttle.account_key(str(user_id), policy.TOTP)
    with app.app_context():
        db = get_session()
        for _ in range(6):
            verdict = throttle.failure(db, [key], config=app.config, factor=policy.TOTP, user_id=user_id)
            clock.advance(verdict.retry_after)
        assert throttle.check(db, [key]).suspended
    result = run("users", "unlock", "--email", "locked@example.com", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"user": "locked@example.com", "lifted": ["totp"]}
    with app.app_context():
        assert throttle.check(get_session(), [key]).allowed


def test_unlock_unknown_email(run):
    result = run("users", "unlock", "--email", "nobody@example.com", "--json")
    assert result.exit_code == 1 and result.stdout == "" and "no_such_user" in result.stderr
