"""ETDA levels end to end: ``urn:th:digitalid:ial:2.3``, ``…:aal:2.2`` and the combined value asked
for by an e-Service, met (the ID token's ``acr`` is the value asked for) or not (proofing, step-up
for only the missing factor, ``unmet_authentication_requirements``), the operator's floor, the level
policy file, ThaID-compatible claims, the ETDA form of ``verified_claims`` and the level in words."""

import datetime as dt
import json
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import select

from idp.accounts.models import User
from idp.authn import totp
from idp.config import ConfigError
from idp.db import get_session
from idp.levels import account_ial
from idp.oidc.clients import ClientMetadataError
from idp.proofing import service
from idp.proofing.levels import checks_of
from idp.proofing.models import VerifiedIdentity
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import follow_to_code
from tests.flows import full_flow
from tests.flows import pkce_pair
from tests.flows import sign_in
from tests.http.test_assurance import SECRET
from tests.http.test_assurance import callback
from tests.http.test_assurance import follow
from tests.http.test_assurance import id_token_of
from tests.http.test_assurance import offered
from tests.http.test_assurance import sign_in_page
from tests.http.test_assurance import start
from tests.http.test_assurance import step_up
from tests.http.test_assurance import with_totp
from tests.http.test_verified_claims import _decode
from tests.http.test_webauthn_flows import authenticate
from tests.http.test_webauthn_flows import register
from tests.support.soft_authenticator import SoftAuthenticator

IAL23 = "urn:th:digitalid:ial:2.3"
AAL21 = "urn:th:digitalid:aal:2.1"
AAL22 = "urn:th:digitalid:aal:2.2"
BOTH = "urn:th:digitalid:ial:2.3:aal:2.1"
NUMBER = "1999900001010"
CLAIMS = {"given_name": "Somchai", "family_name": "Jaidee", "given_name#th": "สมชาย", "family_name#th": "ใจดี",
          "birthdate": "1985-03-14"}
REMOTE = {"type": "document", "check_details": [{"check_method": "vri", "organization": "TH-DOPA"}]}
COUNTER = {"type": "document", "check_details": [{"check_method": "vpip"}, {"check_method": "pvp"}]}
CHIP_FACE = {**REMOTE, "checks": ["registry_data", "chip", "face", "liveness"]}
# Remote proofing with the face verifier and a chip read (issue 14's other half) reaches 2.3.
WITH_FACE = ["registry_data", "chip", "face", "liveness"]


@pytest.fixture
def remote_checks():
    return WITH_FACE


@pytest.fixture
def app_config(app_config, remote_checks):
    return {**app_config, "PROOFING_REMOTE_CHECKS": remote_checks}


@pytest.fixture
def user(app):
    return make_user(app)


@pytest.fixture
def rp(app):
    return make_client(app, trusted=True)


def essential(*values):
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(values)}}})


def proofed(app, evidence, *, ial=2, email="citizen@example.com"):
    """A verified identity written as a proofing path would (the face helper builds the chip path)."""
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.email == email))
        cfg = app.config
        db.add(VerifiedIdentity(
            user_id=user.id, ial=ial, national_id_index=service.national_id_index(cfg, NUMBER),
            national_id_encrypted=service.seal(cfg, NUMBER, context=f"user:{user.id}:national_id"),
            claims_encrypted=service.seal(cfg, CLAIMS, context=f"user:{user.id}:claims"),
            evidence=[{**evidence, "time": "2026-12-01T09:00:00+00:00"}], trust_framework="nist_800_63A",
            verified_at=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)))
        user.ial = ial
        db.commit()


def back_to_the_eservice(client, page):
    """The proofing page's "Back to the e-Service": the request, declined."""
    back = re.search(r'<a href="(/authorize[^"]+)">', page.text)
    assert back, page.text
    return follow(client, client.get(back.group(1).replace("&amp;", "&")))


# -- identity ------------------------------------------------------------------------------------


def test_remote_registry_check_does_not_meet_ial_2_3_proofing_is_offered_then_unmet(app, client, rp, user):
    proofed(app, REMOTE)
    _, response = start(client, rp, claims=essential(IAL23))
    page = sign_in_page(client, follow(client, response))
    assert page.status_code == 200 and "/proofing" in page.request.path
    assert "etda_ial=2.3" in page.request.url
    params = callback(back_to_the_eservice(client, page))
    assert params["error"] == "unmet_authentication_requirements" and "code" not in params


@pytest.mark.parametrize("remote_checks", [["registry_data"]])
def test_without_a_remote_path_to_2_3_the_request_is_unmet_at_once(app, client, rp, user):
    proofed(app, REMOTE)
    _, response = start(client, rp, claims=essential(IAL23))
    params = callback(sign_in_page(client, follow(client, response)))
    assert params["error"] == "unmet_authentication_requirements"


