"""The Security page: password change, sessions (listed, signed out one by one or all others),
confirmation before removing the last second factor, and the recovery-code reminder."""

from __future__ import annotations

import re
import time
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from sqlalchemy import select

from idp.accounts import sessions
from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn import totp
from idp.authn.models import TotpCredential
from idp.db import get_session
from idp.oidc.models import Token
from tests.factories import PASSWORD
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import full_flow
from tests.flows import sign_in
from tests.support.soft_authenticator import SoftAuthenticator

EN = {"Accept-Language": "en"}
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW_PASSWORD = "a brand new passphrase"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Mobile Safari/537.36")


@pytest.fixture
def user(app):
    return make_user(app)


def browser(app, user_agent="", ip="127.0.0.1"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": ip})
    return client


def signed_in(client) -> bool:
    return client.get("/security").status_code == 200


def post(client, path, **data):
    page = client.get("/security", headers=EN)
    return client.post(path, headers=EN, data={"csrf_token": csrf_of(page.text), **data})


def change(client, **data):
    page = client.get("/security/password", headers=EN)
    assert page.status_code == 200, page.headers
    return client.post("/security/password", headers=EN, data={"csrf_token": csrf_of(page.text), **data})


def events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def password_hash(app, email="citizen@example.com"):
    with app.app_context():
        return find_by_email(get_session(), email).password_hash


def add_totp(app):
    with app.app_context():
        db = get_session()
        return totp.import_secret(db, find_by_email(db, "citizen@example.com"), SECRET, name="Phone",
                                  config=app.config).id


def step_up(client, clock):
    step = client.get("/signin/more?aal=2&next=/security")
    clock.advance(30)
    done = client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(step.text), "next": "/security",
                                                   "method": "totp", "code": totp.code_at(SECRET, totp.current_step())})
    assert done.status_code == 302, done.text


def handles(html):
    return re.findall(r'name="session" value="([^"]+)"', html)


# -- password change ----------------------------------------------------------------------------------


