"""acr/amr/auth_time in tokens, step-up that asks only for the missing factor, unmet requirements,
prompt=none, the operator's floor and reauthentication windows (a clock the test moves)."""

import json
import re

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.accounts.service import find_by_email
from idp.authn import recovery
from idp.authn import totp
from idp.db import get_session
from idp.oidc.clients import ClientMetadataError
from tests.factories import PASSWORD
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AAL1 = "urn:th:digitalid:ial1:aal1"
AAL2 = "urn:th:digitalid:ial1:aal2"
AAL3 = "urn:th:digitalid:ial1:aal3"
ESSENTIAL_AAL2 = json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL2]}}})


@pytest.fixture
def rp(app):
    return make_client(app, trusted=True)


@pytest.fixture
def user(app):
    return make_user(app)


def with_totp(app, email="citizen@example.com"):
    with app.app_context():
        db = get_session()
        totp.import_secret(db, find_by_email(db, email), SECRET, name="Token", config=app.config)


def current_code(clock):
    clock.advance(30)  # a step no earlier code used
    return totp.code_at(SECRET, totp.current_step())


def start(client, rp, **extra):
    verifier, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, **extra))
    return verifier, response


def follow(client, response):
    """Follow redirects inside the IdP; stop at a page or at the RP."""
    for _ in range(10):
        if response.status_code not in (302, 303):
            return response
        location = response.headers["Location"]
        if location.startswith("https://rp.example/"):
            return response
        response = client.get(location)
    raise AssertionError("too many hops")


def sign_in_page(client, response):
    """On the sign-in page: sign in with the password and follow on."""
    assert 'action="/signin"' in response.text
    nxt = re.search(r'action="/signin">.*?name="next" value="([^"]+)"', response.text, re.S).group(1)
    nxt = nxt.replace("&amp;", "&")
    return follow(client, client.post("/signin", data={"email": "citizen@example.com", "password": PASSWORD,
                                                       "csrf_token": csrf_of(response.text), "next": nxt}))


def offered(page):
    """The factors the step-up page offers."""
    return set(re.findall(r'name="method" value="([a-z]+)"', page.text)) | (
        {"webauthn"} if "data-webauthn-stepup" in page.text else set())


def step_up(client, page, method, **fields):
    action = re.search(r'<form method="post" action="(/signin/more[^"]*)">\s*<input type="hidden" '
                       r'name="csrf_token" value="[^"]+">\s*<input type="hidden" name="next" value="([^"]+)">\s*'
                       rf'<input type="hidden" name="method" value="{method}">', page.text)
    assert action, page.text
    data = {"csrf_token": csrf_of(page.text), "next": action.group(2).replace("&amp;", "&"), "method": method}
    data.update(fields)
    return client.post(action.group(1).replace("&amp;", "&"), data=data)


def callback(response):
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith("https://rp.example/cb"), response.headers["Location"]
    return query_of(response.headers["Location"])


def id_token_of(client, rp, code, verifier):
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    return response.json, jwt.decode(response.json["id_token"], keys, algorithms=["RS256", "ES256"]).claims


def test_nothing_requested_reports_what_was_achieved(client, rp, user):
    verifier, response = start(client, rp)
    params = callback(sign_in_page(client, follow(client, response)))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL1 and claims["amr"] == ["pwd"]


def test_step_up_asks_only_for_the_missing_factor_and_tokens_say_so(app, client, rp, user, clock):
    with_totp(app)
    sign_in(client)
    clock.advance(120)
    verifier, response = start(client, rp, acr_values=AAL2)
    page = follow(client, response)
    assert page.status_code == 200 and offered(page) == {"totp"}  # no password again: it is fresh
    params = callback(follow(client, step_up(client, page, "totp", code=current_code(clock))))
    tokens, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL2
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert abs(claims["auth_time"] - clock.timestamp()) < 5  # the step-up is the latest authentication
    access = jwt.decode(tokens["access_token"], KeySet.import_key_set(client.get("/jwks.json").json))
    assert access.claims["acr"] == AAL2 and access.claims["auth_time"] == claims["auth_time"]
    intro = client.post("/introspect", data={"token": tokens["access_token"]},
                        headers={"Authorization": _basic(rp)}).json
    assert intro["acr"] == AAL2 and intro["auth_time"] == claims["auth_time"] and "mfa" in intro["amr"]


