"""RP-Initiated Logout 1.0."""

from urllib.parse import urlencode

import pytest

from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import full_flow
from tests.flows import pkce_pair


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _signed_in(client):
    return client.get("/").text.count("Sign out") > 0 or "signout" in client.get("/").text


def test_logout_with_hint_redirects_to_registered_uri_with_state(client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    query = urlencode({"id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://rp.example/bye",
                       "state": "bye-1"})
    response = client.get("/logout?" + query)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://rp.example/bye?state=bye-1"
    # the session is over: authorizing again asks to sign in
    _, challenge = pkce_pair()
    again = client.get(authorize_url(rp.client.client_id, challenge))
    assert again.headers["Location"].startswith("/signin")


def test_unregistered_post_logout_uri_is_not_followed(client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    query = urlencode({"id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://evil.example/"})
    response = client.get("/logout?" + query)
    assert response.status_code == 200 and "Location" not in response.headers


@pytest.mark.parametrize("hint", [None, "garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_missing_or_invalid_hint_asks_for_confirmation(client, rp, hint):
    full_flow(client, rp.client.client_id, rp.client_secret)
    params = {"post_logout_redirect_uri": "https://rp.example/bye"}
    if hint:
        params["id_token_hint"] = hint
    page = client.get("/logout?" + urlencode(params))
    assert page.status_code == 200 and 'name="confirm"' in page.text
    _, challenge = pkce_pair()
    assert client.get(authorize_url(rp.client.client_id, challenge, prompt="none")).status_code == 302
    # still signed in until confirmed
    done = client.post("/logout?" + urlencode(params), data={"confirm": "yes", "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Location" not in done.headers
    again = client.get(authorize_url(rp.client.client_id, challenge))
    assert again.headers["Location"].startswith("/signin")


def test_confirmation_needs_csrf(client, rp):
    full_flow(client, rp.client.client_id, rp.client_secret)
    response = client.post("/logout", data={"confirm": "yes"})
    assert response.status_code == 400
