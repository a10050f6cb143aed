"""The support console: only the support role opens it; finding an account shows states and counts but
nothing proofing established; disabling stops sign-in, sessions and tokens; enabling lets the person
back in; a reset removes every second factor but keeps the password; every view and change is audited
with the staff member as actor; staff accounts and one's own are refused."""

import datetime as dt
import json
import os
import re

import pytest
from sqlalchemy import select

from idp.accounts.models import AuthSession
from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn import recovery
from idp.authn import throttle
from idp.authn import totp
from idp.authn.models import RecoveryCode
from idp.authn.models import Throttle
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.db import get_session
from idp.oidc.models import Token
from idp.proofing import service as proofing
from idp.proofing.models import ProofingCase
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import exchange
from tests.flows import full_flow
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in
from tests.http.test_officer import mails
from tests.http.test_officer import national_id
from tests.http.test_officer import seed_case
from tests.staff import admin_client
from tests.staff import browser
from tests.staff import make_staff
from tests.staff import post
from tests.staff import staff_client

PERSON = "citizen@example.com"
SUPPORT = "support@example.com"
AAL1 = "urn:th:digitalid:ial1:aal1"
AAL2 = "urn:th:digitalid:ial1:aal2"
ESSENTIAL_AAL2 = json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL2]}}})
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def person(app):
    """The account support acts on, in English (so the notices are read in English)."""
    make_user(app, PERSON)
    with app.app_context():
        db = get_session()
        user = find_by_email(db, PERSON)
        user.locale = "en"
        db.commit()
        return user.id


@pytest.fixture
def support(app, clock):
    return staff_client(app, clock, SUPPORT, "support")


@pytest.fixture
def rp(app):
    return make_client(app, trusted=True)


def user_of(app, email=PERSON):
    with app.app_context():
        return find_by_email(get_session(), email)


def count(app, model, user_id):
    with app.app_context():
        return len(list(get_session().scalars(select(model).where(model.user_id == user_id))))


def events(app, name, user_id=None):
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.event == name)
        if user_id is not None:
            query = query.where(AuditEvent.user_id == user_id)
        return list(get_session().scalars(query))


def with_factors(app, user_id):
    """A TOTP, a security key, ten recovery codes and a suspended TOTP (too many wrong codes)."""
    with app.app_context():
        db = get_session()
        user = find_by_email(db, PERSON)
        totp.import_secret(db, user, TOTP_SECRET, name="Phone", config=app.config)
        recovery.generate(db, user)
        db.add(WebAuthnCredential(user_id=user_id, name="Key", credential_id=os.urandom(16), public_key=b"k"))
        db.add(Throttle(key=throttle.account_key(str(user_id), "totp"), failures=100,
                        suspended_at=dt.datetime.now(dt.UTC)))
        db.commit()


def introspect(client, rp, token):
    return client.post("/introspect", data={"token": token},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)}).json


def refresh(client, rp, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})


def authorize(client, rp, **extra):
    """Start an authorization as the signed-in person; the callback's query (no consent: trusted RP)."""
    verifier, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, **extra))
    assert response.status_code == 302, response.text
    return verifier, response.headers["Location"]


def account_url(user_id):
    return f"/console/support/accounts/{user_id}"


# -- the guard ------------------------------------------------------------------------------------------


def support_requests(user_id):
    return [
        ("get", "/console/support/", {}),
        ("post", "/console/support/", {"email": PERSON}),
        ("get", account_url(user_id), {}),
        ("post", account_url(user_id) + "/disable", {"reason": "owner_request"}),
        ("post", account_url(user_id) + "/reset", {"reason": "owner_request", "confirm": "yes"}),
        ("post", account_url(user_id) + "/enable", {}),
    ]


def send(client, method, url, data):
    return client.get(url) if method == "get" else post(client, url, **data)


def test_anonymous_is_sent_to_sign_in(app, person):
    client = browser(app)
    for method, url, data in support_requests(person):
        response = send(client, method, url, data)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/signin?"), url
    assert user_of(app).is_active and not events(app, "support_account_viewed")


@pytest.mark.parametrize("role", [None, "admin", "auditor", "proofing_officer"])
def test_other_roles_get_403_and_change_nothing(app, clock, person, role):
    roles = (role,) if role else ()
    client = admin_client(app, clock) if role == "admin" else staff_client(app, clock, "staff@example.com", *roles)
    with_factors(app, person)
    for method, url, data in support_requests(person):
        response = send(client, method, url, data)
        assert response.status_code == 403, (url, response.status_code)
        assert PERSON not in response.text
    assert user_of(app).is_active and count(app, TotpCredential, person) == 1
    assert not events(app, "support_account_viewed") and not mails(app, PERSON)