def _basic(rp):
    return basic(rp.client.client_id, rp.client_secret)


def test_the_claims_parameter_asks_too_and_a_recovery_code_completes_it(app, client, rp, user):
    with app.app_context():
        db = get_session()
        codes = recovery.generate(db, find_by_email(db, "citizen@example.com"))
    verifier, response = start(client, rp, claims=ESSENTIAL_AAL2)
    page = sign_in_page(client, follow(client, response))
    assert offered(page) == {"recovery"}
    wrong = step_up(client, page, "recovery", recovery_code="0000-0000-0000")
    assert wrong.status_code == 400 and "recovery" in wrong.text.lower()
    params = callback(follow(client, step_up(client, wrong, "recovery", recovery_code=codes[0])))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL2 and claims["amr"] == ["pwd", "otp", "mfa"]


def test_a_used_totp_code_is_refused_at_step_up(app, client, rp, user, clock):
    with_totp(app)
    sign_in(client)
    code = current_code(clock)
    _, response = start(client, rp, acr_values=AAL2)
    callback(follow(client, step_up(client, follow(client, response), "totp", code=code)))
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    sign_in(client)
    _, response = start(client, rp, acr_values=AAL2)
    again = step_up(client, follow(client, response), "totp", code=code)
    assert (again.status_code == 400 and "already used" in client.get("/").text) or again.status_code == 400


def test_essential_acr_the_person_can_reach_only_with_a_new_factor_offers_one_and_declining_is_unmet(client, rp, user):
    """No second factor for an essential AAL2: adding one is offered on the way (issue 11), not a dead end;
    turning it down, or asking for what cannot be added on the way (AAL3), is unmet."""
    _, response = start(client, rp, claims=ESSENTIAL_AAL2)
    page = sign_in_page(client, follow(client, response))
    assert page.status_code == 200 and offered(page) == set() and "/security/totp?new=1" in page.text
    nxt = re.search(r'class="cancel">.*?name="next" value="([^"]+)"', page.text, re.S).group(1).replace("&amp;", "&")
    params = callback(follow(client, client.post("/signin/more?aal=2", data={
        "csrf_token": csrf_of(page.text), "next": nxt, "cancel": "1"})))
    assert params["error"] == "unmet_authentication_requirements"
    assert params["state"] == "st-123" and params["iss"] == "http://localhost"
    assert "code" not in params
    _, response = start(client, rp, claims=json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL3]}}}))
    assert callback(response)["error"] == "unmet_authentication_requirements"


def test_voluntary_acr_the_person_cannot_reach_is_never_overstated(client, rp, user):
    verifier, response = start(client, rp, acr_values=f"{AAL3} {AAL2}")
    params = callback(sign_in_page(client, follow(client, response)))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL1


def test_an_ial_the_account_does_not_have_leads_to_proofing_and_ial3_is_unmet(client, rp, user):
    _, response = start(client, rp, claims=json.dumps(
        {"id_token": {"acr": {"essential": True, "values": ["urn:th:digitalid:ial2:aal1"]}}}))
    page = sign_in_page(client, follow(client, response))
    assert page.status_code == 200 and "/proofing/start" in page.text  # the proofing page, then back here
    _, response = start(client, rp, claims=json.dumps(  # IAL3 needs a counter: not in this visit
        {"id_token": {"acr": {"essential": True, "values": ["urn:th:digitalid:ial3:aal1"]}}}))
    assert callback(response)["error"] == "unmet_authentication_requirements"


def test_prompt_none_with_too_low_a_level_is_interaction_required(app, client, rp, user):
    with_totp(app)
    sign_in(client)
    _, response = start(client, rp, acr_values=AAL2, prompt="none")
    assert callback(response)["error"] == "interaction_required"


