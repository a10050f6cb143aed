"""Token endpoint: code exchange, PKCE verification, client authentication, refresh rotation."""

import dataclasses
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet

from idp.db import get_session
from idp.db import utc_now
from idp.oidc.tokens import prune
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import full_flow
from tests.flows import pkce_pair


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _code(client, rp, **extra):
    verifier, challenge = pkce_pair()
    params = follow_to_code(client, authorize_url(rp.client.client_id, challenge, **extra))
    return params["code"], verifier


def _decode(client, token):
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    return jwt.decode(token, keys, algorithms=["RS256", "ES256"])


def test_exchange_gives_a_signed_id_token_with_the_session_facts(client, rp):
    code, verifier = _code(client, rp)
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 300
    assert "refresh_token" not in body  # no offline_access asked for
    id_token = _decode(client, body["id_token"])
    claims = id_token.claims
    assert id_token.header["alg"] == "RS256" and id_token.header["kid"]
    assert claims["iss"] == "http://localhost"
    assert claims["aud"] == [rp.client.client_id]
    assert claims["nonce"] == "n-456"
    assert claims["acr"] == "urn:th:digitalid:ial1:aal1"
    assert claims["amr"] == ["pwd"]
    assert abs(claims["auth_time"] - time.time()) < 30
    assert claims["sid"] and claims["at_hash"]
    assert claims["exp"] > claims["iat"]
    assert "email" not in claims  # scope claims go to userinfo


def test_access_token_is_an_rfc9068_jwt(client, rp):
    code, verifier = _code(client, rp)
    body = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier).json
    token = _decode(client, body["access_token"])
    assert token.header["typ"] == "at+jwt"
    for claim in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope", "acr", "auth_time"):
        assert claim in token.claims
    assert token.claims["client_id"] == rp.client.client_id


def test_es256_id_token_when_the_client_registers_it(app, client):
    make_user(app)
    rp = make_client(app, id_token_signed_response_alg="ES256")
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    assert _decode(client, body["id_token"]).header["alg"] == "ES256"


def test_replayed_code_is_refused_and_revokes_its_tokens(client, rp):
    code, verifier = _code(client, rp)
    first = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert first.status_code == 200
    second = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + first.json["access_token"]})
    assert info.status_code == 401


@pytest.mark.parametrize("verifier", [None, "x" * 43, "short"])
def test_wrong_or_missing_pkce_verifier_is_refused(client, rp, verifier):
    code, _ = _code(client, rp)
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert response.status_code == 400
    assert response.json["error"] in ("invalid_grant", "invalid_request")


def test_wrong_redirect_uri_is_refused(client, rp):
    code, verifier = _code(client, rp)
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier,
                        redirect_uri=REDIRECT_URI + "x")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(client, rp):
    code, verifier = _code(client, rp)
    response = exchange(client, code, client_id=rp.client.client_id, secret="wrong", verifier=verifier)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_code_of_another_client_is_refused(app, client, rp):
    other = make_client(app, name="Other")
    code, verifier = _code(client, rp)
    response = exchange(client, code, client_id=other.client.client_id, secret=other.client_secret, verifier=verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_expired_code_is_refused(app, client, rp):
    code, verifier = _code(client, rp)
    from sqlalchemy import update

    from idp.db import get_session
    from idp.db import utc_now
    from idp.oidc.models import AuthorizationCode

    with app.app_context():
        db = get_session()
        db.execute(update(AuthorizationCode).values(expires_at=utc_now()))
        db.commit()
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_client_secret_post(app, client):
    make_user(app)
    rp = make_client(app, auth_method="client_secret_post")
    code, verifier = _code(client, rp)
    response = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT_URI, "code_verifier": verifier,
                                           "client_id": rp.client.client_id, "client_secret": rp.client_secret})
    assert response.status_code == 200, response.text


def test_public_client_with_pkce(app, client):
    make_user(app)
    rp = make_client(app, auth_method="none")
    assert rp.client_secret is None
    code, verifier = _code(client, rp)
    response = exchange(client, code, client_id=rp.client.client_id, secret=None, verifier=verifier)
    assert response.status_code == 200, response.text


def test_secrets_codes_and_tokens_are_stored_hashed(app, client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    from sqlalchemy import text

    from idp.db import get_session

    with app.app_context():
        dump = " ".join(str(row) for table in ("clients", "authorization_codes", "tokens")
                        for row in get_session().execute(text(f"SELECT * FROM {table}")))
    assert rp.client_secret not in dump
    assert body["access_token"] not in dump and body["refresh_token"] not in dump


# -- refresh tokens ---------------------------------------------------------------------------

def _refresh(client, rp, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})