def test_support_at_aal1_is_asked_to_step_up(app, clock, person):
    client = staff_client(app, clock, SUPPORT, "support", aal=1)
    response = client.get("/console/support/")
    assert response.status_code == 302 and "/signin/more?aal=2" in response.headers["Location"]


def test_the_search_form_is_labelled_and_not_autocompleted(support):
    page = support.get("/console/support/")
    assert page.status_code == 200
    assert '<label for="email">' in page.text
    assert re.search(r'<input id="email" name="email" type="email" autocomplete="off"', page.text)


# -- finding an account ----------------------------------------------------------------------------------


def test_finding_an_account_by_email_leads_to_its_page_without_the_email_in_the_url(support, person):
    response = post(support, "/console/support/", email="  Citizen@Example.com ")
    assert response.status_code == 302 and response.headers["Location"] == account_url(person)
    assert "@" not in response.headers["Location"]


@pytest.mark.parametrize(("email", "status", "words"), [
    ("nobody@example.com", 404, "No account with that email."),
    ("", 400, "Enter an email address."),
    ("x" * 5000, 404, "No account with that email."),
])
def test_an_unknown_or_empty_email_is_said_plainly(support, person, email, status, words):
    response = post(support, "/console/support/", email=email)
    assert response.status_code == status and words in response.text


def test_an_unknown_account_id_is_404(support):
    assert support.get(account_url(999999)).status_code == 404
    assert post(support, account_url(999999) + "/disable", reason="other").status_code == 404


def test_the_account_page_shows_states_and_counts_and_the_view_is_audited(app, clock, support, person):
    with_factors(app, person)
    assert sign_in(browser(app)).status_code == 302  # one open session
    with app.app_context():  # one burned recovery code: nine left
        db = get_session()
        db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == person)).first().used_at = dt.datetime.now(dt.UTC)
        db.commit()
    page = support.get(account_url(person))
    assert page.status_code == 200
    text = page.text
    assert PERSON in text and 'data-status="active"' in text and 'data-ial="1"' in text
    assert re.search(r'data-kind="password">.*?<td>yes</td>', text)
    assert re.search(r'data-kind="totp">.*?<td>1</td>', text)
    assert re.search(r'data-kind="webauthn">.*?<td>1</td>', text)
    assert re.search(r'data-kind="recovery">.*?<td>9</td>', text)
    assert 'data-sessions="1"' in text
    assert "Suspended after too many failed attempts: authenticator app codes." in text
    assert "Last sign-in (UTC)</dt><dd>never" not in text
    viewed = events(app, "support_account_viewed", person)
    assert len(viewed) == 1 and viewed[0].actor_id == make_staff(app, SUPPORT)
    assert support.get(account_url(person)).status_code == 200
    assert len(events(app, "support_account_viewed", person)) == 2  # each view


def test_the_page_never_shows_the_national_id_or_what_proofing_found(app, clock, support):
    case_id = seed_case(app, clock, PERSON)
    with app.app_context():
        db = get_session()
        case = db.get(ProofingCase, case_id)
        proofing.approve(db, case, method="officer", by=None, config=app.config)
        number = proofing.national_id(db, case.user_id, config=app.config)
        user_id = case.user_id
    assert number == national_id(user_id)
    page = support.get(account_url(user_id)).text
    assert 'data-ial="2"' in page
    for secret in (number, number[-4:], "JT0-1000001-01", "1985-03-14", "Somchai", "Jaidee", "สมชาย",
                   "verified_claims", "evidence", "registry"):
        assert secret not in page, secret


# -- disable and enable ---------------------------------------------------------------------------------