def test_declining_the_step_up(app, client, rp, user):
    with_totp(app)
    sign_in(client)
    _, response = start(client, rp, claims=ESSENTIAL_AAL2)
    page = follow(client, response)
    nxt = re.search(r'class="cancel">.*?name="next" value="([^"]+)"', page.text, re.S).group(1).replace("&amp;", "&")
    declined = follow(client, client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(page.text),
                                                                       "next": nxt, "cancel": "1"}))
    assert callback(declined)["error"] == "unmet_authentication_requirements"
    # Voluntary: declining gives a token at the level achieved.
    verifier, response = start(client, rp, acr_values=AAL2)
    page = follow(client, response)
    nxt = re.search(r'class="cancel">.*?name="next" value="([^"]+)"', page.text, re.S).group(1).replace("&amp;", "&")
    params = callback(follow(client, client.post("/signin/more?aal=2", data={
        "csrf_token": csrf_of(page.text), "next": nxt, "cancel": "1"})))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL1


def test_the_operators_floor_cannot_be_lowered_by_the_request(app, client, user):
    strict = make_client(app, trusted=True, default_acr_values=[AAL2])
    with_totp(app)
    sign_in(client)
    _, response = start(client, strict, acr_values=AAL1)
    assert "/signin/more" in response.headers["Location"]
    _, response = start(client, strict, acr_values=AAL3)  # out of reach: still not below the floor
    assert "/signin/more" in response.headers["Location"] and "aal=2" in response.headers["Location"]
    # Without any second factor, adding one is offered (issue 11); with prompt=none the floor is unmet.
    other = make_user(app, "other@example.com")
    assert other
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    sign_in(client, "other@example.com")
    _, response = start(client, strict)
    assert "/signin/more" in response.headers["Location"] and "aal=2" in response.headers["Location"]
    assert "/security/totp?new=1" in follow(client, response).text
    _, response = start(client, strict, prompt="none")
    assert callback(response)["error"] == "unmet_authentication_requirements"


def test_unknown_default_acr_values_are_refused_at_registration(app):
    with pytest.raises(ClientMetadataError):
        make_client(app, default_acr_values=["urn:th:digitalid:ial9:aal9"])


def test_aal2_idles_out_after_an_hour_of_inactivity(app, client, rp, user, clock):
    with_totp(app)
    sign_in(client)
    _, response = start(client, rp, acr_values=AAL2)
    callback(follow(client, step_up(client, follow(client, response), "totp", code=current_code(clock))))
    # Within the idle timeout the session still counts at AAL2: no question asked.
    clock.advance(50 * 60)
    _, response = start(client, rp, acr_values=AAL2)
    assert callback(response)["code"]
    clock.advance(61 * 60)
    assert client.get("/").status_code == 200  # a visit after the break does not revive the level
    verifier, response = start(client, rp, acr_values=AAL2)
    page = follow(client, response)
    assert offered(page) == {"pwd"}  # the level is earned again from the start
    page = step_up(client, page, "pwd", password=PASSWORD)
    assert offered(page) == {"totp"}
    params = callback(follow(client, step_up(client, page, "totp", code=current_code(clock))))
    assert id_token_of(client, rp, params["code"], verifier)[1]["acr"] == AAL2


def test_after_24_hours_the_password_is_asked_again_before_the_second_factor(app, client, rp, user, clock):
    with_totp(app)
    sign_in(client)
    clock.advance(25 * 3600)
    verifier, response = start(client, rp, acr_values=AAL2)
    page = follow(client, response)
    assert offered(page) == {"pwd"}
    page = step_up(client, page, "pwd", password=PASSWORD)
    assert page.status_code == 200 and offered(page) == {"totp"}
    params = callback(follow(client, step_up(client, page, "totp", code=current_code(clock))))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL2


def test_after_30_days_the_session_is_gone(client, rp, user, clock):
    sign_in(client)
    clock.advance(31 * 24 * 3600)
    _, response = start(client, rp, prompt="none")
    assert callback(response)["error"] == "login_required"