def test_refresh_rotates_and_keeps_the_session_facts(client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    response = _refresh(client, rp, body["refresh_token"])
    assert response.status_code == 200, response.text
    new = response.json
    assert new["refresh_token"] != body["refresh_token"]
    old_claims = _decode(client, body["access_token"]).claims
    new_claims = _decode(client, new["access_token"]).claims
    assert new_claims["auth_time"] == old_claims["auth_time"] and new_claims["acr"] == old_claims["acr"]


def test_reused_refresh_token_revokes_the_family(client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    rotated = _refresh(client, rp, body["refresh_token"]).json
    replay = _refresh(client, rp, body["refresh_token"])
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    # the legitimate holder's newer token is dead too
    assert _refresh(client, rp, rotated["refresh_token"]).json["error"] == "invalid_grant"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + rotated["access_token"]})
    assert info.status_code == 401


def test_refresh_token_of_another_client_is_refused(app, client, rp):
    other = make_client(app, name="Other")
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                           headers={"Authorization": basic(other.client.client_id, other.client_secret)})
    assert response.json["error"] == "invalid_grant"


def test_refresh_cannot_widen_scope(client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                           "scope": "openid offline_access phone"},
                           headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert response.json["error"] == "invalid_scope"


@pytest.mark.parametrize("grant_type", ["password", "implicit", ""])
def test_unsupported_grant_types(client, rp, grant_type):
    response = client.post("/token", data={"grant_type": grant_type},
                           headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"


def test_client_credentials_needs_the_operators_grant(client, rp):
    """Supported (issue 13), only for the scopes the operator granted: none here (test_client_credentials.py)."""
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


# -- private_key_jwt --------------------------------------------------------------------------

@pytest.fixture
def jwt_rp(app):
    make_user(app)
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    new = make_client(app, auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]})
    return new, key


def _assertion(key, client_id, *, aud="http://localhost/token", exp_in=60, jti=None):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + exp_in,
              "jti": jti or f"jti-{time.time_ns()}"}
    return jwt.encode({"alg": "ES256", "kid": "rp-1"}, claims, key)


def _jwt_exchange(client, rp, key, *, form=None, **kw):
    code, verifier = _code(client, rp)
    return client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(key, rp.client.client_id, **kw), **(form or {})})


def test_private_key_jwt_accepts_issuer_or_token_endpoint_audience(client, jwt_rp):
    rp, key = jwt_rp
    assert _jwt_exchange(client, rp, key).status_code == 200
    assert _jwt_exchange(client, rp, key, aud="http://localhost").status_code == 200


def test_private_key_jwt_refuses_a_reused_jti(client, jwt_rp):
    rp, key = jwt_rp
    assert _jwt_exchange(client, rp, key, jti="same").status_code == 200
    response = _jwt_exchange(client, rp, key, jti="same")
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("kw", [{"exp_in": 3600 + 120}, {"exp_in": -120}, {"aud": "https://elsewhere.example/token"}])
def test_private_key_jwt_refuses_bad_assertions(client, jwt_rp, kw):
    rp, key = jwt_rp
    response = _jwt_exchange(client, rp, key, **kw)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("exp_in", [600, 3600])
def test_private_key_jwt_accepts_the_lifetimes_rp_libraries_sign_for(client, jwt_rp, exp_in):
    # pyoidc and idpyoidc sign for 600 s, Authlib for 3,600 s (docs/registration.md).
    rp, key = jwt_rp
    assert _jwt_exchange(client, rp, key, exp_in=exp_in).status_code == 200


def test_private_key_jwt_lifetime_cap_is_configurable(app, client, jwt_rp):
    app.config["CLIENT_ASSERTION_MAX_LIFETIME"] = 300
    rp, key = jwt_rp
    response = _jwt_exchange(client, rp, key, exp_in=600)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    assert "300 seconds" in response.json["error_description"]
    assert _jwt_exchange(client, rp, key, exp_in=300).status_code == 200


