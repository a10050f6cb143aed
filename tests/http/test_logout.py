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


def _id_token(client, rp, email="citizen@example.com"):
    from tests.flows import exchange
    from tests.flows import follow_to_code

    verifier, challenge = pkce_pair()
    code = follow_to_code(client, authorize_url(rp.client.client_id, challenge), email=email)["code"]
    response = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert response.status_code == 200, response.text
    return response.json["id_token"]


def _still_signed_in(client, rp):
    _, challenge = pkce_pair()
    location = client.get(authorize_url(rp.client.client_id, challenge, prompt="none")).headers["Location"]
    return "code=" in location and "error=" not in location


def _logout_query(hint):
    return urlencode({"id_token_hint": hint, "post_logout_redirect_uri": "https://rp.example/bye", "state": "s-9"})


def test_another_users_id_token_does_not_end_the_session(app, client, rp):
    """RP-Initiated Logout 1.0 §2/§4: a hint that does not name this browser's session gets a question."""
    from tests.factories import make_user as make_other

    make_other(app, "other@example.com")
    theirs = _id_token(app.test_client(), rp, email="other@example.com")
    _id_token(client, rp)
    page = client.get("/logout?" + _logout_query(theirs))
    assert page.status_code == 200 and 'name="confirm"' in page.text and "Location" not in page.headers
    assert _still_signed_in(client, rp)


def test_an_id_token_from_an_earlier_session_does_not_end_the_session(client, rp):
    old = _id_token(client, rp)
    assert client.get("/logout?" + _logout_query(old)).status_code == 302  # ends the session it names
    _id_token(client, rp)  # signed in again: a new session
    page = client.get("/logout?" + _logout_query(old))
    assert page.status_code == 200 and 'name="confirm"' in page.text
    assert _still_signed_in(client, rp)


def test_confirming_a_foreign_hint_ends_the_session_and_returns_to_the_rp(app, client, rp):
    from tests.factories import make_user as make_other

    make_other(app, "other@example.com")
    theirs = _id_token(app.test_client(), rp, email="other@example.com")
    _id_token(client, rp)
    page = client.get("/logout?" + _logout_query(theirs))
    done = client.post("/logout?" + _logout_query(theirs), data={"confirm": "yes", "csrf_token": csrf_of(page.text)})
    assert done.status_code == 302 and done.headers["Location"] == "https://rp.example/bye?state=s-9"
    assert not _still_signed_in(client, rp)


def test_a_foreign_hint_posted_without_the_form_does_not_end_the_session(app, client, rp):
    from tests.factories import make_user as make_other

    make_other(app, "other@example.com")
    theirs = _id_token(app.test_client(), rp, email="other@example.com")
    _id_token(client, rp)
    response = client.post("/logout?" + _logout_query(theirs), data={"confirm": "yes"})
    assert response.status_code == 400  # the confirmation is CSRF-protected
    assert _still_signed_in(client, rp)


def test_a_valid_hint_with_no_session_left_returns_to_the_rp(client, rp):
    hint = _id_token(client, rp)
    assert client.get("/logout?" + _logout_query(hint)).status_code == 302
    again = client.get("/logout?" + _logout_query(hint))  # nothing left to end: no question needed
    assert again.status_code == 302 and again.headers["Location"] == "https://rp.example/bye?state=s-9"
