"""DPoP (RFC 9449) end to end: bound tokens at the token endpoint, userinfo and introspection,
and every refusal a client can run into."""

import datetime as dt
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.db import utc_now
from idp.oidc import tokens
from idp.oidc.models import Client
from idp.oidc.models import Token
from idp.oidc.models import UsedDPoPProof
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.support.dpop import DPoPKey

SCOPE = "openid email offline_access"


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


@pytest.fixture
def public_rp(app):
    make_user(app, email="public@example.com")
    return make_client(app, name="Mobile app", auth_method="none")


def _code(client, rp, *, email="citizen@example.com", **extra):
    verifier, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(rp.client.client_id, challenge, scope=SCOPE, **extra), email=email)
    return callback, verifier


def _token(client, rp, data, key=None, proof=None):
    headers = {}
    if rp.client_secret:
        headers["Authorization"] = basic(rp.client.client_id, rp.client_secret)
    else:
        data = {**data, "client_id": rp.client.client_id}
    if proof is None and key is not None:
        proof = key.proof("POST", "/token")
    if proof is not None:
        headers["DPoP"] = proof
    response = client.post("/token", data=data, headers=headers)
    if key is not None:
        key.remember(response)
    return response


def _redeem(client, rp, key, *, proof=None, email="citizen@example.com", **extra):
    callback, verifier = _code(client, rp, email=email, **extra)
    data = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}
    return _token(client, rp, data, key, proof)


def _refresh(client, rp, refresh_token, key=None, proof=None):
    return _token(client, rp, {"grant_type": "refresh_token", "refresh_token": refresh_token}, key, proof)


def _userinfo(client, access_token, key=None, *, scheme="DPoP", proof=None, method="GET"):
    headers = {"Authorization": f"{scheme} {access_token}"}
    if proof is None and key is not None:
        proof = key.proof(method, "/userinfo", access_token=access_token)
    if proof is not None:
        headers["DPoP"] = proof
    response = client.open("/userinfo", method=method, headers=headers)
    if key is not None:
        key.remember(response)
    return response


def _introspect(client, rp, token):
    return client.post("/introspect", data={"token": token},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)}).json


def _claims(client, token):
    return jwt.decode(token, KeySet.import_key_set(client.get("/jwks.json").json)).claims


def _events(app, reason):
    with app.app_context():
        rows = get_session().scalars(select(AuditEvent).where(AuditEvent.event == "dpop_refused"))
        return [row for row in rows if row.details.get("reason") == reason]


def _set_metadata(app, rp, **values):
    with app.app_context():
        db = get_session()
        row = db.get(Client, rp.client.id)
        row.client_metadata = {**row.client_metadata, **values}
        db.commit()


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
def test_full_flow_binds_every_token_to_the_key(app, client, rp, alg):
    key = DPoPKey(alg)
    response = _redeem(client, rp, key)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "DPoP" and response.headers["DPoP-Nonce"]
    assert _claims(client, body["access_token"])["cnf"] == {"jkt": key.jkt}

    info = _userinfo(client, body["access_token"], key)
    assert info.status_code == 200 and info.json["email"] == "citizen@example.com"
    assert info.headers["DPoP-Nonce"]

    introspected = _introspect(client, rp, body["access_token"])
    assert introspected["active"] and introspected["token_type"] == "DPoP"
    assert introspected["cnf"] == {"jkt": key.jkt}

    refreshed = _refresh(client, rp, body["refresh_token"], key)
    assert refreshed.status_code == 200 and refreshed.json["token_type"] == "DPoP"
    assert _claims(client, refreshed.json["access_token"])["cnf"] == {"jkt": key.jkt}
    assert _userinfo(client, refreshed.json["access_token"], key).status_code == 200


def test_without_a_proof_tokens_stay_bearer(client, rp):
    body = _redeem(client, rp, None).json
    assert body["token_type"] == "Bearer" and "cnf" not in _claims(client, body["access_token"])
    assert "cnf" not in _introspect(client, rp, body["access_token"])
    # A bearer token presented with the DPoP scheme is not bound to the proof's key (§7.1).
    response = _userinfo(client, body["access_token"], DPoPKey())
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')


def test_discovery_lists_the_proof_algorithms(client):
    assert client.get("/.well-known/openid-configuration").json["dpop_signing_alg_values_supported"] == [
        "ES256", "PS256", "EdDSA"]


