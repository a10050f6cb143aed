"""Authorization endpoint rules (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207)."""

import json

import pytest

from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def test_unknown_client_gets_an_error_page_not_a_redirect(client, rp):
    _, challenge = pkce_pair()
    response = client.get(authorize_url("no-such-client", challenge))
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize("uri", ["https://rp.example/cb/other", "https://evil.example/cb", "https://rp.example/cb?x=1",
                                 "https://RP.example/cb"])
def test_unregistered_redirect_uri_gets_an_error_page(client, rp, uri):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, redirect_uri=uri))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_missing_redirect_uri_gets_an_error_page(client, rp):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, redirect_uri=""))
    assert response.status_code == 400 and "Location" not in response.headers


def _error_redirect(response):
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    params = query_of(location)
    assert params["iss"] == "http://localhost"
    assert params["state"] == "st-123"
    return params


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token"])
def test_only_the_code_response_type(client, rp, response_type):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, response_type=response_type))
    assert _error_redirect(response)["error"] in ("unsupported_response_type", "unauthorized_client")


def test_pkce_is_required(client, rp):
    response = client.get(authorize_url(rp.client.client_id, None))
    params = _error_redirect(response)
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]


def test_plain_pkce_is_rejected(client, rp):
    url = authorize_url(rp.client.client_id, None, code_challenge="a" * 43, code_challenge_method="plain")
    assert _error_redirect(client.get(url))["error"] == "invalid_request"


def test_pkce_without_method_is_rejected_as_it_would_mean_plain(client, rp):
    url = authorize_url(rp.client.client_id, None, code_challenge="a" * 43)
    assert _error_redirect(client.get(url))["error"] == "invalid_request"


def test_scope_without_openid_is_invalid_scope(client, rp):
    _, challenge = pkce_pair()
    assert _error_redirect(client.get(authorize_url(rp.client.client_id, challenge, scope="profile")))["error"] == \
        "invalid_scope"


@pytest.mark.parametrize("extra,error", [
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "bogus"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"claims": "not json"}, "invalid_request"),
    ({"claims": "[1]"}, "invalid_request"),
    ({"claims": json.dumps({"id_token": []})}, "invalid_request"),
    ({"id_token_hint": "not.a.jwt"}, "invalid_request"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"request_uri": "https://rp.example/req"}, "request_uri_not_supported"),
    ({"response_mode": "fragment"}, "invalid_request"),
])
def test_bad_oidc_parameters_redirect_with_an_error(client, rp, extra, error):
    _, challenge = pkce_pair()
    assert _error_redirect(client.get(authorize_url(rp.client.client_id, challenge, **extra)))["error"] == error


def test_prompt_none_without_a_session_is_login_required(client, rp):
    _, challenge = pkce_pair()
    assert _error_redirect(client.get(authorize_url(rp.client.client_id, challenge, prompt="none")))["error"] == \
        "login_required"


def test_prompt_none_without_consent_is_consent_required(client, rp):
    sign_in(client)
    _, challenge = pkce_pair()
    assert _error_redirect(client.get(authorize_url(rp.client.client_id, challenge, prompt="none")))["error"] == \
        "consent_required"


def test_success_echoes_state_and_adds_iss(client, rp):
    _, challenge = pkce_pair()
    params = follow_to_code(client, authorize_url(rp.client.client_id, challenge))
    assert params["state"] == "st-123"
    assert params["iss"] == "http://localhost"
    assert len(params["code"]) >= 40


def test_denied_consent_is_access_denied(client, rp):
    _, challenge = pkce_pair()
    params = follow_to_code(client, authorize_url(rp.client.client_id, challenge), decision="deny")
    assert params == {"error": "access_denied", "state": "st-123", "iss": "http://localhost"} | \
        {k: v for k, v in params.items() if k == "error_description"}


def test_consent_is_remembered_and_prompt_none_then_succeeds(client, rp):
    _, challenge = pkce_pair()
    follow_to_code(client, authorize_url(rp.client.client_id, challenge))
    response = client.get(authorize_url(rp.client.client_id, challenge, prompt="none"))
    assert response.status_code == 302
    assert "code" in query_of(response.headers["Location"])


def test_new_scope_asks_for_consent_again(client, rp):
    _, challenge = pkce_pair()
    follow_to_code(client, authorize_url(rp.client.client_id, challenge))
    response = client.get(authorize_url(rp.client.client_id, challenge, scope="openid profile email phone"))
    assert response.status_code == 200 and 'name="decision"' in response.text


def test_trusted_client_skips_consent(app, client):
    make_user(app)
    trusted = make_client(app, trusted=True)
    sign_in(client)
    _, challenge = pkce_pair()
    response = client.get(authorize_url(trusted.client.client_id, challenge))
    assert response.status_code == 302 and "code" in query_of(response.headers["Location"])


def test_prompt_login_forces_a_fresh_sign_in(client, rp):
    _, challenge = pkce_pair()
    follow_to_code(client, authorize_url(rp.client.client_id, challenge))
    response = client.get(authorize_url(rp.client.client_id, challenge, prompt="login"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    # after signing in again the request completes instead of looping back to sign-in
    params = follow_to_code(client, authorize_url(rp.client.client_id, challenge, prompt="login"))
    assert "code" in params


def test_max_age_zero_forces_sign_in(client, rp):
    _, challenge = pkce_pair()
    follow_to_code(client, authorize_url(rp.client.client_id, challenge))
    response = client.get(authorize_url(rp.client.client_id, challenge, max_age="0"))
    assert response.headers["Location"].startswith("/signin")


def test_login_hint_prefills_the_sign_in_form(client, rp):
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, login_hint="someone@example.com"))
    page = client.get(response.headers["Location"])
    assert 'value="someone@example.com"' in page.text


def test_unknown_parameters_are_ignored(client, rp):
    _, challenge = pkce_pair()
    params = follow_to_code(client, authorize_url(rp.client.client_id, challenge, foo="bar", display="page"))
    assert "code" in params


def test_repeated_parameters_are_refused(client, rp):
    _, challenge = pkce_pair()
    url = authorize_url(rp.client.client_id, challenge) + "&state=again"
    response = client.get(url)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_consent_post_needs_csrf(client, rp):
    sign_in(client)
    _, challenge = pkce_pair()
    url = authorize_url(rp.client.client_id, challenge)
    response = client.post(url, data={"decision": "allow"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_acr_values_are_recorded_and_the_id_token_reports_what_was_achieved(app, client, rp):
    from sqlalchemy import select

    from idp.db import get_session
    from idp.oidc.models import AuthorizationCode

    _, challenge = pkce_pair()
    params = follow_to_code(client, authorize_url(rp.client.client_id, challenge,
                                                  acr_values="urn:th:digitalid:ial2:aal2 urn:th:digitalid:ial1:aal1"))
    assert "code" in params
    with app.app_context():
        row = get_session().scalar(select(AuthorizationCode))
        assert row.requested_acr == ["urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial1:aal1"]
        assert row.acr == "urn:th:digitalid:ial1:aal1"  # never more than was done
