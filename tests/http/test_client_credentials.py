"""``client_credentials`` (RFC 6749 §4.4): an agency's back-end gets a token for itself, only
with the scopes the operator granted it, without anything about a person."""

import pytest
from sqlalchemy import select

from idp.db import get_session
from idp.oidc.models import Token
from tests.agencies import claims_of
from tests.agencies import grant_machine_scopes
from tests.agencies import introspect
from tests.agencies import make_api
from tests.agencies import set_metadata
from tests.agencies import token_request
from tests.factories import make_client
from tests.flows import basic
from tests.support.dpop import DPoPKey

REVENUE = "https://api.revenue.example/"


@pytest.fixture
def agency(app):
    backend = make_client(app, name="Revenue back-end")
    grant_machine_scopes(app, backend.client.client_id, ["tax:read", "tax:write"])
    return backend


def test_a_granted_scope_gives_a_token_about_the_client_only(app, client, agency):
    response = token_request(client, agency, grant_type="client_credentials", scope="tax:read")
    assert response.status_code == 200, response.text
    body = response.json
    assert body["token_type"] == "Bearer" and body["scope"] == "tax:read" and body["expires_in"] > 0
    assert "refresh_token" not in body and "id_token" not in body
    claims = claims_of(body["access_token"])
    assert claims["sub"] == agency.client.client_id and claims["aud"] == "http://localhost"
    assert not {"acr", "amr", "auth_time", "sid", "email", "name"} & set(claims)
    answer = introspect(client, agency, body["access_token"])
    assert answer["active"] is True and answer["sub"] == agency.client.client_id
    assert not {"acr", "amr", "auth_time"} & set(answer)
    with app.app_context():
        row = get_session().scalar(select(Token))
        assert row is not None and row.user_id is None and row.refresh_token_hash is None


def test_without_a_scope_every_granted_scope(client, agency):
    response = token_request(client, agency, grant_type="client_credentials")
    assert response.status_code == 200 and response.json["scope"] == "tax:read tax:write"


def test_a_scope_not_granted_is_invalid_scope(client, agency):
    response = token_request(client, agency, grant_type="client_credentials", scope="tax:read openid")
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_a_client_without_machine_scopes_is_unauthorized(app, client):
    other = make_client(app, name="No machine access")
    response = token_request(client, other, grant_type="client_credentials")
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_public_client_is_unauthorized(app, client):
    public = make_client(app, name="Mobile app", auth_method="none")
    response = token_request(client, public, grant_type="client_credentials", scope="tax:read")
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_wrong_secret_is_invalid_client(client, agency):
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": basic(agency.client.client_id, "wrong")})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_with_a_resource_the_token_is_for_that_api(app, client, agency):
    api = make_api(app, REVENUE, ["tax:read"])
    response = token_request(client, agency, grant_type="client_credentials", scope="tax:read", resource=REVENUE)
    assert response.status_code == 200, response.text
    assert claims_of(response.json["access_token"])["aud"] == REVENUE
    assert introspect(client, api, response.json["access_token"])["aud"] == REVENUE
    refused = token_request(client, agency, grant_type="client_credentials", scope="tax:write", resource=REVENUE)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"
    unknown = token_request(client, agency, grant_type="client_credentials", resource="https://nope.example/")
    assert unknown.status_code == 400 and unknown.json["error"] == "invalid_target"


def test_userinfo_refuses_a_clients_own_token(app, client, agency):
    token = token_request(client, agency, grant_type="client_credentials").json["access_token"]
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json["error"] == "insufficient_scope"
    # Even with openid among its scopes, a token without a person has nothing for userinfo.
    grant_machine_scopes(app, agency.client.client_id, ["openid", "tax:read"])
    token = token_request(client, agency, grant_type="client_credentials").json["access_token"]
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revocation_and_a_withdrawn_scope_end_the_token(app, client, agency):
    token = token_request(client, agency, grant_type="client_credentials").json["access_token"]
    response = client.post("/revoke", data={"token": token},
                           headers={"Authorization": basic(agency.client.client_id, agency.client_secret)})
    assert response.status_code == 200
    assert introspect(client, agency, token) == {"active": False}
    token = token_request(client, agency, grant_type="client_credentials", scope="tax:write").json["access_token"]
    grant_machine_scopes(app, agency.client.client_id, ["tax:read"])
    assert introspect(client, agency, token) == {"active": False}


@pytest.mark.parametrize("metadata", [{"fapi_profile": "fapi2"}, {"dpop_bound_access_tokens": True}])
def test_a_client_that_needs_dpop_gets_no_bearer_token(app, client, agency, metadata):
    set_metadata(app, agency.client.client_id, **metadata)
    response = token_request(client, agency, grant_type="client_credentials")
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof"


def test_with_a_dpop_proof_the_token_is_bound_to_its_key(app, client, agency):
    set_metadata(app, agency.client.client_id, dpop_bound_access_tokens=True)
    key = DPoPKey()
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": basic(agency.client.client_id, agency.client_secret),
                                    "DPoP": key.proof("POST", "/token")})
    assert response.status_code == 200, response.text
    assert response.json["token_type"] == "DPoP" and "refresh_token" not in response.json
    assert claims_of(response.json["access_token"])["cnf"] == {"jkt": key.jkt}
    answer = introspect(client, agency, response.json["access_token"])
    assert answer["token_type"] == "DPoP" and answer["cnf"] == {"jkt": key.jkt}