def test_disabling_stops_sign_in_sessions_tokens_and_tells_the_person(app, clock, support, person, rp):
    owner = browser(app)
    issued = full_flow(owner, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    assert introspect(owner, rp, issued["access_token"])["active"] is True
    response = post(support, account_url(person) + "/disable", reason="reported_compromised")
    assert response.status_code == 302 and response.headers["Location"] == account_url(person)
    page = support.get(account_url(person))
    assert 'data-status="disabled"' in page.text and "was disabled" in page.text
    assert not user_of(app).is_active
    with app.app_context():
        db = get_session()
        assert all(s.ended_at is not None for s in db.scalars(select(AuthSession).where(
            AuthSession.user_id == person)))
        assert all(t.revoked_at is not None for t in db.scalars(select(Token).where(Token.user_id == person)))
    assert introspect(owner, rp, issued["access_token"]) == {"active": False}
    assert introspect(owner, rp, issued["refresh_token"]) == {"active": False}
    assert refresh(owner, rp, issued["refresh_token"]).json["error"] == "invalid_grant"
    assert owner.get("/security").status_code == 302  # the open session is gone
    refused = sign_in(browser(app))
    assert refused.status_code == 200 and "not correct" in refused.text
    [(subject, body)] = mails(app, PERSON)[-1:]
    assert subject == "Your Digital ID account was disabled" and "contact support" in body
    [event] = events(app, "account_disabled", person)
    assert event.actor_id == make_staff(app, SUPPORT) and event.details["reason"] == "reported_compromised"
    assert event.details["tokens_revoked"] == 1 and event.details["sessions_ended"] == 1


def test_enabling_lets_the_person_sign_in_again_but_old_tokens_stay_revoked(app, clock, support, person, rp):
    owner = browser(app)
    issued = full_flow(owner, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    assert post(support, account_url(person) + "/disable", reason="owner_request").status_code == 302
    assert sign_in(browser(app)).status_code == 200
    response = post(support, account_url(person) + "/enable")
    assert response.status_code == 302
    assert user_of(app).is_active and 'data-status="active"' in support.get(account_url(person)).text
    assert sign_in(browser(app)).status_code == 302
    assert introspect(owner, rp, issued["access_token"]) == {"active": False}
    assert refresh(owner, rp, issued["refresh_token"]).json["error"] == "invalid_grant"
    assert mails(app, PERSON)[-1][0] == "Your Digital ID account can be used again"
    [event] = events(app, "account_enabled", person)
    assert event.actor_id == make_staff(app, SUPPORT)


@pytest.mark.parametrize("reason", ["", "bogus", "reported_compromised' OR 1=1"])
def test_disabling_needs_a_reason_from_the_list(app, support, person, reason):
    response = post(support, account_url(person) + "/disable", reason=reason)
    assert response.status_code == 400 and "Choose a reason from the list." in response.text
    assert user_of(app).is_active and not events(app, "account_disabled") and not mails(app, PERSON)


def test_disabling_twice_or_enabling_an_active_account_is_409(app, support, person):
    response = post(support, account_url(person) + "/enable")
    assert response.status_code == 409 and "already active" in response.text
    assert post(support, account_url(person) + "/disable", reason="other").status_code == 302
    response = post(support, account_url(person) + "/disable", reason="other")
    assert response.status_code == 409 and "already disabled" in response.text
    assert len(events(app, "account_disabled")) == 1 and not events(app, "account_enabled")


# -- reset ------------------------------------------------------------------------------------------------


def test_reset_removes_second_factors_keeps_the_password_and_aal2_is_out_of_reach(app, clock, support, person, rp):
    with_factors(app, person)
    owner = browser(app)
    issued = full_flow(owner, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    _, location = authorize(owner, rp, acr_values=AAL2)
    assert location.startswith("/signin/more") and "aal=2" in location  # before: a second factor is asked for
    response = post(support, account_url(person) + "/reset", reason="lost_authenticator", confirm="yes")
    assert response.status_code == 302
    for model in (TotpCredential, WebAuthnCredential, RecoveryCode):
        assert count(app, model, person) == 0, model
    with app.app_context():
        assert get_session().get(Throttle, throttle.account_key(str(person), "totp")) is None
    page = support.get(account_url(person)).text
    assert "No way of signing in is suspended." in page and 'data-sessions="0"' in page
    assert introspect(owner, rp, issued["access_token"]) == {"active": False}
    assert refresh(owner, rp, issued["refresh_token"]).json["error"] == "invalid_grant"
    assert owner.get("/security").status_code == 302  # signed out

    assert sign_in(owner).status_code == 302  # the password still works
    _, location = authorize(owner, rp, claims=ESSENTIAL_AAL2)
    assert location.startswith("/signin/more") and "aal=2" in location  # a new factor is offered (issue 11)
    _, location = authorize(owner, rp, claims=ESSENTIAL_AAL2, prompt="none")
    assert query_of(location)["error"] == "unmet_authentication_requirements"
    verifier, location = authorize(owner, rp, acr_values=AAL2)  # voluntary: given, but never overstated
    tokens = exchange(owner, query_of(location)["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                      verifier=verifier).json
    assert introspect(owner, rp, tokens["access_token"])["acr"] == AAL1

    subject, body = mails(app, PERSON)[-1]
    assert subject == "Your sign-in methods were reset"
    assert "reset by support on " in body and "If you did not ask for this, contact support" in body
    [event] = events(app, "authenticators_reset", person)
    assert event.actor_id == make_staff(app, SUPPORT) and event.details["reason"] == "lost_authenticator"
    assert (event.details["totp"], event.details["webauthn"], event.details["recovery_codes"]) == (1, 1, 10)
    assert event.details["suspensions_lifted"] == 1 and event.details["tokens_revoked"] == 1


def test_a_code_issued_before_the_reset_cannot_be_exchanged_after_it(app, support, person, rp):
    owner = browser(app)
    assert sign_in(owner).status_code == 302
    verifier, location = authorize(owner, rp)
    reset = post(support, account_url(person) + "/reset", reason="reported_compromised", confirm="yes")
    assert reset.status_code == 302
    response = exchange(owner, query_of(location)["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                        verifier=verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_every_field_of_the_account_page_is_labelled_and_every_form_has_the_csrf_token(support, person):
    page = support.get(account_url(person)).text
    ids = re.findall(r'<(?:input|select) id="([^"]+)"', page)
    assert {"disable-reason", "reset-reason", "reset-confirm"} <= set(ids)
    for field_id in ids:
        assert f'<label for="{field_id}">' in page, field_id
    assert page.count('<form method="post"') == page.count('name="csrf_token"') - 1  # the language form has one too


@pytest.mark.parametrize(("data", "words"), [
    ({"reason": "lost_authenticator"}, "Tick the box to confirm the reset."),
    ({"reason": "lost_authenticator", "confirm": "no"}, "Tick the box to confirm the reset."),
    ({"confirm": "yes"}, "Choose a reason from the list."),
    ({"reason": "fraud_suspected", "confirm": "yes"}, "Choose a reason from the list."),  # a disable reason
])
def test_reset_needs_the_box_ticked_and_a_reason(app, support, person, data, words):
    with_factors(app, person)
    response = post(support, account_url(person) + "/reset", **data)
    assert response.status_code == 400 and words in response.text
    assert count(app, TotpCredential, person) == 1 and count(app, RecoveryCode, person) == 10
    assert not events(app, "authenticators_reset") and not mails(app, PERSON)


def test_reset_of_an_account_without_a_password_is_refused_for_in_person_recovery(app, support, person):
    with_factors(app, person)
    with app.app_context():
        db = get_session()
        find_by_email(db, PERSON).password_hash = None
        db.commit()
    page = support.get(account_url(person)).text
    assert "in person" in page and "/reset" not in page
    response = post(support, account_url(person) + "/reset", reason="lost_authenticator", confirm="yes")
    assert response.status_code == 409 and "recover the account in person" in response.text
    assert count(app, WebAuthnCredential, person) == 1 and count(app, TotpCredential, person) == 1
    assert not events(app, "authenticators_reset") and not mails(app, PERSON)


# -- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "data"), [
    ("/console/support/", {"email": PERSON}),
    ("/disable", {"reason": "other"}),
    ("/enable", {}),
    ("/reset", {"reason": "other", "confirm": "yes"}),
])
def test_a_post_without_the_csrf_token_is_400(app, support, person, url, data):
    target = url if url.startswith("/console") else account_url(person) + url
    response = support.post(target, data=data)
    assert response.status_code == 400
    assert user_of(app).is_active and not events(app, "account_disabled") and not events(app, "authenticators_reset")


@pytest.mark.parametrize("action", [("/disable", {"reason": "other"}),
                                    ("/reset", {"reason": "other", "confirm": "yes"})])
def test_support_cannot_act_on_their_own_account(app, support, action):
    own = make_staff(app, SUPPORT)
    page = support.get(account_url(own)).text
    assert "This is your own account" in page and "/disable" not in page
    response = post(support, account_url(own) + action[0], **action[1])
    assert response.status_code == 403 and "You cannot change your own account here." in response.text
    assert user_of(app, SUPPORT).is_active and count(app, TotpCredential, own) == 1


@pytest.mark.parametrize("role", ["admin", "auditor", "support"])
def test_support_cannot_change_a_staff_account(app, support, role):
    staff = make_staff(app, f"{role}2@example.com", role)
    page = support.get(account_url(staff)).text
    assert "only an administrator can change it" in page and "/disable" not in page and "/reset" not in page
    for action, data in [("/disable", {"reason": "other"}), ("/reset", {"reason": "other", "confirm": "yes"})]:
        response = post(support, account_url(staff) + action, **data)
        assert response.status_code == 403 and "only an administrator can change it" in response.text
    assert user_of(app, f"{role}2@example.com").is_active and count(app, TotpCredential, staff) == 1
    assert not events(app, "account_disabled") and not mails(app, f"{role}2@example.com")
