"""One journey from an e-Service to its callback: sign-up with an email code, a second factor added on
the way, identity proofing, consent, and "back to the e-Service" from any page; each page names
the e-Service that is waiting."""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.accounts.models import AuthSession
from idp.accounts.models import EmailCode
from idp.accounts.models import User
from idp.audit.models import AuditEvent
from idp.authn import recovery
from idp.authn import totp
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.db import get_session
from tests.factories import PASSWORD
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.support.soft_authenticator import SoftAuthenticator

EN = {"Accept-Language": "en"}
TH = {"Accept-Language": "th"}
NEW = "malee@example.com"
NEW_PASSWORD = "plenty long phrase"
AAL2 = "urn:th:digitalid:ial1:aal2"


def essential(value: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, "values": [value]}}})


@pytest.fixture
def rp(app):
    return make_client(app, name="Restaurant licence", name_th="ใบอนุญาตร้านอาหาร")


# -- what a browser does ------------------------------------------------------------------------------


def follow(client, response, headers=EN):
    """Follow redirects inside the IdP; stop at a page or at the RP."""
    for _ in range(12):
        if response.status_code not in (302, 303):
            return response
        location = response.headers["Location"]
        if location.startswith("https://rp.example/"):
            return response
        response = client.get(location, headers=headers)
    raise AssertionError("too many hops")


def start(client, rp, headers=EN, **extra):
    verifier, challenge = pkce_pair()
    return verifier, follow(client, client.get(authorize_url(rp.client.client_id, challenge, **extra),
                                               headers=headers), headers)


def hidden_next(page) -> str:
    found = re.search(r'name="next" value="([^"]+)"', page.text.split("<main ", 1)[-1])
    assert found, page.text[:2000]
    return html.unescape(found.group(1))


def sign_up(client, page, address=NEW, headers=EN):
    """From the sign-in page of a journey: "Create an account", then the form."""
    link = re.search(r'href="(/signup\?[^"]+)"', page.text)
    assert link, page.text[:2000]
    form = client.get(html.unescape(link.group(1)), headers=headers)
    assert form.status_code == 200
    return client.post("/signup", headers=headers, data={
        "csrf_token": csrf_of(form.text), "next": hidden_next(form), "email": address, "name": "Malee",
        "password": NEW_PASSWORD})


def enter_code(client, page, code, headers=EN):
    return client.post("/signup/code", headers=headers, data={
        "csrf_token": csrf_of(page.text), "next": hidden_next(page), "code": code})


def mails_to(app, address):
    found = []
    for path in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message.get_body(("plain",)).get_content())
    return found


def code_in(text: str) -> str | None:
    found = re.search(r"\b(\d{6})\b", text)
    return found.group(1) if found else None


def last_code(app, address=NEW) -> str:
    codes = [code_in(text) for text in mails_to(app, address)]
    assert codes and codes[-1], "no code mailed"
    return codes[-1]


def rows(app, model):
    with app.app_context():
        return list(get_session().scalars(select(model)))


def events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def signed_in(client) -> bool:
    return 'action="/signout"' in client.get("/", headers=EN).text


def callback(response):
    assert response.status_code == 302, response.text[:2000]
    location = response.headers["Location"]
    assert location.startswith("https://rp.example/cb"), location
    return query_of(location)


def consent(client, page, decision="allow"):
    assert 'name="decision"' in page.text, page.text[:2000]
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)">', page.text).group(1))
    return client.post(action, data={"csrf_token": csrf_of(page.text), "decision": decision})


def id_token(client, rp, code, verifier):
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert response.status_code == 200, response.text
    return jwt.decode(response.json["id_token"], KeySet.import_key_set(client.get("/jwks.json").json)).claims


def to_code_page(client, rp, address=NEW, **extra):
    verifier, signin = start(client, rp, **extra)
    assert 'autocomplete="current-password"' in signin.text
    page = follow(client, sign_up(client, signin, address))
    assert page.status_code == 200 and "/signup/code" in page.text
    return verifier, page