def test_a_counter_proofed_account_meets_ial_2_3(app, client, rp, user):
    proofed(app, COUNTER, ial=3)
    verifier, response = start(client, rp, claims=essential(IAL23))
    params = callback(sign_in_page(client, follow(client, response)))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == IAL23


def test_chip_face_and_liveness_checks_meet_ial_2_3(app, client, rp, user):
    proofed(app, CHIP_FACE)
    with app.app_context():
        assert account_ial(get_session(), get_session().get(User, 1)) == Decimal("2.3")
    verifier, response = start(client, rp, acr_values=IAL23)
    params = callback(sign_in_page(client, follow(client, response)))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == IAL23


# -- authentication ------------------------------------------------------------------------------


def test_aal_2_1_is_not_met_by_a_password_alone_but_by_password_and_totp(app, client, rp, user, clock):
    _, response = start(client, rp, claims=essential(AAL21))
    page = sign_in_page(client, follow(client, response))
    assert offered(page) == set() and "/security/totp?new=1" in page.text  # add one on the way, or unmet
    with_totp(app)
    verifier, response = start(client, rp, claims=essential(AAL21))
    page = follow(client, response)
    assert "etda_aal=2.1" in page.request.url and offered(page) == {"totp"}
    clock.advance(30)
    params = callback(follow(client, step_up(client, page, "totp", code=totp.code_at(SECRET, totp.current_step()))))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL21 and claims["amr"] == ["pwd", "otp", "mfa"]