def test_wrong_totp_codes_are_throttled_per_account(app, client, rp, user, clock):
    with_totp(app)
    sign_in(client)
    _, response = start(client, rp, acr_values=AAL2)
    page = follow(client, response)
    for _ in range(app.config["THROTTLE_FREE_FAILURES"]):
        page = step_up(client, page, "totp", code="000000")
        assert page.status_code == 400
    page = step_up(client, page, "totp", code="000000")
    assert page.status_code == 429  # the delays start
    blocked = step_up(client, page, "totp", code=totp.code_at(SECRET, totp.current_step()))  # the right one waits
    assert blocked.status_code == 429
    clock.advance(2)
    assert step_up(client, blocked, "totp", code=totp.code_at(SECRET, totp.current_step())).status_code == 302


IAL2_AAL1 = "urn:th:digitalid:ial2:aal1"
IAL2_AAL2 = "urn:th:digitalid:ial2:aal2"


def test_voluntary_values_a_met_later_value_is_issued_without_proofing(client, rp, user):
    sign_in(client)
    verifier, response = start(client, rp, acr_values=f"{IAL2_AAL1} {AAL1}")
    assert "/proofing" not in response.headers["Location"]
    params = callback(response)
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL1


def test_voluntary_values_a_met_value_never_leads_to_proofing_even_from_sign_in(client, rp, user):
    verifier, response = start(client, rp, acr_values=f"{IAL2_AAL1} {AAL1}")
    params = callback(sign_in_page(client, follow(client, response)))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL1


def test_voluntary_values_offer_a_step_up_the_person_can_skip_for_the_met_value(app, client, rp, user, clock):
    with_totp(app)
    sign_in(client)
    verifier, response = start(client, rp, acr_values=f"{IAL2_AAL2} {AAL2} {AAL1}")
    page = follow(client, response)
    assert "/signin/more" in response.headers["Location"] and offered(page) == {"totp"}
    nxt = re.search(r'class="cancel">.*?name="next" value="([^"]+)"', page.text, re.S).group(1).replace("&amp;", "&")
    skipped = follow(client, client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(page.text),
                                                                      "next": nxt, "cancel": "1"}))
    _, claims = id_token_of(client, rp, callback(skipped)["code"], verifier)
    assert claims["acr"] == AAL1
    # Taking the step-up instead gives the more preferred value that it reaches.
    verifier, response = start(client, rp, acr_values=f"{IAL2_AAL2} {AAL2} {AAL1}")
    params = callback(follow(client, step_up(client, follow(client, response), "totp", code=current_code(clock))))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL2


def test_voluntary_values_none_met_nor_reachable_give_what_the_session_has(client, rp, user):
    sign_in(client)
    verifier, response = start(client, rp, acr_values=f"{AAL3} {IAL2_AAL2}")
    params = callback(response)  # no step-up, no proofing (no second factor), and no error
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL1


def test_essential_values_only_unmet_ones_end_in_unmet_authentication_requirements(client, rp, user):
    sign_in(client)
    ial3_aal2 = "urn:th:digitalid:ial3:aal2"  # a counter visit: not in this journey
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL3, ial3_aal2]}}})
    _, response = start(client, rp, claims=essential)
    assert callback(response)["error"] == "unmet_authentication_requirements"
    voluntary = json.dumps({"id_token": {"acr": {"values": [AAL3, ial3_aal2]}}})
    _, response = start(client, rp, claims=voluntary)
    assert "code" in callback(response)
    # Reachable by adding a second factor and proving the identity: the factor comes first (issue 11).
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL3, IAL2_AAL2]}}})
    _, response = start(client, rp, claims=essential)
    assert response.headers["Location"].startswith("/signin/more?aal=2")
    voluntary = json.dumps({"id_token": {"acr": {"values": [AAL3, IAL2_AAL2]}}})
    _, response = start(client, rp, claims=voluntary)
    assert "code" in callback(response)