# -- the email code -----------------------------------------------------------------------------------


def test_sign_up_in_a_journey_continues_with_the_code_to_the_eservice(app, client, rp):
    verifier, page = to_code_page(client, rp)
    assert not signed_in(client)  # not by the sign-up itself: that would tell who has an account
    [mail] = mails_to(app, NEW)
    assert "verify-email" in mail and code_in(mail)
    response = follow(client, enter_code(client, page, last_code(app)))
    assert signed_in(client)
    params = callback(consent(client, response))
    assert params["state"] == "st-123" and params["iss"] == "http://localhost"
    claims = id_token(client, rp, params["code"], verifier)
    assert claims["acr"] == "urn:th:digitalid:ial1:aal1" and claims["amr"] == ["pwd"]
    [user] = rows(app, User)
    assert user.email == NEW and user.email_verified
    assert [e.details["method"] for e in events(app, "email_verified")] == ["code"]


def test_a_wrong_code_is_refused_and_counted_and_five_end_the_code(app, client, rp):
    _, page = to_code_page(client, rp)
    right = last_code(app)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        refused = enter_code(client, page, wrong)
        assert refused.status_code == 400 and "not correct" in refused.text and f"{left} more" in refused.text
    assert enter_code(client, page, wrong).status_code == 400
    assert [row.attempts for row in rows(app, EmailCode)] == [5]
    assert len(events(app, "email_code_failed")) == 5
    refused = enter_code(client, page, right)  # too late: the code is spent by the guesses
    assert refused.status_code == 400 and "Too many wrong codes" in refused.text
    assert not signed_in(client)
    assert not rows(app, User)[0].email_verified


def test_wrong_codes_are_also_throttled_per_client_address(app, client, rp):
    _, page = to_code_page(client, rp)
    app.config["THROTTLE_IP_FREE_FAILURES"] = 2
    right = last_code(app)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    assert [enter_code(client, page, wrong).status_code for _ in range(3)] == [400, 400, 400]
    blocked = enter_code(client, page, right)
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert [row.attempts for row in rows(app, EmailCode)] == [3]  # a blocked guess is not checked
    assert [e.details["factor"] for e in events(app, "throttled")] == ["email_code"]


def test_a_malformed_code_is_not_counted(app, client, rp):
    _, page = to_code_page(client, rp)
    refused = enter_code(client, page, "12ab")
    assert refused.status_code == 400 and "6-digit" in refused.text
    assert [row.attempts for row in rows(app, EmailCode)] == [0]


def test_a_code_works_once(app, client, rp):
    _, page = to_code_page(client, rp)
    code = last_code(app)
    copy = app.test_client()  # the same cookie in another client: a replay of the same request
    copy.set_cookie("idp_session", client.get_cookie("idp_session").value, domain="localhost")
    assert enter_code(client, page, code).status_code == 302
    replay = enter_code(copy, page, code)
    assert replay.status_code == 400 and "already used" in replay.text
    assert not signed_in(copy)
    assert len(rows(app, AuthSession)) == 1


def test_a_code_expires_after_15_minutes(app, client, rp, clock):
    _, page = to_code_page(client, rp)
    clock.advance(15 * 60 + 1)
    refused = enter_code(client, page, last_code(app))
    assert refused.status_code == 400 and "expired" in refused.text
    assert not signed_in(client)


def test_a_new_code_replaces_the_old_one_and_there_are_at_most_three(app, client, rp):
    _, page = to_code_page(client, rp)
    first = last_code(app)

    def new_code():
        return client.post("/signup/code/new", headers=EN, data={"csrf_token": csrf_of(page.text),
                                                                  "next": hidden_next(page)})

    assert new_code().status_code == 302
    second = last_code(app)
    assert new_code().status_code == 302
    third = last_code(app)
    refused = new_code()
    assert refused.status_code == 400 and "No more codes" in refused.text
    assert len(mails_to(app, NEW)) == 3
    for old in {first, second} - {third}:
        assert enter_code(client, page, old).status_code == 400
    assert enter_code(client, page, third).status_code == 302