def test_password_change_refuses_a_wrong_current_password(app, client, user):
    sign_in(client)
    page = client.get("/security/password", headers=EN).text
    assert 'autocomplete="current-password"' in page and 'autocomplete="new-password"' in page
    for input_id in re.findall(r'<input id="([^"]+)"', page):
        assert f'<label for="{input_id}">' in page
    wrong = change(client, current_password="not my password", new_password=NEW_PASSWORD)
    assert wrong.status_code == 400 and "Your current password is not correct." in wrong.text
    assert password_hash(app) == user.password_hash
    missing = change(client, new_password=NEW_PASSWORD)
    assert missing.status_code == 400 and password_hash(app) == user.password_hash
    done = change(client, current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/security"
    assert "Your password was changed." in client.get("/security", headers=EN).text
    assert password_hash(app) != user.password_hash
    [event] = events(app, "password_changed")
    assert event.user_id == user.id and event.details["added"] is False
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert sign_in(client, password=PASSWORD).status_code == 200  # the old one no longer works
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("new,fragment", [("short", "at least 8"), ("password", "too common")])
def test_password_change_applies_the_password_rules(app, client, user, new, fragment):
    sign_in(client)
    response = change(client, current_password=PASSWORD, new_password=new)
    assert response.status_code == 400 and fragment in response.text
    assert password_hash(app) == user.password_hash


def test_wrong_current_passwords_count_against_the_sign_in_throttle(app, client, user, clock):
    app.config["THROTTLE_FREE_FAILURES"] = 2
    sign_in(client)
    started = time.monotonic()
    for _ in range(2):
        assert change(client, current_password="wrong guess", new_password=NEW_PASSWORD).status_code == 400
    # The third wrong guess starts the delays, as at sign-in; even the right password then waits.
    assert change(client, current_password="wrong guess", new_password=NEW_PASSWORD).status_code == 429
    clock.advance(-(time.monotonic() - started))
    blocked = change(client, current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert blocked.status_code == 429 and "Try again in" in blocked.text
    assert password_hash(app) == user.password_hash


def test_aal2_in_the_last_15_minutes_stands_in_for_the_current_password(app, client, user, clock):
    add_totp(app)
    sign_in(client)
    step_up(client, clock)
    page = client.get("/security/password", headers=EN).text
    assert 'name="current_password"' not in page
    assert change(client, new_password=NEW_PASSWORD).status_code == 302
    clock.advance(16 * 60)  # still AAL2, but not recently
    assert 'name="current_password"' in client.get("/security/password").text
    refused = change(client, new_password="yet another passphrase")
    assert refused.status_code == 400


def test_an_aal1_session_of_an_account_with_a_second_factor_steps_up_first(app, client, user):
    add_totp(app)
    sign_in(client)
    response = client.get("/security/password")
    assert response.status_code == 302 and "/signin/more" in response.headers["Location"]


def test_a_password_change_signs_out_the_other_browsers_and_revokes_their_tokens(app, user):
    rp = make_client(app)
    other = browser(app)
    body = full_flow(other, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    client = browser(app)
    sign_in(client)
    assert change(client, current_password=PASSWORD, new_password=NEW_PASSWORD).status_code == 302
    assert signed_in(client) and not signed_in(other)
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 400
    [event] = events(app, "sessions_ended")
    assert event.details == {"reason": "password_changed", "sessions_ended": 1, "tokens_revoked": 1}


def test_a_passwordless_account_can_add_a_password(app, client, user):
    device = SoftAuthenticator()
    sign_in(client)
    token = csrf_of(client.get("/signin").text)
    options = client.post("/webauthn/register/options", json={"kind": "passkey"}, headers={"X-CSRFToken": token})
    client.post("/webauthn/register", json={"credential": device.create(options.json), "name": "Phone"},
                headers={"X-CSRFToken": token})
    with app.app_context():
        db = get_session()
        db.get(User, user.id).password_hash = None
        db.commit()
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    options = client.post("/webauthn/authenticate/options", json={}, headers={"X-CSRFToken": token})
    client.post("/webauthn/authenticate", json={"credential": device.get(options.json), "next": "/"},
                headers={"X-CSRFToken": token})
    page = client.get("/security", headers=EN).text
    assert "You sign in with passkeys only." in page and 'href="/security/password">Add a password' in page
    form = client.get("/security/password", headers=EN).text
    assert "Add a password" in form and 'name="current_password"' not in form
    assert change(client, new_password=NEW_PASSWORD).status_code == 302
    assert events(app, "password_changed")[0].details["added"] is True
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


# -- sessions ------------------------------------------------------------------------------------------


def test_sessions_show_browser_place_and_times_in_the_persons_zone(app, user):
    laptop = browser(app, FIREFOX, "10.0.0.5")
    phone = browser(app, CHROME_ANDROID, "127.0.0.1")
    sign_in(laptop)
    sign_in(phone)
    page = laptop.get("/security", headers=EN).text
    assert "Firefox on Linux" in page and "Chrome on Android" in page
    assert "A private network" in page and "This computer" in page
    assert "This browser" in page and len(handles(page)) == 1  # the other one can be signed out
    assert "Asia/Bangkok" in page
    with app.app_context():
        rows = get_session().scalars(select(AuthSession).order_by(AuthSession.created_at)).all()
        assert all(row.id not in page for row in rows)  # a session id is the cookie's secret
        assert rows[0].details["device"] == {"browser": "Firefox", "system": "Linux", "place": "private"}
        created = rows[0].created_at
    assert format_datetime(created, "medium", tzinfo=ZoneInfo("Asia/Bangkok"), locale="en") in page
    with app.app_context():
        db = get_session()
        db.get(User, user.id).time_zone = "Europe/London"
        db.commit()
    page = laptop.get("/security", headers=EN).text
    assert format_datetime(created, "medium", tzinfo=ZoneInfo("Europe/London"), locale="en") in page
    assert "Europe/London" in page


def test_signing_out_one_session_ends_it_in_the_other_browser(app, user):
    rp = make_client(app)
    mine, other = browser(app, FIREFOX), browser(app, CHROME_ANDROID)
    body = full_flow(other, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    sign_in(mine)
    page = mine.get("/security", headers=EN).text
    [handle] = handles(page)
    ended = post(mine, "/security/sessions/end", session=handle)
    assert ended.status_code == 302 and ended.headers["Location"] == "/security"
    assert "That browser was signed out." in mine.get("/security", headers=EN).text
    # The other browser's very next request is signed out; the e-Service's tokens from it are revoked.
    response = other.get("/security")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    refreshed = mine.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                          headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    with app.app_context():
        assert all(t.revoked_at is not None for t in get_session().scalars(select(Token)))
    assert signed_in(mine)
    [event] = events(app, "session_ended")
    assert event.user_id == user.id and event.details["tokens_revoked"] == 1


def test_signing_out_all_other_sessions(app, user):
    mine, second, third = browser(app), browser(app), browser(app)
    for client in (mine, second, third):
        sign_in(client)
    assert len(handles(mine.get("/security").text)) == 2
    response = post(mine, "/security/sessions/end-others")
    assert response.status_code == 302
    assert "2 other browsers were signed out." in mine.get("/security", headers=EN).text
    assert signed_in(mine) and not signed_in(second) and not signed_in(third)
    assert handles(mine.get("/security").text) == []
    assert "Sign out everywhere else" not in mine.get("/security", headers=EN).text


def test_someone_elses_session_cannot_be_ended(app, user):
    make_user(app, "other@example.com")
    theirs = browser(app)
    sign_in(theirs, email="other@example.com")
    with app.app_context():
        [row] = get_session().scalars(select(AuthSession)).all()
        handle = sessions.handle_of(row.id, config=app.config)
    mine = browser(app)
    sign_in(mine)
    post(mine, "/security/sessions/end", session=handle)
    assert "That session had already ended." in mine.get("/security", headers=EN).text
    assert signed_in(theirs)


def test_ending_sessions_needs_csrf_and_a_sign_in(app, client, user):
    assert client.post("/security/sessions/end-others").status_code == 400  # no CSRF token
    page = client.get("/signin")
    response = client.post("/security/sessions/end-others", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


# -- confirmations and the reminder ----------------------------------------------------------------------


def test_removing_the_last_second_factor_asks_first_also_below_ial2(app, client, user, clock):
    ident = add_totp(app)
    sign_in(client)
    step_up(client, clock)
    ask = post(client, "/security/remove", kind="totp", id=str(ident))
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    assert "This is your last second factor" in ask.text and 'href="/security">Keep it' in ask.text
    with app.app_context():
        assert get_session().get(TotpCredential, ident) is not None
    done = client.post("/security/remove", data={"csrf_token": csrf_of(ask.text), "kind": "totp", "id": str(ident),
                                                 "confirm": "yes"})
    assert done.status_code == 302
    with app.app_context():
        assert get_session().get(TotpCredential, ident) is None


def test_the_page_reminds_when_no_recovery_codes_are_left(app, client, user, clock):
    sign_in(client)
    assert "You have no recovery codes left." not in client.get("/security", headers=EN).text  # no 2nd factor
    add_totp(app)
    step_up(client, clock)
    assert "You have no recovery codes left." in client.get("/security", headers=EN).text
    post(client, "/security/recovery-codes")
    assert "You have no recovery codes left." not in client.get("/security", headers=EN).text


def test_the_pages_render_in_thai(app, client, user):
    th = {"Accept-Language": "th"}
    sign_in(client)
    for path in ("/security", "/security/password", "/password/forgot", "/password/forgot/sent"):
        response = client.get(path, headers=th)
        assert response.status_code == 200 and '<html lang="th">' in response.text, path