def test_userinfo_challenge_offers_dpop(client):
    challenges = client.get("/userinfo").headers.getlist("WWW-Authenticate")
    assert challenges == ['Bearer realm="userinfo"', 'DPoP realm="userinfo", algs="ES256 PS256 EdDSA"']


# -- refusals at the token endpoint -------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda key: key.proof("POST", "http://localhost/userinfo"),  # wrong htu
    lambda key: key.proof("POST", "https://localhost/token"),
    lambda key: key.proof("GET", "/token"),  # wrong htm
    lambda key: key.proof("POST", "/token", iat=int(time.time()) - 120),  # too old
    lambda key: key.proof("POST", "/token", iat=int(time.time()) + 120),  # in the future
    lambda key: key.proof("POST", "/token", header={"jwk": key.key.as_dict(private=True)}),  # private key
    lambda key: key.proof("POST", "/token", header={"typ": "JWT"}),
    lambda key: "not-a-jwt",
], ids=["htu", "htu-scheme", "htm", "iat-old", "iat-future", "private-jwk", "typ", "garbage"])
def test_a_bad_proof_at_the_token_endpoint_is_invalid_dpop_proof(app, client, rp, make):
    key = DPoPKey()
    response = _redeem(client, rp, key, proof=make(key))
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof"
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Token)) == 0


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_alg_none_or_symmetric_is_refused(client, rp, alg):
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    key = DPoPKey()
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.key.as_dict(private=False)}
    proof = ".".join([b64(header), b64({"jti": "j", "htm": "POST", "htu": "http://localhost/token",
                                        "iat": int(time.time())}), "c2ln"])
    response = _redeem(client, rp, key, proof=proof)
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof"


def test_two_dpop_headers_are_refused(client, rp):
    key = DPoPKey()
    callback, verifier = _code(client, rp)
    response = client.post("/token", data={"grant_type": "authorization_code", "code": callback["code"],
                                           "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
                           headers=[("Authorization", basic(rp.client.client_id, rp.client_secret)),
                                    ("DPoP", key.proof("POST", "/token")), ("DPoP", key.proof("POST", "/token"))])
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof"


def test_a_replayed_proof_is_refused_and_audited(app, client, rp):
    key = DPoPKey()
    proof = key.proof("POST", "/token")
    assert _redeem(client, rp, key, proof=proof).status_code == 200
    again = _redeem(client, rp, key, proof=proof)
    assert again.status_code == 400 and again.json["error"] == "invalid_dpop_proof"
    assert "already used" in again.json["error_description"]
    assert len(_events(app, "proof_replayed")) == 1


def test_a_client_registered_for_dpop_must_send_a_proof(app, client):
    make_user(app)
    bound = make_client(app, dpop_bound_access_tokens=True)
    assert bound.client.client_metadata["dpop_bound_access_tokens"] is True
    response = _redeem(client, bound, None)
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof"
    assert _redeem(client, bound, DPoPKey()).json["token_type"] == "DPoP"


def test_dpop_bound_access_tokens_must_be_a_boolean(app):
    from idp.oidc.clients import ClientMetadataError
    from idp.oidc.clients import validate_metadata

    base = {"client_name": "x", "redirect_uris": [REDIRECT_URI]}
    assert "dpop_bound_access_tokens" not in validate_metadata({**base, "dpop_bound_access_tokens": False})
    with pytest.raises(ClientMetadataError):
        validate_metadata({**base, "dpop_bound_access_tokens": "yes"})


# -- nonces ---------------------------------------------------------------------------------

def test_nonce_required_by_setting_then_accepted_from_dpop_nonce(app, client, rp):
    app.config["DPOP_NONCE_REQUIRED"] = True
    key = DPoPKey()
    callback, verifier = _code(client, rp)
    data = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}
    first = _token(client, rp, data, key)
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce"
    assert key.nonce and first.headers["DPoP-Nonce"] == key.nonce
    second = _token(client, rp, data, key)  # the same code: refusing the proof did not use it up
    assert second.status_code == 200 and second.json["token_type"] == "DPoP"

    key.nonce = None
    refused = _userinfo(client, second.json["access_token"], key)
    assert refused.status_code == 401 and refused.json["error"] == "use_dpop_nonce"
    assert refused.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert refused.headers["DPoP-Nonce"] == key.nonce
    assert _userinfo(client, second.json["access_token"], key).status_code == 200