def test_an_existing_email_gets_no_working_code(app, client, rp):
    owner = make_user(app, NEW)
    _, page = to_code_page(client, rp)
    [notice] = mails_to(app, NEW)
    assert "tried to create" in notice and code_in(notice) is None
    [row] = rows(app, EmailCode)
    assert row.user_id is None and row.code_hash == ""
    # Not even a code mailed to another sign-up works here; guesses are counted alike.
    other = app.test_client()
    _, other_page = to_code_page(other, rp, address="fresh@example.com")
    code = last_code(app, "fresh@example.com")
    answers = [enter_code(client, page, code) for _ in range(5)]
    assert [a.status_code for a in answers] == [400] * 5
    assert "not correct" in answers[0].text and "Too many wrong codes" in answers[-1].text
    assert not signed_in(client)
    assert [s.user_id for s in rows(app, AuthSession)] == []
    assert rows(app, User)[0].password_hash == owner.password_hash
    assert enter_code(other, other_page, code).status_code == 302  # that code was the other sign-up's


def test_wrong_codes_answer_alike_for_new_and_existing_addresses(app, rp):
    make_user(app, "taken@example.com")
    answers = []
    for address in ("fresh@example.com", "taken@example.com"):
        client = app.test_client()
        _, page = to_code_page(client, rp, address=address)
        wrong = f"{(int(last_code(app, 'fresh@example.com')) + 1) % 10**6:06d}"
        refused = enter_code(client, page, wrong)
        text = re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]+"', "", refused.text)
        # each request has its own PKCE challenge and sign-in marker
        answers.append((refused.status_code, re.sub(r"(_auth|code_challenge)((?:%25)*(?:%3D|=))[\w-]+", r"\1\2",
                                                    text)))
    assert answers[0] == answers[1]


def test_the_link_in_the_email_continues_the_journey_in_the_same_browser(app, client, rp):
    verifier, _ = to_code_page(client, rp)
    link = re.search(r"http://localhost(/verify-email/\S+)", mails_to(app, NEW)[0]).group(1)
    page = client.get(link, headers=EN)
    assert page.status_code == 200 and "confirmed" in page.text and signed_in(client)
    onward = html.unescape(re.search(r'<a class="button" href="([^"]+)">', page.text).group(1))
    assert urlsplit(onward).path == "/authorize"
    params = callback(consent(client, follow(client, client.get(onward))))
    assert id_token(client, rp, params["code"], verifier)["acr"] == "urn:th:digitalid:ial1:aal1"
    assert [e.details["method"] for e in events(app, "email_verified")] == ["link"]


def test_the_link_in_another_browser_confirms_the_address_but_signs_no_one_in(app, client, rp):
    to_code_page(client, rp)
    link = re.search(r"http://localhost(/verify-email/\S+)", mails_to(app, NEW)[0]).group(1)
    elsewhere = app.test_client()
    page = elsewhere.get(link, headers=EN)
    assert page.status_code == 200 and "confirmed" in page.text
    assert not signed_in(elsewhere) and not signed_in(client)
    assert rows(app, User)[0].email_verified


# -- the e-Service waiting, and the way back to it -------------------------------------------------------


def back_link(page) -> str:
    found = re.search(r'<a class="journey-back" href="([^"]+)">', page.text)
    assert found, page.text[:3000]
    return html.unescape(found.group(1))


def names(page, name):
    """The page names the waiting e-Service and offers the way back to it."""
    main = page.text.split("<main ", 1)[1]
    return name in main and 'class="journey-back"' in main


