"""FAPI 2.0 Security Profile, conformance-style: a client registered with ``fapi_profile: "fapi2"``
pushes its request (RFC 9126) authenticated with private_key_jwt and a DPoP proof, the browser
brings only ``client_id`` and ``request_uri``, and the code, tokens (DPoP-bound, RFC 9449), userinfo
and refresh follow the profile's rules; then every refusal an RP could run into. Assertions and
proofs are made with joserfc, as an RP would (DPoP's own refusals: tests/http/test_dpop.py).
"""

from __future__ import annotations

import json
import re
import threading
import time
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.oidc import par
from idp.oidc.clients import ClientMetadataError
from idp.oidc.models import PushedAuthorizationRequest
from idp.oidc.registration import AgencyPolicy
from idp.oidc.registration import issue_initial_token
from idp.oidc.registration import review_reasons
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.staff import admin_client
from tests.staff import post
from tests.support.dpop import DPoPKey

ISSUER = "http://localhost"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RSA = RSAKey.generate_key(2048, private=True, parameters={"kid": "rp-rsa"})
EC = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-ec"})
JWKS = {"keys": [RSA.as_dict(private=False), EC.as_dict(private=False)]}
SCOPE = "openid profile email offline_access"


def _fapi_client(app, **kwargs):
    kwargs.setdefault("scope", SCOPE)
    return make_client(app, auth_method="private_key_jwt", jwks=JWKS, fapi_profile="fapi2", **kwargs).client


def assertion(client_id, *, alg="PS256", aud=ISSUER, key=None):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
              "jti": f"jti-{time.time_ns()}"}
    key = key or (EC if alg.startswith("ES") else RSA)
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def client_auth(client_id, **kwargs):
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion(client_id, **kwargs)}


def authorization_params(client_id, challenge, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": SCOPE,
              "state": "st-fapi", "nonce": "n-fapi", "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def push(client, client_id, challenge, *, auth=None, **extra):
    data = {**authorization_params(client_id, challenge, **extra), **(auth or client_auth(client_id))}
    return client.post("/par", data=data)


def with_dpop(client, path, data, key, client_id):
    """POST with a fresh client assertion and a DPoP proof; once more with the server's nonce when
    it asks for one (RFC 9449 §8), as an RP library does."""
    for _ in range(2):
        response = key.remember(client.post(path, data={**data, **client_auth(client_id)},
                                            headers={"DPoP": key.proof("POST", path)}))
        if response.status_code != 400 or response.json.get("error") != "use_dpop_nonce":
            break
    return response


def redeem(client, client_id, code, verifier, key):
    return with_dpop(client, "/token", {"grant_type": "authorization_code", "code": code,
                                        "redirect_uri": REDIRECT_URI, "code_verifier": verifier}, key, client_id)


def by_reference(client_id, request_uri):
    return "/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri})


def events(app, name):
    with app.app_context():
        return [e.details for e in get_session().scalars(select(AuditEvent).where(AuditEvent.event == name))]


@pytest.fixture
def rp(app):
    make_user(app)
    return _fapi_client(app)


# -- the flow --------------------------------------------------------------------------------------

def test_the_fapi2_flow_end_to_end(app, client, rp):
    key = DPoPKey("ES256")
    verifier, challenge = pkce_pair()
    data = authorization_params(rp.client_id, challenge)
    # PAR with a DPoP proof: FAPI 2.0 clients always need the server's nonce first.
    first = key.remember(client.post("/par", data={**data, **client_auth(rp.client_id)},
                                     headers={"DPoP": key.proof("POST", "/par")}))
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce" and key.nonce
    pushed = with_dpop(client, "/par", data, key, rp.client_id)
    assert pushed.status_code == 201, pushed.json
    assert pushed.headers["Cache-Control"] == "no-store"
    assert pushed.json["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < pushed.json["expires_in"] <= 60

    callback = follow_to_code(client, by_reference(rp.client_id, pushed.json["request_uri"]))
    assert callback["state"] == "st-fapi" and callback["iss"] == ISSUER  # RFC 9207

    response = redeem(client, rp.client_id, callback["code"], verifier, key)
    assert response.status_code == 200, response.json
    tokens = response.json
    assert tokens["token_type"] == "DPoP"
    jwks = KeySet.import_key_set(client.get("/jwks.json").json)
    assert jwt.decode(tokens["access_token"], jwks).claims["cnf"] == {"jkt": key.jkt}
    # ID token signed PS256, verifiable with the published JWKS.
    id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["PS256"])
    assert id_token.header["alg"] == "PS256"
    assert id_token.claims["aud"] == [rp.client_id] and id_token.claims["nonce"] == "n-fapi"

    info = key.remember(client.get("/userinfo", headers={
        "Authorization": f"DPoP {tokens['access_token']}",
        "DPoP": key.proof("GET", "/userinfo", access_token=tokens["access_token"])}))
    assert info.status_code == 200 and info.json["sub"] == id_token.claims["sub"]
    as_bearer = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert as_bearer.status_code == 401 and as_bearer.json["error"] == "invalid_token"

    # Refresh tokens are not rotated: the same one works again, and no new one is issued.
    refresh = tokens["refresh_token"]
    for _ in range(2):
        renewed = with_dpop(client, "/token", {"grant_type": "refresh_token", "refresh_token": refresh}, key,
                            rp.client_id)
        assert renewed.status_code == 200, renewed.json
        assert renewed.json["token_type"] == "DPoP" and "refresh_token" not in renewed.json
        assert renewed.json["access_token"] != tokens["access_token"]
    without_proof = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh,
                                                **client_auth(rp.client_id)})
    assert without_proof.status_code == 400 and without_proof.json["error"] == "invalid_dpop_proof"
    # ... but it stays revocable.
    revoked = client.post("/revoke", data={"token": refresh, **client_auth(rp.client_id)})
    assert revoked.status_code == 200
    again = with_dpop(client, "/token", {"grant_type": "refresh_token", "refresh_token": refresh}, key,
                      rp.client_id)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_a_dpop_proof_at_par_binds_the_code_to_its_key(app, client, rp):
    key, other = DPoPKey(), DPoPKey()
    verifier, challenge = pkce_pair()
    pushed = with_dpop(client, "/par", authorization_params(rp.client_id, challenge), key, rp.client_id)
    callback = follow_to_code(client, by_reference(rp.client_id, pushed.json["request_uri"]))
    other.nonce = key.nonce
    refused = redeem(client, rp.client_id, callback["code"], verifier, other)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert redeem(client, rp.client_id, callback["code"], verifier, key).status_code == 200