def test_private_key_jwt_jti_is_remembered_until_the_assertion_expires(app, client, jwt_rp, clock):
    app.config["CLIENT_ASSERTION_MAX_LIFETIME"] = 3600  # the setting cannot reopen a replay
    rp, key = jwt_rp
    assertion = _assertion(key, rp.client.client_id, exp_in=3000)

    def redeem():
        code, verifier = _code(client, rp)
        return client.post("/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})

    assert redeem().status_code == 200
    clock.advance(700)  # past any fixed memory of 600 s, still before the assertion's exp
    with app.app_context():  # what `idp db prune` runs
        prune(get_session(), now=utc_now())
    replay = redeem()
    assert replay.status_code in (400, 401) and replay.json["error"] == "invalid_client"


@pytest.mark.parametrize("aud", [
    ["http://localhost/token", "https://elsewhere.example/token"],
    ["http://localhost", "https://elsewhere.example"],
    "http://localhost/introspect",  # another endpoint's URL is not the token endpoint
    "http://localhost/userinfo",
    [],
])
def test_private_key_jwt_refuses_an_audience_that_is_not_only_this_server(client, jwt_rp, aud):
    rp, key = jwt_rp
    response = _jwt_exchange(client, rp, key, aud=aud)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_private_key_jwt_accepts_an_audience_array_of_issuer_and_token_endpoint(client, jwt_rp):
    rp, key = jwt_rp
    assert _jwt_exchange(client, rp, key, aud=["http://localhost", "http://localhost/token"]).status_code == 200


def test_private_key_jwt_refuses_a_client_id_that_is_not_the_assertions(app, client, jwt_rp):
    rp, key = jwt_rp
    other = make_client(app, name="Other e-Service")
    response = _jwt_exchange(client, rp, key, form={"client_id": other.client.client_id})
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    assert "client_id" in response.json["error_description"]
    assert _jwt_exchange(client, rp, key, form={"client_id": rp.client.client_id}).status_code == 200


def test_private_key_jwt_refuses_a_foreign_key(client, jwt_rp):
    rp, _ = jwt_rp
    stranger = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    response = _jwt_exchange(client, rp, stranger)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_private_key_jwt_with_keys_from_a_jwks_uri(app, client):
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler
    from http.server import ThreadingHTTPServer

    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    body = _json.dumps({"keys": [key.as_dict(private=False)]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        make_user(app)
        rp = make_client(app, auth_method="private_key_jwt",
                         jwks_uri=f"http://localhost:{server.server_address[1]}/jwks.json")
        assert _jwt_exchange(client, rp, key).status_code == 200
        stranger = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
        assert _jwt_exchange(client, rp, stranger).json["error"] == "invalid_client"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_unreachable_jwks_uri_is_invalid_client_not_a_crash(app, client):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    make_user(app)
    rp = make_client(app, auth_method="private_key_jwt", jwks_uri=f"http://localhost:{port}/jwks.json")
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    response = _jwt_exchange(client, rp, key)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


# -- one client authentication method per request, and errors that say what is wrong ---------

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _credentials(rp, key, ways):
    """Headers and form fields that authenticate ``rp`` (correctly) in each of ``ways``."""
    headers, form = {}, {}
    if "basic" in ways:
        headers["Authorization"] = basic(rp.client.client_id, rp.client_secret)
    if "post" in ways:
        form.update(client_id=rp.client.client_id, client_secret=rp.client_secret)
    if "jwt" in ways:
        form.update(client_assertion_type=ASSERTION_TYPE, client_assertion=_assertion(key, rp.client.client_id))
    return headers, form


@pytest.mark.parametrize("endpoint", ["/token", "/introspect", "/revoke"])
@pytest.mark.parametrize("ways", [("basic", "post"), ("basic", "jwt"), ("post", "jwt")])
def test_two_client_authentication_methods_in_one_request_are_invalid_request(client, rp, endpoint, ways):
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    headers, form = _credentials(rp, key, ways)
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI} \
        if endpoint == "/token" else {"token": "x"}
    response = client.post(endpoint, data={**data, **form}, headers=headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "more than one way" in response.json["error_description"]


def test_a_client_id_beside_basic_credentials_is_not_a_second_method(client, rp):
    code, verifier = _code(client, rp)
    response = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT_URI, "code_verifier": verifier,
                                           "client_id": rp.client.client_id},
                           headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("registered", "ways", "expected"), [
    ("client_secret_basic", ("post",),
     "This client authenticates with client_secret_basic; the request used client_secret_post."),
    ("client_secret_post", ("basic",),
     "This client authenticates with client_secret_post; the request used client_secret_basic."),
    ("client_secret_basic", ("jwt",),
     "This client authenticates with client_secret_basic; the request used private_key_jwt."),
    ("private_key_jwt", ("basic",),
     "This client authenticates with private_key_jwt; the request used client_secret_basic."),
    ("client_secret_basic", (),
     "This client authenticates with client_secret_basic; the request sent no client credentials."),
])
def test_client_authentication_errors_name_the_registered_and_the_used_method(app, client, registered, ways,
                                                                               expected):
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    extra = {"jwks": {"keys": [key.as_dict(private=False)]}} if registered == "private_key_jwt" else {}
    rp = make_client(app, auth_method=registered, **extra)
    if registered == "private_key_jwt":
        rp = dataclasses.replace(rp, client_secret="a-guess")
    stranger = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    headers, form = _credentials(rp, stranger, ways)
    form.setdefault("client_id", rp.client.client_id)
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x",
                                           "redirect_uri": REDIRECT_URI, **form}, headers=headers)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert response.json["error_description"] == expected


def test_a_wrong_secret_is_said_plainly_without_a_list_of_methods(client, rp):
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x",
                                           "redirect_uri": REDIRECT_URI},
                           headers={"Authorization": basic(rp.client.client_id, "wrong")})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert response.json["error_description"] == \
        "The client_id or client secret in the Authorization header is not correct."
    assert "WWW-Authenticate" in response.headers
