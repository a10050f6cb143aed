"""Userinfo (OIDC Core §5.3) and bearer errors (RFC 6750 §3)."""

import json

import pytest
from sqlalchemy import update

from idp.db import get_session
from idp.db import utc_now
from idp.oidc.models import Token
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import full_flow
from tests.support.documents import serve_documents


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _get(client, token, method="GET"):
    return client.open("/userinfo", method=method, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_claims_by_scope(client, rp, method):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid email")
    info = _get(client, body["access_token"], method)
    assert info.status_code == 200
    assert info.json["email"] == "citizen@example.com" and info.json["email_verified"] is True
    assert "name" not in info.json  # profile not asked for


def test_sub_matches_the_id_token_and_is_pairwise(app, client, rp):
    from joserfc import jwt as _jwt
    from joserfc.jwk import KeySet

    other = make_client(app, name="Other agency", redirect_uris=["https://other.example/cb"])
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    sub = _jwt.decode(body["id_token"], keys).claims["sub"]
    assert _get(client, body["access_token"]).json["sub"] == sub
    from tests.flows import authorize_url
    from tests.flows import exchange
    from tests.flows import follow_to_code
    from tests.flows import pkce_pair

    verifier, challenge = pkce_pair()
    params = follow_to_code(client, authorize_url(other.client.client_id, challenge,
                                                  redirect_uri="https://other.example/cb"),
                            redirect_uri="https://other.example/cb")
    other_body = exchange(client, params["code"], client_id=other.client.client_id, secret=other.client_secret,
                          verifier=verifier, redirect_uri="https://other.example/cb").json
    other_sub = _jwt.decode(other_body["id_token"], keys).claims["sub"]
    assert other_sub != sub  # two agencies cannot link the citizen by sub


def test_claims_parameter_selects_individual_claims(client, rp):
    claims = json.dumps({"userinfo": {"name": {"essential": True}}, "id_token": {"email": None}})
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid", claims=claims)
    info = _get(client, body["access_token"]).json
    assert info["name"] == "Somchai Jaidee" and "email" not in info
    from joserfc import jwt as _jwt
    from joserfc.jwk import KeySet

    id_claims = _jwt.decode(body["id_token"], KeySet.import_key_set(client.get("/jwks.json").json)).claims
    assert id_claims["email"] == "citizen@example.com"


def test_missing_token_is_401_with_a_challenge(client):
    response = client.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="userinfo"'


@pytest.mark.parametrize("token", ["garbage", "a" * 5000, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_bad_token_is_invalid_token(client, token):
    response = _get(client, token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_invalid_token(app, client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    with app.app_context():
        db = get_session()
        db.execute(update(Token).values(access_expires_at=utc_now()))
        db.commit()
    response = _get(client, body["access_token"])
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_same_sector_same_sub_public_subject_is_shared(app, client):
    from joserfc import jwt as _jwt
    from joserfc.jwk import KeySet

    make_user(app)
    keys = lambda: KeySet.import_key_set(client.get("/jwks.json").json)  # noqa: E731
    subs = []
    with serve_documents() as documents:  # the sector document lists the redirect URI (OIDC Registration §5)
        sector = documents.put("/sector.json", ["https://rp.example/cb"]).replace("127.0.0.1", "localhost")
        for name, subject_type, extra in [("A", "pairwise", {"sector_identifier_uri": sector}),
                                          ("B", "pairwise", {"sector_identifier_uri": sector}),
                                          ("C", "public", {}), ("D", "public", {})]:
            rp = make_client(app, name=name, subject_type=subject_type, **extra)
            body = full_flow(client, rp.client.client_id, rp.client_secret)
            subs.append(_jwt.decode(body["id_token"], keys()).claims["sub"])
    assert subs[0] == subs[1] and subs[2] == subs[3] and subs[0] != subs[2]


def test_pairwise_client_with_several_hosts_needs_a_sector(app):
    from idp.oidc.clients import ClientMetadataError

    with pytest.raises(ClientMetadataError):
        make_client(app, redirect_uris=["https://a.example/cb", "https://b.example/cb"])


def test_post_with_the_token_in_the_form_body(client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid email")
    info = client.post("/userinfo", data={"access_token": body["access_token"]})
    assert info.status_code == 200 and info.json["email"] == "citizen@example.com"
    bad = client.post("/userinfo", data={"access_token": "nope"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_an_e_service_gets_only_the_claims_it_is_allowed(app, client):
    make_user(app)
    limited = make_client(app, allowed_claims=["email"])
    claims = json.dumps({"userinfo": {"name": {"essential": True}},
                         "id_token": {"email": None, "name": None, "acr": {"essential": True}}})
    body = full_flow(client, limited.client.client_id, limited.client_secret, scope="openid", claims=claims)
    info = _get(client, body["access_token"]).json
    assert "name" not in info
    from joserfc import jwt as _jwt
    from joserfc.jwk import KeySet

    id_claims = _jwt.decode(body["id_token"], KeySet.import_key_set(client.get("/jwks.json").json)).claims
    assert id_claims["email"] == "citizen@example.com" and "name" not in id_claims and "acr" in id_claims


def test_allowed_claims_must_be_known_claims(app):
    from idp.oidc.clients import ClientMetadataError

    with pytest.raises(ClientMetadataError, match="allowed_claims"):
        make_client(app, allowed_claims=["sub"])
    with pytest.raises(ClientMetadataError, match="national_id"):
        make_client(app, allowed_claims=["national_id"])


@pytest.mark.parametrize(("method", "where"), [("POST", "body"), ("GET", "query"), ("POST", "query")])
def test_a_token_in_the_header_and_the_request_is_invalid_request(client, rp, method, where):
    token = full_flow(client, rp.client.client_id, rp.client_secret)["access_token"]
    url = f"/userinfo?access_token={token}" if where == "query" else "/userinfo"
    data = {"access_token": token} if where == "body" else None
    response = client.open(url, method=method, data=data, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert "email" not in response.json


def test_a_token_in_the_body_and_the_query_is_invalid_request(client, rp):
    token = full_flow(client, rp.client.client_id, rp.client_secret)["access_token"]
    response = client.post(f"/userinfo?access_token={token}", data={"access_token": token})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