@pytest.mark.parametrize("headers, name", [(EN, "Restaurant licence"), (TH, "ใบอนุญาตร้านอาหาร")])
def test_sign_in_sign_up_code_and_consent_pages_name_the_eservice(app, rp, headers, name):
    client = app.test_client()
    _, signin = start(client, rp, headers=headers)
    assert names(signin, name)
    signup = client.get(html.unescape(re.search(r'href="(/signup\?[^"]+)"', signin.text).group(1)), headers=headers)
    assert names(signup, name)
    code_page = follow(client, sign_up(client, signin, headers=headers), headers)
    assert names(code_page, name)
    refused = enter_code(client, code_page, "12", headers=headers)  # a page after a POST names it too
    assert refused.status_code == 400 and names(refused, name)
    consent_page = follow(client, enter_code(client, code_page, last_code(app), headers=headers), headers)
    assert 'name="decision"' in consent_page.text and names(consent_page, name)
    other = "ใบอนุญาตร้านอาหาร" if headers is EN else "Restaurant licence"
    assert other not in consent_page.text


def test_pages_outside_a_journey_name_no_eservice(app, client, rp):
    for path in ("/signin", "/signup", "/signup/code", "/signin?next=/security", "/", "/services"):
        assert 'class="journey"' not in client.get(path, headers=EN).text, path


def test_back_to_the_eservice_answers_access_denied_with_state_and_iss(app, client, rp):
    _, signin = start(client, rp)
    params = callback(client.get(back_link(signin)))
    assert params == {"error": "access_denied", "error_description": params["error_description"],
                      "state": "st-123", "iss": "http://localhost"}


def test_back_from_consent_is_a_refusal_for_that_eservice(app, client, rp):
    make_user(app)
    _, signin = start(client, rp)
    page = follow(client, client.post("/signin", data={"csrf_token": csrf_of(signin.text), "next": hidden_next(signin),
                                                       "email": "citizen@example.com", "password": PASSWORD}))
    assert 'name="decision"' in page.text
    assert callback(client.get(back_link(page)))["error"] == "access_denied"
    assert [(e.user_id, e.details) for e in events(app, "authorization_refused")] == [
        (rows(app, User)[0].id, {"error": "access_denied"})]
    assert events(app, "authorized") == []


def test_back_goes_only_to_a_registered_redirect_uri(app, client, rp):
    _, signin = start(client, rp)
    forged = back_link(signin).replace("rp.example%2Fcb", "evil.example%2Fcb")
    assert forged != back_link(signin)
    response = client.get(forged)
    assert response.status_code == 400 and "Location" not in response.headers
    unknown = client.get("/authorize/cancel?client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F&state=x")
    assert unknown.status_code == 400 and "Location" not in unknown.headers


def test_the_eservice_logo_is_shown_and_only_its_host_is_allowed(app, client):
    rp = make_client(app, name="Tax", logo_uri="https://tax.example/logo.png")
    _, signin = start(client, rp)
    assert '<img class="logo" src="https://tax.example/logo.png"' in signin.text
    policy = signin.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tax.example;" in policy
    assert "img-src 'self' data:;" in client.get("/signin", headers=EN).headers["Content-Security-Policy"]


# -- a second factor added on the way -------------------------------------------------------------------


def enrolment_offered(page) -> bool:
    return page.status_code == 200 and "/security/passkeys/new?kind=passkey" in page.text and \
        "/security/totp?new=1" in page.text


def add_app(client, page, headers=EN):
    """On the step-up page: "Use an authenticator app instead", then the code the app shows."""
    link = html.unescape(re.search(r'href="(/security/totp\?new=1[^"]+)"', page.text).group(1))
    form = client.get(link, headers=headers)
    assert form.status_code == 200, form.text[:2000]
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', form.text).group(1).replace(" ", "")
    added = client.post("/security/totp", headers=headers, data={
        "csrf_token": csrf_of(form.text), "next": hidden_next(form), "name": "My phone",
        "code": totp.code_at(secret, totp.current_step())})
    assert added.status_code == 302, added.text[:2000]
    return form, secret, added