def test_fapi2_clients_always_need_a_nonce(app, client, rp):
    # The code first: a FAPI 2.0 client's authorization requests must be pushed (PAR, tests/http/test_fapi.py).
    callback, verifier = _code(client, rp)
    _set_metadata(app, rp, fapi_profile="fapi2")
    key = DPoPKey()
    data = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}
    assert _token(client, rp, data).json["error"] == "invalid_dpop_proof"  # FAPI 2.0: DPoP required
    first = _token(client, rp, data, key)
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce"


def test_a_stale_nonce_is_refused_and_the_new_one_given(app, client, rp, clock):
    key = DPoPKey()
    _redeem(client, rp, key)  # the response hands out a nonce
    old = key.nonce
    clock.advance(2 * app.config["DPOP_NONCE_LIFETIME"])
    key.nonce = old
    response = _redeem(client, rp, key, proof=key.proof("POST", "/token", iat=int(clock.timestamp())))
    assert response.status_code == 400 and response.json["error"] == "use_dpop_nonce"
    assert response.headers["DPoP-Nonce"] != old


# -- refusals at userinfo -------------------------------------------------------------------

@pytest.fixture
def bound(client, rp):
    key = DPoPKey()
    return key, _redeem(client, rp, key).json


def test_a_bound_token_sent_as_bearer_is_refused(app, client, bound):
    _, body = bound
    response = _userinfo(client, body["access_token"], scheme="Bearer")
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    assert 'algs="ES256 PS256 EdDSA"' in response.headers["WWW-Authenticate"]
    form = client.post("/userinfo", data={"access_token": body["access_token"]})
    assert form.status_code == 401 and form.json["error"] == "invalid_token"
    assert len(_events(app, "bound_token_as_bearer")) == 2


@pytest.mark.parametrize("make", [
    lambda key, token: key.proof("GET", "/userinfo", access_token=token + "x"),  # wrong ath
    lambda key, token: key.proof("GET", "/userinfo"),  # no ath
    lambda key, token: key.proof("POST", "/userinfo", access_token=token),  # wrong htm
    lambda key, token: key.proof("GET", "/token", access_token=token),  # wrong htu
    lambda key, token: None,  # no proof at all
], ids=["ath", "no-ath", "htm", "htu", "missing"])
def test_a_bad_proof_at_userinfo_is_401_invalid_dpop_proof(client, bound, make):
    key, body = bound
    proof = make(key, body["access_token"])
    headers = {"Authorization": f"DPoP {body['access_token']}", **({"DPoP": proof} if proof else {})}
    response = client.get("/userinfo", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "invalid_dpop_proof"
    assert response.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def test_a_replayed_proof_at_userinfo_is_refused(client, bound):
    key, body = bound
    proof = key.proof("GET", "/userinfo", access_token=body["access_token"])
    assert _userinfo(client, body["access_token"], proof=proof).status_code == 200
    again = _userinfo(client, body["access_token"], proof=proof)
    assert again.status_code == 401 and again.json["error"] == "invalid_dpop_proof"


def test_a_proof_by_another_key_is_refused(app, client, bound):
    _, body = bound
    response = _userinfo(client, body["access_token"], DPoPKey())
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert len(_events(app, "token_key_mismatch")) == 1


# -- refresh tokens and dpop_jkt ------------------------------------------------------------

def test_a_public_clients_refresh_token_is_bound_to_its_key(app, client, public_rp):
    key = DPoPKey()
    body = _redeem(client, public_rp, key, email="public@example.com").json
    assert _introspect_refresh_is_bound(app, body["refresh_token"], key.jkt)
    for other in (DPoPKey(), None):
        refused = _refresh(client, public_rp, body["refresh_token"], other)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert len(_events(app, "refresh_key_mismatch")) == 2
    # Not used up by the refusals: its holder, with the key, still refreshes.
    assert _refresh(client, public_rp, body["refresh_token"], key).json["token_type"] == "DPoP"


def _introspect_refresh_is_bound(app, refresh_token, jkt):
    with app.app_context():
        row = tokens.find_refresh_token(get_session(), refresh_token)
        return row.dpop_jkt == jkt and tokens.introspection_payload(row, refresh=True)["cnf"] == {"jkt": jkt}


def test_a_confidential_clients_refresh_token_is_not_bound(client, rp):
    key = DPoPKey()
    body = _redeem(client, rp, key).json
    assert "cnf" not in _introspect(client, rp, body["refresh_token"])
    refreshed = _refresh(client, rp, body["refresh_token"], DPoPKey())
    assert refreshed.status_code == 200 and refreshed.json["token_type"] == "DPoP"


def test_dpop_jkt_binds_the_code_to_a_key(app, client, rp):
    key = DPoPKey()
    callback, verifier = _code(client, rp, dpop_jkt=key.jkt)
    data = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}
    for other in (DPoPKey(), None):
        refused = _token(client, rp, data, other)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert len(_events(app, "dpop_jkt_mismatch")) == 2
    response = _token(client, rp, data, key)
    assert response.status_code == 200 and _claims(client, response.json["access_token"])["cnf"]["jkt"] == key.jkt