def test_an_es256_client_gets_es256_id_tokens(app, client):
    make_user(app)
    rp = _fapi_client(app, id_token_signed_response_alg="ES256")
    verifier, challenge = pkce_pair()
    pushed = push(client, rp.client_id, challenge, auth=client_auth(rp.client_id, alg="ES256"))
    callback = follow_to_code(client, by_reference(rp.client_id, pushed.json["request_uri"]))
    response = redeem(client, rp.client_id, callback["code"], verifier, DPoPKey())
    jwks = KeySet.import_key_set(client.get("/jwks.json").json)
    assert jwt.decode(response.json["id_token"], jwks, algorithms=["ES256"]).header["alg"] == "ES256"


def test_an_ordinary_client_may_push_or_not(app, client):
    make_user(app)
    new = make_client(app)
    verifier, challenge = pkce_pair()
    pushed = client.post("/par", data=authorization_params(new.client.client_id, challenge, scope="openid"),
                         headers={"Authorization": basic(new.client.client_id, new.client_secret)})
    assert pushed.status_code == 201, pushed.json
    callback = follow_to_code(client, by_reference(new.client.client_id, pushed.json["request_uri"]))
    response = client.post("/token", data={"grant_type": "authorization_code", "code": callback["code"],
                                           "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
                           headers={"Authorization": basic(new.client.client_id, new.client_secret)})
    assert response.status_code == 200 and jwt.decode(
        response.json["id_token"], KeySet.import_key_set(client.get("/jwks.json").json)).header["alg"] == "RS256"
    # ... and its authorization requests without PAR go on as before.
    plain = client.get(authorize_url(new.client.client_id, pkce_pair()[1]))
    assert plain.status_code in (200, 302) and "error=" not in plain.headers.get("Location", "")


def test_an_ordinary_client_assertion_may_name_the_par_endpoint(app, client):
    new = make_client(app, auth_method="private_key_jwt", jwks=JWKS)
    pushed = push(client, new.client.client_id, pkce_pair()[1], scope="openid",
                  auth=client_auth(new.client.client_id, alg="RS256", aud=ISSUER + "/par"))
    assert pushed.status_code == 201, pushed.json


def test_discovery_lists_par_and_the_fapi_algorithms(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert meta["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert meta["require_pushed_authorization_requests"] is False
    assert "PS256" in meta["id_token_signing_alg_values_supported"]
    assert "PS256" in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert {k["alg"] for k in client.get("/jwks.json").json["keys"]} == {"RS256", "ES256", "PS256"}


# -- refusals at the authorization endpoint -----------------------------------------------------------

def _refused_page(response):
    return response.status_code == 400 and "Location" not in response.headers


def test_a_fapi_client_without_par_is_refused(app, client, rp):
    response = client.get(authorize_url(rp.client_id, pkce_pair()[1], scope=SCOPE))
    assert response.status_code == 302
    callback = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(REDIRECT_URI)
    assert callback["error"] == "invalid_request" and "pushed" in callback["error_description"]


def test_a_fapi_request_by_reference_carries_nothing_else(app, client, rp):
    pushed = push(client, rp.client_id, pkce_pair()[1])
    url = by_reference(rp.client_id, pushed.json["request_uri"]) + "&scope=openid"
    assert _refused_page(client.get(url))


def test_a_request_uri_is_used_once(app, client, rp):
    pushed = push(client, rp.client_id, pkce_pair()[1])
    url = by_reference(rp.client_id, pushed.json["request_uri"])
    assert "code" in follow_to_code(client, url)
    assert _refused_page(client.get(url))  # the same browser, once answered
    assert _refused_page(app.test_client().get(url))  # anyone else
    assert {"error": "invalid_request_uri", "stage": "authorize", "reason": "used"} in events(
        app, "pushed_request_refused")


def test_another_browser_cannot_take_over_a_claimed_request_uri(app, client, rp):
    pushed = push(client, rp.client_id, pkce_pair()[1])
    url = by_reference(rp.client_id, pushed.json["request_uri"])
    assert client.get(url).status_code in (302, 303)  # claimed: on to sign-in
    assert _refused_page(app.test_client().get(url))
    assert "code" in follow_to_code(client, url)  # the first browser still completes it


def test_concurrent_uses_succeed_once(app, rp):
    pushed = push(app.test_client(), rp.client_id, pkce_pair()[1])
    url = by_reference(rp.client_id, pushed.json["request_uri"])
    browsers = [app.test_client() for _ in range(4)]
    start = threading.Barrier(len(browsers))
    results = []

    def use(browser):
        start.wait()
        results.append(browser.get(url).status_code)

    threads = [threading.Thread(target=use, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [302, 400, 400, 400] or sorted(results) == [303, 400, 400, 400], results


def test_an_expired_request_uri_is_refused(app, client, clock, rp):
    pushed = push(client, rp.client_id, pkce_pair()[1])
    clock.advance(pushed.json["expires_in"] + 1)
    assert _refused_page(client.get(by_reference(rp.client_id, pushed.json["request_uri"])))
    assert {"error": "invalid_request_uri", "stage": "authorize", "reason": "expired"} in events(
        app, "pushed_request_refused")


def test_a_request_uri_of_another_client_is_refused(app, client, rp):
    other = _fapi_client(app, name="Another e-Service")
    pushed = push(client, rp.client_id, pkce_pair()[1])
    assert _refused_page(client.get(by_reference(other.client_id, pushed.json["request_uri"])))
    assert _refused_page(client.get("/authorize?" + urlencode({"request_uri": pushed.json["request_uri"]})))
    assert _refused_page(client.get(by_reference(rp.client_id, "urn:ietf:params:oauth:request_uri:nope")))
    # none of these used it up
    assert "code" in follow_to_code(client, by_reference(rp.client_id, pushed.json["request_uri"]))


def test_the_refusal_page_is_readable(app, client, rp):
    page = client.get(by_reference(rp.client_id, "urn:ietf:params:oauth:request_uri:nope"),
                      headers={"Accept-Language": "en"})
    assert "expired or was already used" in page.text


# -- refusals at the PAR endpoint ----------------------------------------------------------------------

def test_par_errors_are_json_never_redirects(app, client, rp):
    response = push(client, rp.client_id, None)  # no PKCE
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "Location" not in response.headers
    response = push(client, rp.client_id, pkce_pair()[1], redirect_uri="https://elsewhere.example/cb")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = push(client, rp.client_id, pkce_pair()[1], request_uri="urn:ietf:params:oauth:request_uri:x")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = push(client, rp.client_id, pkce_pair()[1], request="eyJhbGciOiJub25lIn0.e30.")
    assert response.status_code == 400 and response.json["error"] == "request_not_supported"
    response = push(client, rp.client_id, pkce_pair()[1], response_type="token")
    assert response.status_code == 400 and response.json["error"] == "unsupported_response_type"
    response = client.post("/par", data={**authorization_params("someone-else", pkce_pair()[1]),
                                         **client_auth(rp.client_id)})
    assert response.status_code in (400, 401)
    assert [e["error"] for e in events(app, "pushed_request_refused")][:4] == [
        "invalid_request", "invalid_request", "invalid_request", "request_not_supported"]
    with app.app_context():
        assert get_session().scalar(select(PushedAuthorizationRequest)) is None


def test_authorization_details_are_checked_at_par_and_carried_by_the_pushed_request(app, client, rp):
    from tests.http.test_authorization_details import PAYMENT
    from tests.http.test_authorization_details import register

    register(app)
    bad = push(client, rp.client_id, pkce_pair()[1], authorization_details=json.dumps([{"type": "unknown"}]))
    assert bad.status_code == 400 and bad.json["error"] == "invalid_authorization_details"
    verifier, challenge = pkce_pair()
    pushed = push(client, rp.client_id, challenge, authorization_details=json.dumps([PAYMENT]))
    assert pushed.status_code == 201, pushed.json
    callback = follow_to_code(client, by_reference(rp.client_id, pushed.json["request_uri"]))
    response = redeem(client, rp.client_id, callback["code"], verifier, DPoPKey())
    assert response.status_code == 200 and response.json["authorization_details"] == [PAYMENT]


def test_prompt_none_is_judged_at_the_authorization_endpoint(app, client, rp):
    pushed = push(client, rp.client_id, pkce_pair()[1], prompt="none")
    assert pushed.status_code == 201, pushed.json
    response = client.get(by_reference(rp.client_id, pushed.json["request_uri"]))
    callback = query_of(response.headers["Location"])
    assert callback["error"] == "login_required" and callback["state"] == "st-fapi"


def test_par_requires_client_authentication(app, client, rp):
    response = client.post("/par", data=authorization_params(rp.client_id, pkce_pair()[1]))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


# -- strict client authentication -------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "says"), [
    ({"aud": [ISSUER]}, "single string"),
    ({"aud": ISSUER + "/token"}, "issuer identifier"),
    ({"aud": ISSUER + "/par"}, "issuer identifier"),
    ({"alg": "RS256"}, "PS256 or ES256"),
])
def test_a_fapi_client_assertion_is_strict(app, client, rp, kwargs, says):
    for endpoint, data in (("/par", authorization_params(rp.client_id, pkce_pair()[1])),
                           ("/token", {"grant_type": "refresh_token", "refresh_token": "x"})):
        response = client.post(endpoint, data={**data, **client_auth(rp.client_id, **kwargs)})
        assert response.status_code in (400, 401) and response.json["error"] == "invalid_client", response.json
        assert says in response.json["error_description"]


def test_a_fapi_client_cannot_use_a_client_secret(app, client, rp):
    response = client.post("/par", data=authorization_params(rp.client_id, pkce_pair()[1]),
                           headers={"Authorization": basic(rp.client_id, "guessed-secret")})
    assert response.status_code == 401 and "private_key_jwt" in response.json["error_description"]


def test_ordinary_clients_keep_rs256_and_the_token_endpoint_audience(app, client):
    new = make_client(app, auth_method="private_key_jwt", jwks=JWKS)
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                                           **client_auth(new.client.client_id, alg="RS256", aud=ISSUER + "/token")})
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"  # authenticated


# -- registration ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "error"), [
    ({"redirect_uris": ["http://localhost:8080/cb"]}, "invalid_redirect_uri"),
    ({"auth_method": "client_secret_basic", "jwks": None}, "invalid_client_metadata"),
    ({"id_token_signed_response_alg": "RS256"}, "invalid_client_metadata"),
    ({"require_pkce": False}, "invalid_client_metadata"),
])
def test_a_fapi_registration_is_checked(app, change, error):
    kwargs = {"auth_method": "private_key_jwt", "jwks": JWKS, "fapi_profile": "fapi2", **change}
    with pytest.raises(ClientMetadataError) as caught:
        make_client(app, **kwargs)
    assert caught.value.error == error