def save_recovery_codes(client, offer, headers=EN):
    """The recovery codes offered after the factor: shown, then "I have saved them" goes on."""
    assert offer.status_code == 200 and "/security/recovery-codes" in offer.text, offer.text[:2000]
    shown = client.post("/security/recovery-codes", headers=headers, data={
        "csrf_token": csrf_of(offer.text), "next": hidden_next(offer)})
    assert shown.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-z-]{14})</code></li>", shown.text)
    assert len(codes) == 10
    onward = html.unescape(re.search(r'<a class="button" href="([^"]+)">', shown.text).group(1))
    return codes, onward


@pytest.mark.parametrize("how", ["essential", "floor"])
def test_sign_up_for_aal2_adds_an_app_shows_recovery_codes_and_returns_with_ial1_aal2(app, client, how):
    if how == "floor":
        rp = make_client(app, name="Restaurant licence", default_acr_values=[AAL2])
        verifier, page = to_code_page(client, rp)
    else:
        rp = make_client(app, name="Restaurant licence")
        verifier, page = to_code_page(client, rp, claims=essential(AAL2))
    step = follow(client, enter_code(client, page, last_code(app)))
    assert enrolment_offered(step)  # passkey first, then the app
    assert step.text.index("/security/passkeys/new") < step.text.index("/security/totp?new=1")
    _, _, added = add_app(client, step)
    codes, onward = save_recovery_codes(client, follow(client, added))
    assert urlsplit(onward).path == "/authorize"
    params = callback(consent(client, follow(client, client.get(onward))))
    claims = id_token(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL2 and claims["amr"] == ["pwd", "otp", "mfa"]
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.email == NEW))
        assert user.email_verified
        assert len(db.scalars(select(TotpCredential).where(TotpCredential.user_id == user.id)).all()) == 1
        assert recovery.remaining(db, user.id) == 10
    assert len(codes) == len(set(codes))


def test_an_existing_account_without_a_second_factor_adds_one_inline(app, client, rp):
    make_user(app)
    verifier, signin = start(client, rp, claims=essential(AAL2))
    step = follow(client, client.post("/signin", data={
        "csrf_token": csrf_of(signin.text), "next": hidden_next(signin), "email": "citizen@example.com",
        "password": PASSWORD}))
    assert enrolment_offered(step)
    _, _, added = add_app(client, step)
    _, onward = save_recovery_codes(client, follow(client, added))
    params = callback(consent(client, follow(client, client.get(onward))))
    assert id_token(client, rp, params["code"], verifier)["acr"] == AAL2
    assert [e.details["aal"] for e in events(app, "step_up")] == [2]


def test_declining_to_add_a_factor_leaves_the_requirement_unmet(app, client, rp):
    make_user(app)
    _, signin = start(client, rp, claims=essential(AAL2))
    step = follow(client, client.post("/signin", data={
        "csrf_token": csrf_of(signin.text), "next": hidden_next(signin), "email": "citizen@example.com",
        "password": PASSWORD}))
    assert enrolment_offered(step)
    cancel = re.search(r'<form method="post" action="([^"]+)" class="cancel">', step.text).group(1)
    declined = follow(client, client.post(html.unescape(cancel), data={
        "csrf_token": csrf_of(step.text), "next": hidden_next(step), "cancel": "1"}))
    params = callback(declined)
    assert params["error"] == "unmet_authentication_requirements" and params["state"] == "st-123"


def test_a_wrong_app_code_adds_nothing_and_grants_nothing(app, client, rp):
    make_user(app)
    _, signin = start(client, rp, claims=essential(AAL2))
    step = follow(client, client.post("/signin", data={
        "csrf_token": csrf_of(signin.text), "next": hidden_next(signin), "email": "citizen@example.com",
        "password": PASSWORD}))
    link = html.unescape(re.search(r'href="(/security/totp\?new=1[^"]+)"', step.text).group(1))
    form = client.get(link, headers=EN)
    refused = client.post("/security/totp", headers=EN, data={
        "csrf_token": csrf_of(form.text), "next": hidden_next(form), "code": "000000"})
    assert refused.status_code == 400 and names(refused, "Restaurant licence")
    assert rows(app, TotpCredential) == [] and events(app, "step_up") == []


