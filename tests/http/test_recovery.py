"""Account recovery by email (NIST SP 800-63B-4 §4.2): "Forgot your password?" end to end.

A single-use link valid 15 minutes, stored as a digest; the same answer for unknown addresses;
throttled per account and per address; the second factor (or a recovery code, or a passkey) after
the link; every other session ended and every token revoked; an AAL1 session afterwards; a proofed
account that lost every factor drops to IAL1.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import time
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp import audit
from idp.accounts.models import AuthSession
from idp.accounts.models import PasswordReset
from idp.accounts.models import User
from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn import recovery as recovery_codes
from idp.authn import totp
from idp.authn.models import RecoveryCode
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.crypto import hash_secret
from idp.db import get_session
from idp.oidc.models import Token
from idp.proofing.models import VerifiedIdentity
from tests.factories import PASSWORD
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import full_flow
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in
from tests.support.soft_authenticator import SoftAuthenticator

EN = {"Accept-Language": "en"}
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW_PASSWORD = "a brand new passphrase"
ADDRESS = "198.51.100.7"


@pytest.fixture
def user(app):
    return make_user(app)


def forgot(client, address="citizen@example.com", *, ip=ADDRESS):
    page = client.get("/password/forgot", headers=EN)
    assert page.status_code == 200
    return client.post("/password/forgot", headers=EN, environ_base={"REMOTE_ADDR": ip},
                       data={"email": address, "csrf_token": csrf_of(page.text)})


def mails_to(app, address):
    folder = Path(app.config["MAIL_OUTBOX_DIR"])
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def text_of(message):
    return message.get_body(("plain",)).get_content()


def reset_link(app, address="citizen@example.com"):
    """The path of the newest reset link sent to ``address``."""
    links = [m for m in (re.search(r"http://localhost(/password/reset/\S+)", text_of(msg))
                         for msg in mails_to(app, address)) if m]
    assert links, "no reset link was sent"
    return links[-1].group(1)


def open_link(client, path):
    page = client.get(path, headers=EN)
    assert page.status_code == 200, page.text
    return client.post(path, headers=EN, data={"csrf_token": csrf_of(page.text)})


def new_password(client, password=NEW_PASSWORD):
    page = client.get("/password/reset", headers=EN)
    assert page.status_code == 200 and 'autocomplete="new-password"' in page.text, page.text
    return client.post("/password/reset", headers=EN, data={"csrf_token": csrf_of(page.text), "step": "password",
                                                            "password": password})


def factor(client, method, code):
    page = client.get("/password/reset", headers=EN)
    field = "recovery_code" if method == "recovery" else "code"
    return client.post("/password/reset", headers=EN, data={"csrf_token": csrf_of(page.text), "step": "factor",
                                                            "method": method, field: code})


def events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)
                                          .order_by(AuditEvent.id)))


def password_works(app, client, password):
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    response = sign_in(client, password=password)
    return response.status_code == 302


def session_rows(app, user_id):
    with app.app_context():
        return list(get_session().scalars(select(AuthSession).where(AuthSession.user_id == user_id)))


def with_totp(app, *, ial=1):
    with app.app_context():
        db = get_session()
        citizen = find_by_email(db, "citizen@example.com")
        citizen.ial = ial
        db.commit()
        totp.import_secret(db, citizen, SECRET, name="Phone", config=app.config)
        return citizen.id


def test_the_sign_in_page_offers_the_way_back(client):
    page = client.get("/signin?next=/services", headers=EN).text
    assert 'href="/password/forgot?next=/services"' in page and "Forgot your password?" in page


def test_forgotten_password_end_to_end_with_a_single_use_link(app, client, user):
    sent = forgot(client)
    assert sent.status_code == 302 and sent.headers["Location"] == "/password/forgot/sent"
    assert "If an account uses the address" in client.get("/password/forgot/sent", headers=EN).text
    path = reset_link(app)
    token = path.rsplit("/", 1)[1]
    with app.app_context():
        [row] = get_session().scalars(select(PasswordReset)).all()
        assert row.token_hash == hash_secret(token) and token not in row.token_hash  # a digest only
        assert dt.timedelta(minutes=14) < row.expires_at - row.created_at <= dt.timedelta(minutes=15)
    assert "15 minutes" in text_of(mails_to(app, "citizen@example.com")[0])
    # Opening the page does not spend the link (a mail scanner may fetch it); the button does.
    assert client.get(path).status_code == 200 and client.get(path).status_code == 200
    opened = open_link(client, path)
    assert opened.status_code == 302 and opened.headers["Location"] == "/password/reset"
    done = new_password(client)
    assert done.status_code == 302 and done.headers["Location"] == "/password/reset/done"
    page = client.get("/password/reset/done", headers=EN)
    assert page.status_code == 200 and "Your password was changed" in page.text
    # Signed in, at AAL1.
    [current] = [s for s in session_rows(app, user.id) if s.ended_at is None]
    assert current.amr == ["pwd"] and current.acr.endswith("aal1")
    # The link works once: a second use (page or button) fails.
    again = client.get(path, headers=EN)
    assert again.status_code == 400 and "expired or was already used" in again.text
    assert client.post(path, data={"csrf_token": csrf_of(again.text)}).status_code == 400
    assert [e.details["reason"] for e in events(app, "password_reset_refused")] == ["used"]  # the button's
    # The new password works, the old one does not; the owner was told.
    assert not password_works(app, client, PASSWORD)
    assert password_works(app, client, NEW_PASSWORD)
    subjects = [m["Subject"] for m in mails_to(app, "citizen@example.com")]
    assert subjects == ["Reset your Digital ID password", "Your Digital ID password was reset"]
    for name in ("password_reset_requested", "password_reset_link_opened", "password_reset_completed"):
        assert [e.user_id for e in events(app, name)] == [user.id], name


def reset_from_an_eservice(app, client, **params):
    """An e-Service's request sends the person to sign in; they take "Forgot your password?" there
    and finish the reset. :returns: the request's URL and where the done page's "Continue" goes."""
    rp = make_client(app)
    signin = client.get(authorize_url(rp.client.client_id, pkce_pair()[1], **params)).headers["Location"]
    request_url = query_of(signin)["next"]
    page = client.get("/password/forgot", query_string={"next": request_url}, headers=EN)
    client.post("/password/forgot", headers=EN, data={"email": "citizen@example.com", "next": request_url,
                                                      "csrf_token": csrf_of(page.text)})
    open_link(client, reset_link(app))
    assert new_password(client).headers["Location"] == "/password/reset/done"
    done = client.get("/password/reset/done", headers=EN).text
    return request_url, unescape(re.search(r'<a class="button" href="([^"]+)"', done).group(1))


def test_a_reset_started_from_an_eservice_is_the_sign_in_its_request_asked_for(app, client, user):
    """``prompt=login``: choosing the new password was the sign-in; the request goes on to consent."""
    request_url, continue_to = reset_from_an_eservice(app, client, prompt="login")
    assert continue_to == request_url
    consent = client.get(continue_to, headers=EN)
    assert consent.status_code == 200 and 'name="decision"' in consent.text
    code = client.post(continue_to, data={"decision": "allow", "csrf_token": csrf_of(consent.text)})
    assert "code" in query_of(code.headers["Location"])
    # Once only: the next request with prompt=login asks for the password again.
    again = client.get(authorize_url(make_client(app, name="Another").client.client_id, pkce_pair()[1],
                                     prompt="login"))
    assert again.headers["Location"].startswith("/signin?")


def test_every_page_of_a_reset_started_from_an_eservice_names_it(app, client, user):
    with_totp(app)
    rp = make_client(app, name="Restaurant licence")
    signin = client.get(authorize_url(rp.client.client_id, pkce_pair()[1])).headers["Location"]
    request_url = query_of(signin)["next"]
    page = client.get("/password/forgot", query_string={"next": request_url}, headers=EN)
    sent = client.post("/password/forgot", headers=EN, data={"email": "citizen@example.com", "next": request_url,
                                                             "csrf_token": csrf_of(page.text)})
    pages = {"forgot": page.text, "sent": client.get(sent.headers["Location"], headers=EN).text}
    path = reset_link(app)
    pages["link"] = client.get(path, headers=EN).text
    elsewhere = app.test_client().get(path, headers=EN).text  # a browser that did not come from the e-Service
    assert "Reset your password" in elsewhere and "You are on your way" not in elsewhere
    open_link(client, path)
    pages["factor"] = client.get("/password/reset", headers=EN).text
    factor(client, "totp", totp.code_at(SECRET, totp.current_step()))
    pages["new password"] = client.get("/password/reset", headers=EN).text
    new_password(client)
    pages["done"] = client.get("/password/reset/done", headers=EN).text
    for name, text in pages.items():
        assert "You are on your way to Restaurant licence." in text, name


def test_an_expired_link_fails(app, client, user, clock):
    forgot(client)
    path = reset_link(app)
    clock.advance(15 * 60 + 1)
    page = client.get(path, headers=EN)
    assert page.status_code == 400 and "expired or was already used" in page.text
    assert client.post(path, data={"csrf_token": csrf_of(page.text)}).status_code == 400
    assert client.get("/password/reset").status_code == 302  # nothing was opened
    assert [e.details["reason"] for e in events(app, "password_reset_refused")] == ["expired"]
    with app.app_context():
        assert get_session().get(User, user.id).password_hash == user.password_hash


def test_the_steps_after_the_link_expire_too(app, client, user, clock):
    forgot(client)
    open_link(client, reset_link(app))
    clock.advance(15 * 60 + 1)
    response = client.get("/password/reset")
    assert response.status_code == 302 and response.headers["Location"] == "/password/forgot"


@pytest.mark.parametrize("path", ["/password/reset/not-a-real-token", "/password/reset/" + "x" * 43])
def test_a_made_up_link_fails(client, path):
    assert client.get(path).status_code == 400


def test_only_the_newest_link_works(app, client, user):
    forgot(client)
    first = reset_link(app)
    forgot(client)
    second = reset_link(app)
    assert first != second
    assert client.get(first).status_code == 400
    assert open_link(client, second).status_code == 302


def test_an_unknown_email_gets_the_same_answer_and_no_mail(app, client, user):
    known, unknown = forgot(client, "citizen@example.com"), forgot(client, "nobody@example.com")
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert mails_to(app, "nobody@example.com") == []
    assert len(mails_to(app, "citizen@example.com")) == 1
    requested = events(app, "password_reset_requested")
    assert [(e.user_id, e.details["account"]) for e in requested] == [(user.id, True), (None, False)]
    assert "nobody" not in str([e.details for e in requested])


def test_a_malformed_address_is_refused_on_the_form(client):
    response = forgot(client, "not an address")
    assert response.status_code == 400 and "Enter a valid email address" in response.text


def test_reset_requests_are_throttled_per_account_alike_for_unknown_addresses(app, client, user, clock):
    app.config["THROTTLE_FREE_FAILURES"] = 2
    for address in ("citizen@example.com", "nobody@example.com"):
        started = time.monotonic()
        for i in range(3):  # the free ones, then one that starts the delays
            assert forgot(client, address, ip=f"192.0.2.{i + 10}").status_code == 302
        clock.advance(-(time.monotonic() - started))  # as if they came at once, however slow this machine is
        refused = forgot(client, address, ip="192.0.2.99")  # a new address does not help
        assert refused.status_code == 429 and "Try again in" in refused.text
    assert len(mails_to(app, "citizen@example.com")) == 3
    assert len(events(app, "password_reset_refused")) == 2
    # A quiet day later the account may ask again.
    clock.advance(24 * 3600 + 1)
    assert forgot(client, "citizen@example.com").status_code == 302


def test_reset_requests_are_throttled_per_client_address(app, client, user, clock):
    app.config["THROTTLE_IP_FREE_FAILURES"] = 3
    started = time.monotonic()
    for i in range(4):
        assert forgot(client, f"person{i}@example.com").status_code == 302
    clock.advance(-(time.monotonic() - started))
    refused = forgot(client, "citizen@example.com")
    assert refused.status_code == 429 and mails_to(app, "citizen@example.com") == []
    assert forgot(client, "citizen@example.com", ip="192.0.2.50").status_code == 302


def test_a_second_factor_is_required_after_the_link(app, client, user, clock):
    with_totp(app)
    forgot(client)
    open_link(client, reset_link(app))
    page = client.get("/password/reset", headers=EN)
    assert "Confirm it is you" in page.text and 'autocomplete="new-password"' not in page.text
    assert 'autocomplete="one-time-code"' in page.text and "I cannot use any of these" in page.text
    # The new password cannot be posted past the factor.
    skipped = client.post("/password/reset", data={"csrf_token": csrf_of(page.text), "step": "password",
                                                   "password": NEW_PASSWORD})
    assert skipped.status_code == 400
    assert factor(client, "totp", "000000").status_code == 400
    with app.app_context():
        assert get_session().get(User, user.id).password_hash == user.password_hash
    clock.advance(30)
    ok = factor(client, "totp", totp.code_at(SECRET, totp.current_step()))
    assert ok.status_code == 302 and ok.headers["Location"] == "/password/reset"
    assert new_password(client).status_code == 302
    # AAL1 afterwards, although a second factor was shown: changing authenticators asks again.
    [current] = [s for s in session_rows(app, user.id) if s.ended_at is None]
    assert current.amr == ["pwd"] and current.acr.endswith("aal1")
    assert "/signin/more" in client.get("/security/totp?new=1").headers["Location"]
    assert [e.details["factor"] for e in events(app, "password_reset_factor_verified")] == ["totp"]
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(TotpCredential)) == 1  # kept


def test_factor_guesses_after_the_link_count_against_the_sign_in_throttle(app, client, user):
    app.config["THROTTLE_FREE_FAILURES"] = 2
    with_totp(app)
    forgot(client)
    open_link(client, reset_link(app))
    for _ in range(2):
        assert factor(client, "totp", "000000").status_code == 400
    assert factor(client, "totp", "000000").status_code == 429
    assert events(app, "throttled")


def test_a_recovery_code_can_stand_in_for_the_second_factor(app, client, user):
    with_totp(app)
    with app.app_context():
        codes = recovery_codes.generate(get_session(), find_by_email(get_session(), "citizen@example.com"))
    forgot(client)
    open_link(client, reset_link(app))
    assert factor(client, "recovery", "aaaa-bbbb-cccc").status_code == 400
    assert factor(client, "recovery", codes[0]).status_code == 302
    assert new_password(client).status_code == 302
    assert password_works(app, client, NEW_PASSWORD)
    with app.app_context():
        assert recovery_codes.remaining(get_session(), user.id) == 9


def test_a_passkey_can_stand_in_for_the_second_factor(app, client, user):
    device = SoftAuthenticator()
    sign_in(client)
    token = csrf_of(client.get("/signin").text)
    options = client.post("/webauthn/register/options", json={"kind": "passkey"}, headers={"X-CSRFToken": token})
    client.post("/webauthn/register", json={"credential": device.create(options.json), "name": "Phone"},
                headers={"X-CSRFToken": token})
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    forgot(client)
    open_link(client, reset_link(app))
    page = client.get("/password/reset", headers=EN)
    assert "data-webauthn-recover" in page.text
    token = csrf_of(page.text)
    options = client.post("/password/reset/passkey/options", json={}, headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.text
    done = client.post("/password/reset/passkey", json={"credential": device.get(options.json)},
                       headers={"X-CSRFToken": token})
    assert done.status_code == 200 and done.json["redirect"] == "/password/reset"
    assert new_password(client).status_code == 302
    assert [e.details["factor"] for e in events(app, "password_reset_factor_verified")] == ["webauthn"]


def test_a_proofed_account_that_lost_every_factor_drops_to_ial1_and_is_told(app, client, user):
    uid = with_totp(app, ial=2)
    with app.app_context():
        db = get_session()
        db.add(VerifiedIdentity(user_id=uid, ial=2, claims_encrypted=b"x", evidence=[], trust_framework="nist_800_63A",
                                verified_at=dt.datetime.now(dt.UTC)))
        db.commit()
    forgot(client)
    open_link(client, reset_link(app))
    lost = client.get("/password/reset/lost", headers=EN)
    assert lost.status_code == 200 and "Your identity will no longer be verified" in lost.text
    assert client.post("/password/reset/lost", data={"csrf_token": csrf_of(lost.text), "confirm": "yes"}
                       ).status_code == 302
    assert new_password(client).status_code == 302
    done = client.get("/password/reset/done", headers=EN).text
    assert "Your identity is no longer verified" in done and 'href="/proofing/start"' in done
    with app.app_context():
        db = get_session()
        assert db.get(User, uid).ial == 1
        assert db.scalar(select(func.count()).select_from(VerifiedIdentity)) == 0
        for model in (TotpCredential, RecoveryCode, WebAuthnCredential):
            assert db.scalar(select(func.count()).select_from(model)) == 0
    [lowered] = events(app, "ial_lowered")
    assert (lowered.user_id, lowered.details["before"], lowered.details["after"]) == (uid, 2, 1)
    notice = text_of(mails_to(app, "citizen@example.com")[-1])
    assert "no longer verified" in notice and "were removed" in notice


def test_a_proofed_account_that_shows_its_factor_keeps_its_ial(app, client, user, clock):
    uid = with_totp(app, ial=2)
    forgot(client)
    open_link(client, reset_link(app))
    clock.advance(30)
    factor(client, "totp", totp.code_at(SECRET, totp.current_step()))
    new_password(client)
    with app.app_context():
        assert get_session().get(User, uid).ial == 2
    assert events(app, "ial_lowered") == []


def test_an_account_without_a_second_factor_is_not_asked_for_one(app, client, user):
    forgot(client)
    open_link(client, reset_link(app))
    assert client.get("/password/reset/lost").headers["Location"] == "/password/reset"


def test_a_new_password_ends_every_other_session_and_revokes_refresh_tokens(app, user):
    rp = make_client(app)
    other = app.test_client()
    body = full_flow(other, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    assert "refresh_token" in body
    assert other.get("/security").status_code == 200
    client = app.test_client()
    forgot(client)
    open_link(client, reset_link(app))
    assert new_password(client).status_code == 302
    # The other browser's next request is signed out; the e-Service's refresh token no longer works.
    assert other.get("/security").headers["Location"].startswith("/signin")
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    with app.app_context():
        assert all(t.revoked_at is not None for t in get_session().scalars(select(Token)))
    assert client.get("/security").status_code == 200  # this browser: signed in
    [done] = events(app, "password_reset_completed")
    assert done.details["sessions_ended"] == 1 and done.details["tokens_revoked"] == 1


def test_the_reset_forms_need_csrf(app, client, user):
    assert client.post("/password/forgot", data={"email": "citizen@example.com"}).status_code == 400
    forgot(client)
    path = reset_link(app)
    assert client.post(path).status_code == 400
    open_link(client, path)
    assert client.post("/password/reset", data={"step": "password", "password": NEW_PASSWORD}).status_code == 400


def test_recovery_pages_label_every_input_with_autocomplete(app, client, user):
    with_totp(app)
    pages = [client.get("/password/forgot").text]
    forgot(client)
    open_link(client, reset_link(app))
    pages.append(client.get("/password/reset").text)
    for html in pages:
        for tag in re.findall(r"<input [^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            input_id = re.search(r'id="([^"]+)"', tag).group(1)
            assert f'<label for="{input_id}">' in html and "autocomplete=" in tag, tag
    assert 'autocomplete="email"' in pages[0]


def test_audit_events_name_each_step(app):
    names = {e.value for e in audit.Event}
    assert {"password_reset_requested", "password_reset_link_opened", "password_reset_factor_verified",
            "password_reset_factor_lost", "password_reset_completed", "password_reset_refused",
            "ial_lowered"} <= names