def test_a_fapi_client_is_stored_with_its_profile(app):
    rp = _fapi_client(app)
    assert rp.fapi and rp.requires_par
    assert rp.client_metadata["id_token_signed_response_alg"] == "PS256"
    assert rp.client_metadata["require_pushed_authorization_requests"] is True


@pytest.fixture
def initial(app):
    with app.app_context():
        return issue_initial_token(get_session(), agency="Revenue Department", allowed_scopes=["profile", "email"],
                                   max_ial=2, max_aal=2, days=30).token


def _register(client, token, **metadata):
    body = {"client_name": "Tax refunds", "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": JWKS, "scope": "openid profile",
            "fapi_profile": "fapi2", **metadata}
    return client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})


def test_dynamic_registration_of_a_fapi_client(app, client, initial):
    response = _register(client, initial)
    assert response.status_code == 201, response.json
    assert response.json["fapi_profile"] == "fapi2" and response.json["require_pushed_authorization_requests"] is True
    assert response.json["id_token_signed_response_alg"] == "PS256" and response.json["status"] == "active"
    refused = _register(client, initial, redirect_uris=["http://localhost:8080/cb"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_redirect_uri"
    refused = _register(client, initial, token_endpoint_auth_method="client_secret_basic")
    assert refused.status_code == 400 and refused.json["error"] == "invalid_client_metadata"
    refused = _register(client, initial, fapi_profile="fapi1")
    assert refused.status_code == 400 and refused.json["error"] == "invalid_client_metadata"


def test_high_value_scopes_need_fapi_for_automatic_approval(app, client, initial):
    plain = _register(client, initial, fapi_profile=None, scope="openid profile national_id").json
    assert "high_value_scope_needs_fapi" in plain["review_reasons"]
    fapi = _register(client, initial, scope="openid profile national_id").json
    assert "high_value_scope_needs_fapi" not in fapi["review_reasons"]
    policy = AgencyPolicy(allowed_scopes=frozenset({"openid", "profile"}), max_ial=2, max_aal=2)
    metadata = {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt",
                "scope": "openid profile"}
    assert review_reasons(metadata, policy=policy, high_value_scopes=frozenset({"profile"})) == [
        "high_value_scope_needs_fapi"]
    assert review_reasons({**metadata, "fapi_profile": "fapi2"}, policy=policy,
                          high_value_scopes=frozenset({"profile"})) == []


def test_the_request_uri_prefix_is_the_rfc_one():
    assert par.REQUEST_URI_PREFIX == "urn:ietf:params:oauth:request_uri:"


def _stored(app, client_id):
    from idp.oidc.models import Client

    with app.app_context():
        return get_session().scalar(select(Client).where(Client.client_id == client_id))


def test_the_console_registers_a_fapi_client(app, clock):
    admin = admin_client(app, clock)
    form = {"client_name": "Tax refunds", "redirect_uris": REDIRECT_URI, "scope": ["profile"],
            "subject_type": "pairwise", "token_endpoint_auth_method": "private_key_jwt", "jwks": json.dumps(JWKS),
            "id_token_signed_response_alg": "PS256", "fapi_profile": "fapi2"}
    response = post(admin, "/console/clients/new", **form)
    assert response.status_code == 302, response.text  # no secret to show: on to the e-Service's page
    client_id = response.headers["Location"].rsplit("/", 1)[1]
    stored = _stored(app, client_id)
    assert stored.fapi and stored.requires_par
    edit = admin.get(f"/console/clients/{client_id}/edit").text
    assert re.search(r'id="fapi_profile" name="fapi_profile" value="fapi2" checked', edit)
    refused = post(admin, "/console/clients/new", **{**form, "token_endpoint_auth_method": "client_secret_basic",
                                                      "jwks": ""})
    assert "private_key_jwt" in refused.text


def test_the_cli_registers_a_fapi_client(app, tmp_path):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from idp.cli import cli
    from idp.cli import clients

    clients.register(cli)  # as tests/http/test_cli.py: the group gets its commands where the app is made
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKS))

    def run(*args):
        return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)

    result = run("clients", "add", "--name", "Tax refunds", "--redirect-uri", REDIRECT_URI, "--auth-method",
                 "private_key_jwt", "--jwks-file", str(jwks), "--fapi", "--json")
    assert result.exit_code == 0, result.output
    stored = _stored(app, json.loads(result.stdout)["client_id"])
    assert stored.fapi and stored.id_token_signed_response_alg == "PS256"
    listed = json.loads(run("clients", "list", "--json").stdout)["clients"]
    assert [c["fapi_profile"] for c in listed] == ["fapi2"]
    refused = run("clients", "add", "--name", "Tax refunds", "--redirect-uri", REDIRECT_URI, "--fapi", "--json")
    assert refused.exit_code != 0