@pytest.mark.parametrize("extra", [{"prompt": "none"}, {"claims": essential("urn:th:digitalid:ial1:aal3")}])
def test_what_cannot_be_added_on_the_way_stays_unmet(app, client, rp, extra):
    """prompt=none may show nothing, and AAL3 needs a trusted hardware key: both stay unmet."""
    make_user(app)
    client.post("/signin", data={"csrf_token": csrf_of(client.get("/signin").text),
                                 "email": "citizen@example.com", "password": PASSWORD})
    _, challenge = pkce_pair()
    claims = extra.get("claims", essential(AAL2))
    response = client.get(authorize_url(rp.client.client_id, challenge, claims=claims, prompt=extra.get("prompt")))
    assert callback(response)["error"] == "unmet_authentication_requirements"


def test_voluntary_aal2_without_a_second_factor_still_gives_aal1_without_asking(app, client, rp):
    make_user(app)
    verifier, signin = start(client, rp, acr_values=AAL2)
    page = follow(client, client.post("/signin", data={
        "csrf_token": csrf_of(signin.text), "next": hidden_next(signin), "email": "citizen@example.com",
        "password": PASSWORD}))
    params = callback(consent(client, page))
    assert id_token(client, rp, params["code"], verifier)["acr"] == "urn:th:digitalid:ial1:aal1"


