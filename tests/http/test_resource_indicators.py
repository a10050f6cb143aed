"""Resource indicators (RFC 8707): a token for one registered API carries it as ``aud``, only that
API hears about it at introspection, and a request naming anything else is ``invalid_target``."""

from urllib.parse import quote

import pytest

from tests.agencies import claims_of
from tests.agencies import introspect
from tests.agencies import make_api
from tests.agencies import token_request
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import full_flow
from tests.flows import pkce_pair

REVENUE = "https://api.revenue.example/"
HEALTH = "https://api.health.example/"


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app, scope="openid profile email offline_access")


@pytest.fixture
def revenue(app):
    return make_api(app, REVENUE, ["profile", "email"])


@pytest.fixture
def health(app):
    return make_api(app, HEALTH, ["profile"], name="Health API")


def test_a_token_for_a_resource_has_it_as_audience(client, rp, revenue):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile", resource=REVENUE)
    assert claims_of(body["access_token"])["aud"] == REVENUE
    answer = introspect(client, revenue, body["access_token"])
    assert answer["active"] is True and answer["aud"] == REVENUE and answer["client_id"] == rp.client.client_id
    assert answer["acr"] and isinstance(answer["auth_time"], int)


def test_without_a_resource_the_audience_is_the_issuer(client, rp, revenue):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile")
    assert claims_of(body["access_token"])["aud"] == "http://localhost"
    assert introspect(client, rp, body["access_token"])["aud"] == "http://localhost"
    # A resource server hears nothing of a token that is not meant for it.
    assert introspect(client, revenue, body["access_token"]) == {"active": False}


def test_a_resource_server_hears_nothing_of_a_token_for_another(client, rp, revenue, health):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile", resource=REVENUE)
    assert introspect(client, health, body["access_token"]) == {"active": False}
    # Nor does the e-Service it was issued to: the token is for the API, not for it.
    assert introspect(client, rp, body["access_token"]) == {"active": False}


def _authorization_error(client, rp, url):
    callback = follow_to_code(client, url)
    assert "code" not in callback
    return callback


@pytest.mark.parametrize("resource", ["https://unknown.example/", "not a uri", f"{REVENUE}#frag"])
def test_an_unknown_or_malformed_resource_is_invalid_target(client, rp, revenue, resource):
    _, challenge = pkce_pair()
    callback = _authorization_error(client, rp, authorize_url(rp.client.client_id, challenge, resource=resource))
    assert callback["error"] == "invalid_target" and callback["state"] == "st-123"
    assert callback["iss"] == "http://localhost"


def test_two_resources_are_invalid_target(client, rp, revenue, health):
    _, challenge = pkce_pair()
    url = authorize_url(rp.client.client_id, challenge, scope="openid profile", resource=REVENUE)
    url += "&resource=" + quote(HEALTH, safe="")
    assert _authorization_error(client, rp, url)["error"] == "invalid_target"


def test_a_scope_the_resource_does_not_accept_is_invalid_target(client, rp, health):
    _, challenge = pkce_pair()
    url = authorize_url(rp.client.client_id, challenge, scope="openid profile email", resource=HEALTH)
    assert _authorization_error(client, rp, url)["error"] == "invalid_target"


def test_a_resource_at_the_token_request_when_the_code_named_none(client, rp, revenue):
    verifier, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(rp.client.client_id, challenge, scope="openid profile"))
    response = exchange(client, callback["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                        verifier=verifier, resource=REVENUE)
    assert response.status_code == 200, response.text
    assert claims_of(response.json["access_token"])["aud"] == REVENUE


def test_the_token_request_cannot_change_the_codes_resource(client, rp, revenue, health):
    verifier, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(rp.client.client_id, challenge, scope="openid profile",
                                                    resource=REVENUE))
    response = exchange(client, callback["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                        verifier=verifier, resource=HEALTH)
    assert response.status_code == 400 and response.json["error"] == "invalid_target"


def test_refreshed_tokens_stay_with_the_grants_resource(client, rp, revenue, health):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile offline_access",
                     resource=REVENUE)
    refreshed = token_request(client, rp, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(refreshed.json["access_token"])["aud"] == REVENUE
    other = token_request(client, rp, grant_type="refresh_token", refresh_token=refreshed.json["refresh_token"],
                          resource=HEALTH)
    assert other.status_code == 400 and other.json["error"] == "invalid_target"


def test_a_grant_without_a_resource_may_refresh_into_one(client, rp, revenue, health):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile offline_access")
    refreshed = token_request(client, rp, grant_type="refresh_token", refresh_token=body["refresh_token"],
                              resource=HEALTH)
    assert refreshed.status_code == 200, refreshed.text
    assert introspect(client, health, refreshed.json["access_token"])["aud"] == HEALTH
    two = token_request(client, rp, grant_type="refresh_token", refresh_token=refreshed.json["refresh_token"],
                        resource=[REVENUE, HEALTH])
    assert two.status_code == 400 and two.json["error"] == "invalid_target"


def test_userinfo_refuses_a_token_meant_for_another_api(client, rp, revenue):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile", resource=REVENUE)
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