def test_a_malformed_dpop_jkt_is_refused_at_authorization(client, rp):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, dpop_jkt="short"))
    assert response.status_code == 302 and "error=invalid_request" in response.headers["Location"]


# -- the replay store ----------------------------------------------------------------------

def test_used_proofs_are_pruned_after_their_window(app, client, bound):
    with app.app_context():
        db = get_session()
        assert db.scalar(select(func.count()).select_from(UsedDPoPProof)) == 1
        counts = tokens.prune(db, now=utc_now() + dt.timedelta(seconds=120))
        assert counts["used_dpop_proofs"] == 1
        assert db.scalar(select(func.count()).select_from(UsedDPoPProof)) == 0


def test_the_same_proof_twice_at_once_passes_once(app, client, bound):
    """Two requests racing with one proof: the unique (jkt, jti) row lets exactly one through,
    whichever instance or thread each reaches (RFC 9449 §11.1)."""
    from tests.http.test_token_races import _together

    key, body = bound
    for _ in range(5):
        proof = key.proof("GET", "/userinfo", access_token=body["access_token"])
        responses = _together(app, lambda own, p=proof: _userinfo(own, body["access_token"], proof=p))
        assert sorted(r.status_code for r in responses) == [200, 401]
        assert next(r for r in responses if r.status_code == 401).json["error"] == "invalid_dpop_proof"


def test_dynamic_registration_accepts_dpop_bound_access_tokens(app, client):
    from idp.oidc.registration import issue_initial_token
    from tests.http.test_registration import GOOD

    with app.app_context():
        token = issue_initial_token(get_session(), agency="Revenue Department", allowed_scopes=["profile", "email"],
                                    max_ial=2, max_aal=2, days=30).token
    headers = {"Authorization": f"Bearer {token}"}
    registered = client.post("/register", json={**GOOD, "dpop_bound_access_tokens": True}, headers=headers)
    assert registered.status_code == 201 and registered.json["dpop_bound_access_tokens"] is True
    refused = client.post("/register", json={**GOOD, "dpop_bound_access_tokens": "yes"}, headers=headers)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_client_metadata"
    with app.app_context():
        row = get_session().scalar(select(Client).where(Client.client_id == registered.json["client_id"]))
        from idp.oidc import dpop_requests

        assert dpop_requests.client_requires_dpop(row)


def test_a_pushed_request_binds_its_code_to_the_proofs_key_or_dpop_jkt(app, rp):
    """What the PAR endpoint calls (RFC 9449 §10.1): the proof's key, else ``dpop_jkt``; both must agree."""
    from idp.oidc import dpop_requests

    key, other = DPoPKey(), DPoPKey()

    def bind(proof, **data):
        headers = {"DPoP": proof} if proof else {}
        with app.test_request_context("/par", method="POST", headers=headers):
            row = get_session().get(Client, rp.client.id)
            return dpop_requests.jkt_for_pushed_request(row, data)

    assert bind(key.proof("POST", "/par")) == key.jkt
    assert bind(None, dpop_jkt=other.jkt) == other.jkt
    assert bind(key.proof("POST", "/par"), dpop_jkt=key.jkt) == key.jkt
    assert bind(None) is None
    for proof, data, error in [(key.proof("POST", "/par"), {"dpop_jkt": other.jkt}, "invalid_dpop_proof"),
                               (None, {"dpop_jkt": "short"}, "invalid_request"),
                               (key.proof("POST", "/token"), {}, "invalid_dpop_proof")]:
        with pytest.raises(dpop_requests.TokenEndpointDPoPError) as caught:
            bind(proof, **data)
        assert caught.value.error == error