def test_a_passkey_added_on_the_way_gives_aal2(app, client, rp):
    make_user(app)
    verifier, signin = start(client, rp, claims=essential(AAL2))
    step = follow(client, client.post("/signin", data={
        "csrf_token": csrf_of(signin.text), "next": hidden_next(signin), "email": "citizen@example.com",
        "password": PASSWORD}))
    link = html.unescape(re.search(r'href="(/security/passkeys/new\?kind=passkey[^"]+)"', step.text).group(1))
    page = client.get(link, headers=EN)
    assert page.status_code == 200 and names(page, "Restaurant licence")
    onward_next = html.unescape(re.search(r'data-next="([^"]+)"', page.text).group(1))
    headers = {"X-CSRFToken": csrf_of(page.text)}
    device = SoftAuthenticator()
    options = client.post("/webauthn/register/options", json={"kind": "passkey"}, headers=headers)
    done = client.post("/webauthn/register", headers=headers, json={
        "credential": device.create(options.json), "name": "My phone", "next": onward_next})
    assert done.status_code == 200, done.text
    offer = client.get(done.json["redirect"], headers=EN)
    _, onward = save_recovery_codes(client, offer)
    params = callback(consent(client, follow(client, client.get(onward))))
    claims = id_token(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL2 and {"pwd", "swk", "mfa"} <= set(claims["amr"])
    assert [c.user_verifying for c in rows(app, WebAuthnCredential)] == [True]


def test_adding_a_factor_on_the_security_page_still_does_not_count_as_signing_in(app, client):
    make_user(app)
    client.post("/signin", data={"csrf_token": csrf_of(client.get("/signin").text),
                                 "email": "citizen@example.com", "password": PASSWORD})
    form = client.get("/security/totp?new=1", headers=EN)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', form.text).group(1).replace(" ", "")
    added = client.post("/security/totp", data={"csrf_token": csrf_of(form.text),
                                                "code": totp.code_at(secret, totp.current_step())})
    assert added.headers["Location"] == "/security"
    assert events(app, "step_up") == []


# -- identity proofing on the way ------------------------------------------------------------------------

SOMCHAI = {"number": "1999900001010", "laser_code": "JT0-1000001-01", "given_name": "Somchai",
           "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี", "birthdate": "1985-03-14"}
IAL2_AAL2 = "urn:th:digitalid:ial2:aal2"


def test_for_ial2_the_factor_comes_first_then_proofing_then_back_to_the_eservice(app, client, rp):
    verifier, page = to_code_page(client, rp, address="somchai@example.com", claims=essential(IAL2_AAL2))
    step = follow(client, enter_code(client, page, last_code(app, "somchai@example.com")))
    assert enrolment_offered(step)  # the second factor first
    _, _, added = add_app(client, step)
    _, onward = save_recovery_codes(client, follow(client, added))
    status = follow(client, client.get(onward))
    assert urlsplit(status.request.path).path == "/proofing" and names(status, "Restaurant licence")
    start_link = html.unescape(re.search(r'href="(/proofing/start\?[^"]+)"', status.text).group(1))
    form = client.get(start_link, headers=EN)
    assert form.status_code == 200 and names(form, "Restaurant licence")
    submitted = client.post("/proofing/start", headers=EN,
                            data={**SOMCHAI, "csrf_token": csrf_of(form.text), "next": hidden_next(form)})
    confirm_page = follow(client, submitted)
    assert "/proofing/confirm" in confirm_page.text and names(confirm_page, "Restaurant licence")
    back = client.post("/proofing/confirm", headers=EN, data={
        "csrf_token": csrf_of(confirm_page.text), "next": hidden_next(confirm_page),
        "code": last_code(app, "somchai@example.com")})
    params = callback(consent(client, follow(client, back)))
    claims = id_token(client, rp, params["code"], verifier)
    assert claims["acr"] == IAL2_AAL2 and "mfa" in claims["amr"]
    with app.app_context():
        assert get_session().scalar(select(User).where(User.email == "somchai@example.com")).ial == 2


@pytest.mark.parametrize("headers, name", [(EN, "Restaurant licence"), (TH, "ใบอนุญาตร้านอาหาร")])
def test_step_up_enrolment_and_proofing_pages_name_the_eservice(app, rp, headers, name):
    make_user(app)
    client = app.test_client()
    _, signin = start(client, rp, headers=headers, claims=essential(IAL2_AAL2))
    step = follow(client, client.post("/signin", headers=headers, data={
        "csrf_token": csrf_of(signin.text), "next": hidden_next(signin), "email": "citizen@example.com",
        "password": PASSWORD}), headers)
    assert enrolment_offered(step) and names(step, name)
    form, _, added = add_app(client, step, headers=headers)
    assert names(form, name)
    offer = follow(client, added, headers)
    assert names(offer, name)
    codes_page = client.post("/security/recovery-codes", headers=headers, data={
        "csrf_token": csrf_of(offer.text), "next": hidden_next(offer)})
    assert names(codes_page, name)
    onward = html.unescape(re.search(r'<a class="button" href="([^"]+)">', codes_page.text).group(1))
    status = follow(client, client.get(onward, headers=headers), headers)
    assert names(status, name)
    start_link = html.unescape(re.search(r'href="(/proofing/start\?[^"]+)"', status.text).group(1))
    assert names(client.get(start_link, headers=headers), name)


def test_only_an_eservice_journey_counts_an_added_factor_or_offers_one_on_the_step_up_page(app, client):
    """Staff and account pages keep their rule: a factor is added on the Security page, then used."""
    make_user(app)
    client.post("/signin", data={"csrf_token": csrf_of(client.get("/signin").text),
                                 "email": "citizen@example.com", "password": PASSWORD})
    step = client.get("/signin/more?aal=2&next=/console/", headers=EN)
    assert step.status_code == 200 and not enrolment_offered(step) and "no authenticator" in step.text
    form = client.get("/security/totp?new=1&next=/console/", headers=EN)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', form.text).group(1).replace(" ", "")
    added = client.post("/security/totp", data={"csrf_token": csrf_of(form.text), "next": "/console/",
                                                "code": totp.code_at(secret, totp.current_step())})
    assert added.headers["Location"] == "/security" and events(app, "step_up") == []