def test_aal_2_2_wants_a_key_not_the_authenticator_app(app, client, rp, user, clock):
    with_totp(app)
    key = SoftAuthenticator(user_verified=False)
    sign_in(client)
    # Adding a key needs AAL2 once TOTP is there: reach it with the app first.
    clock.advance(30)
    _, response = start(client, rp, acr_values=AAL21)
    callback(follow(client, step_up(client, follow(client, response), "totp",
                                    code=totp.code_at(SECRET, totp.current_step()))))
    assert register(client, key, kind="security-key", name="Blue key").status_code == 200
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    sign_in(client)
    verifier, response = start(client, rp, claims=essential(AAL22))
    page = follow(client, response)
    assert "etda_aal=2.2" in page.request.url
    assert offered(page) == {"webauthn"}  # the app gives 2.1 only: not offered
    nxt = re.search(r'data-next="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    done = authenticate(client, key, {"step_up": True, "aal": 2}, next_url=nxt)
    params = callback(follow(client, client.get(done.json["redirect"])))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == AAL22 and "swk" in claims["amr"]


def test_declining_the_step_up_to_aal_2_2_is_unmet(app, client, rp, user):
    with_totp(app)
    sign_in(client)
    _, response = start(client, rp, claims=essential(AAL22))
    page = follow(client, response)
    nxt = re.search(r'class="cancel">.*?name="next" value="([^"]+)"', page.text, re.S).group(1).replace("&amp;", "&")
    params = callback(follow(client, client.post("/signin/more?aal=2&etda_aal=2.2", data={
        "csrf_token": csrf_of(page.text), "next": nxt, "cancel": "1"})))
    assert params["error"] == "unmet_authentication_requirements"


def test_combined_value_needs_both_axes(app, client, rp, user, clock):
    proofed(app, COUNTER, ial=3)
    with_totp(app)
    verifier, response = start(client, rp, claims=essential(BOTH))
    page = sign_in_page(client, follow(client, response))
    assert offered(page) == {"totp"}
    clock.advance(30)
    params = callback(follow(client, step_up(client, page, "totp", code=totp.code_at(SECRET, totp.current_step()))))
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == BOTH


def test_voluntary_etda_values_never_overstate(app, client, rp, user):
    proofed(app, REMOTE)
    verifier, response = start(client, rp, acr_values=f"{BOTH}")
    page = sign_in_page(client, follow(client, response))
    params = callback(back_to_the_eservice(client, page)) if "/proofing" in page.request.path else callback(page)
    _, claims = id_token_of(client, rp, params["code"], verifier)
    assert claims["acr"] == "urn:th:digitalid:ial:1.3:aal:1"


# -- the operator's floor, registration, discovery -----------------------------------------------


def test_default_acr_values_in_etda_form_are_the_operators_floor(app, client, user):
    strict = make_client(app, trusted=True, default_acr_values=[IAL23])
    proofed(app, COUNTER, ial=3)
    verifier, response = start(client, strict, acr_values="urn:th:digitalid:ial:1.1")  # cannot lower it
    params = callback(sign_in_page(client, follow(client, response)))
    _, claims = id_token_of(client, strict, params["code"], verifier)
    assert claims["acr"] == IAL23


@pytest.mark.parametrize("remote_checks", [["registry_data"]])
def test_default_acr_values_unmet_by_a_remote_registry_check(app, client, user):
    strict = make_client(app, trusted=True, default_acr_values=[IAL23])
    proofed(app, REMOTE)
    _, response = start(client, strict)
    assert callback(sign_in_page(client, follow(client, response)))["error"] == "unmet_authentication_requirements"


@pytest.mark.parametrize("value", ["urn:th:digitalid:ial:2.4", "urn:th:digitalid:aal:2.3",
                                   "urn:th:digitalid:ial:2.30", "urn:th:digitalid:aal:2.2:ial:2.3"])
def test_unknown_etda_values_are_refused_at_registration(app, value):
    with pytest.raises(ClientMetadataError, match="Unknown acr value"):
        make_client(app, default_acr_values=[value])


def test_discovery_lists_the_etda_values_beside_the_nist_ones(client):
    supported = client.get("/.well-known/openid-configuration").json["acr_values_supported"]
    assert {IAL23, AAL22, "urn:th:digitalid:ial:2.3:aal:2.2", "urn:th:digitalid:ial2:aal2"} <= set(supported)
    scopes = client.get("/.well-known/openid-configuration").json["scopes_supported"]
    assert {"pid", "ial", "aal", "given_name_en", "family_name_en"} <= set(scopes)


# -- the level policy file -----------------------------------------------------------------------


def test_a_bad_policy_file_stops_the_start_with_the_reason(app_config, tmp_path, make_app):
    bad = tmp_path / "levels.toml"
    bad.write_text('[[ial]]\nlevel = "3"\nchecks = ["chip", "face", "liveness"]\n'
                   '[[aal]]\nlevel = "1"\nauthenticators = ["password"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ETDA_LEVELS_FILE: .*levels.toml: \[\[ial\]\] entry 1: IAL 3 needs"):
        make_app({**app_config, "ETDA_LEVELS_FILE": str(bad)})
    with pytest.raises(ConfigError, match="PROOFING_REMOTE_CHECKS: unknown check 'selfie'"):
        make_app({**app_config, "PROOFING_REMOTE_CHECKS": ["selfie"]})


def test_idp_init_refuses_a_bad_policy_file(tmp_path):
    bad = tmp_path / "levels.toml"
    bad.write_text("not toml at all [", encoding="utf-8")
    env = {"IDP_ETDA_LEVELS_FILE": str(bad), "IDP_SECRET_KEY": "x" * 40, "IDP_INSTANCE_PATH": str(tmp_path / "i"),
           "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.db'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "from idp.cli import main; main()", "init"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "ETDA_LEVELS_FILE" in done.stderr and "not valid TOML" in done.stderr


def test_an_operator_policy_changes_the_levels(app_config, tmp_path, client, make_app):
    """A stricter file: the registry check counts as 1.2 only."""
    strict = tmp_path / "levels.toml"
    strict.write_text('[[ial]]\nlevel = "1.2"\nchecks = ["registry_data"]\n'
                      '[[aal]]\nlevel = "1"\nauthenticators = ["password"]\n', encoding="utf-8")
    other = make_app({**app_config, "ETDA_LEVELS_FILE": str(strict)})
    rules = other.extensions["idp.etda_policy"]
    assert rules.ial_for(checks_of(None)) is None
    assert rules.ial_for({"registry_data"}, "remote") == Decimal("1.2")


# -- ThaID-compatible claims -----------------------------------------------------------------------

THAID_SCOPE = "openid pid ial aal given_name_en family_name_en"


@pytest.fixture
def thaid_rp(app):
    return make_client(app, name="Land tax", scope=THAID_SCOPE, national_id_allowed=True)


def test_thaid_scopes_release_their_claims_in_the_id_token_and_userinfo(app, client, thaid_rp, user):
    proofed(app, REMOTE)
    body = full_flow(client, thaid_rp.client.client_id, thaid_rp.client_secret, scope=THAID_SCOPE)
    id_token = _decode(client, body["id_token"])
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).json
    for claims in (id_token, info):
        assert claims["pid"] == NUMBER
        assert claims["ial"] == "1.3" and claims["aal"] == "1"
        assert claims["given_name_en"] == "Somchai" and claims["family_name_en"] == "Jaidee"


def test_thaid_consent_page_names_each_item(app, client, thaid_rp, user):
    proofed(app, REMOTE)
    sign_in(client)
    _, challenge = pkce_pair()
    page = client.get(authorize_url(thaid_rp.client.client_id, challenge, scope=THAID_SCOPE),
                      headers={"Accept-Language": "en"})
    for words in ("Your 13-digit national ID number", "identity level, e.g. 2.3", "sign-in level, e.g. 2.2",
                  "Your verified first name in English", "Your verified last name in English"):
        assert words in page.text


def test_pid_needs_the_operators_permission_and_the_persons_own_consent(app, client, user):
    with pytest.raises(ClientMetadataError, match="pid scope"):
        make_client(app, scope=THAID_SCOPE)
    proofed(app, REMOTE)
    portal = make_client(app, name="Portal", scope=THAID_SCOPE, national_id_allowed=True, trusted=True)
    _, challenge = pkce_pair()
    # A trusted e-Service still asks the person for the number: denying it gives the e-Service nothing.
    denied = follow_to_code(client, authorize_url(portal.client.client_id, challenge, scope=THAID_SCOPE),
                            decision="deny")
    assert denied["error"] == "access_denied"
    # An e-Service without the pid scope asking for it gets no number (the scope is not granted).
    plain = make_client(app, name="Library", scope="openid ial given_name_en")
    body = full_flow(client, plain.client.client_id, plain.client_secret, scope="openid pid ial given_name_en")
    id_token = _decode(client, body["id_token"])
    assert "pid" not in id_token and id_token["ial"] == "1.3" and id_token["given_name_en"] == "Somchai"


def test_without_a_verified_identity_the_names_and_pid_are_absent(app, client, thaid_rp, user):
    body = full_flow(client, thaid_rp.client.client_id, thaid_rp.client_secret, scope=THAID_SCOPE)
    id_token = _decode(client, body["id_token"])
    assert id_token["ial"] == "1.1" and id_token["aal"] == "1"
    assert not {"pid", "given_name_en", "family_name_en"} & set(id_token)


# -- verified_claims in the Thai framework's terms -----------------------------------------------


def _vc(**verification):
    return {"verification": {"trust_framework": None, **verification}, "claims": {"given_name": None}}


def test_verified_claims_in_etda_form_when_asked_for_that_framework(app, client, rp, user):
    proofed(app, CHIP_FACE)
    etda = _vc(trust_framework={"value": "th_etda_digital_id"})
    body = full_flow(client, rp.client.client_id, rp.client_secret,
                     claims=json.dumps({"id_token": {"verified_claims": [etda, _vc()]}}))
    first, second = _decode(client, body["id_token"])["verified_claims"]
    assert first["verification"] == {"trust_framework": "th_etda_digital_id", "assurance_level": "2.3"}
    assert second["verification"] == {"trust_framework": "nist_800_63A", "assurance_level": "IAL2"}
    # Evidence, when asked, is OIDC4IDA's: the level policy's own ``checks`` list stays inside.
    body = full_flow(client, rp.client.client_id, rp.client_secret, claims=json.dumps(
        {"id_token": {"verified_claims": _vc(trust_framework={"value": "th_etda_digital_id"}, evidence=None)}}))
    [evidence] = _decode(client, body["id_token"])["verified_claims"]["verification"]["evidence"]
    assert "checks" not in evidence and evidence["check_details"][0]["check_method"] == "vri"


def test_verified_claims_default_to_etda_form_for_an_etda_acr(app, client, rp, user):
    proofed(app, CHIP_FACE)
    body = full_flow(client, rp.client.client_id, rp.client_secret, acr_values=IAL23,
                     claims=json.dumps({"id_token": {"verified_claims": _vc()}}))
    verified = _decode(client, body["id_token"])["verified_claims"]
    assert verified["verification"]["assurance_level"] == "2.3"
    nist = _vc(trust_framework={"value": "nist_800_63A"})
    body = full_flow(client, rp.client.client_id, rp.client_secret, acr_values=IAL23,
                     claims=json.dumps({"id_token": {"verified_claims": nist}}))
    assert _decode(client, body["id_token"])["verified_claims"]["verification"]["assurance_level"] == "IAL2"


# -- the level in words ----------------------------------------------------------------------------


def test_catalogue_and_consent_state_the_level_in_plain_words(app, client, user):
    make_client(app, name="Passport office", default_acr_values=["urn:th:digitalid:ial:2.3:aal:2.2"])
    page = client.get("/services", headers={"Accept-Language": "en"}).text
    assert ("Identity level 2.3: identity checked with your ID card&#39;s chip, your face, and a check that it is"
            " really you in front of the camera") in page
    assert "Sign-in level 2.2: your password and a passkey or security key; or a passkey unlocked" in page
    rp = make_client(app, name="Tax office")
    proofed(app, COUNTER, ial=3)
    sign_in(client)
    _, challenge = pkce_pair()
    page = client.get(authorize_url(rp.client.client_id, challenge, acr_values=IAL23),
                      headers={"Accept-Language": "en"}).text
    assert "The level Tax office needs" in page and "Identity level 2.3: identity checked with" in page
