"""Authorization requests by POST (OIDC Core §3.1.2.1: the endpoint MUST support GET and POST).

CSRF protection applies to the IdP's own forms (consent), not to an RP's request carried by the
browser; every continuation (sign-in, step-up, consent) carries the POSTed parameters.
"""

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from idp.accounts.service import find_by_email
from idp.authn import totp
from idp.db import get_session
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in
from tests.http.test_assurance import SECRET
from tests.http.test_assurance import current_code
from tests.http.test_assurance import follow
from tests.http.test_assurance import offered
from tests.http.test_assurance import step_up


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _form(client_id, challenge, **extra):
    """The parameters of an authorization request, as an RP's auto-submitting form sends them."""
    return {k: v[0] for k, v in parse_qs(urlsplit(authorize_url(client_id, challenge, **extra)).query).items()}


def _post(client, form):
    """A cross-site form POST: no CSRF token, no cookie of the IdP's forms."""
    response = client.post("/authorize", data=form)
    assert response.status_code == 303, response.text
    return response


def test_a_code_flow_started_by_post_with_sign_in_in_between(client, rp):
    verifier, challenge = pkce_pair()
    response = _post(client, _form(rp.client.client_id, challenge, state="st-post", nonce="n-post"))
    callback = follow_to_code(client, response.headers["Location"])
    assert callback["state"] == "st-post" and callback["iss"] == "http://localhost" and "code" in callback
    token = exchange(client, callback["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                     verifier=verifier)
    assert token.status_code == 200 and token.json["id_token"]


def test_a_code_flow_started_by_post_with_a_step_up(app, client, clock):
    make_user(app)
    trusted = make_client(app, trusted=True)
    with app.app_context():
        db = get_session()
        totp.import_secret(db, find_by_email(db, "citizen@example.com"), SECRET, name="Token", config=app.config)
    sign_in(client)
    verifier, challenge = pkce_pair()
    form = _form(trusted.client.client_id, challenge, acr_values="urn:th:digitalid:ial1:aal2", state="st-up")
    page = follow(client, _post(client, form))
    assert page.status_code == 200 and offered(page) == {"totp"}
    done = follow(client, step_up(client, page, "totp", code=current_code(clock)))
    callback = query_of(done.headers["Location"])
    assert done.headers["Location"].startswith(REDIRECT_URI)
    assert callback["state"] == "st-up" and "code" in callback
    token = exchange(client, callback["code"], client_id=trusted.client.client_id, secret=trusted.client_secret,
                     verifier=verifier)
    assert token.status_code == 200


def test_a_posted_request_with_prompt_none_and_no_session_is_login_required(client, rp):
    _, challenge = pkce_pair()
    response = follow(client, _post(client, _form(rp.client.client_id, challenge, prompt="none")))
    params = query_of(response.headers["Location"])
    assert params["error"] == "login_required" and params["state"] == "st-123"


def test_an_oversized_posted_request_gets_a_readable_400(client, rp):
    _, challenge = pkce_pair()
    response = client.post("/authorize", data=_form(rp.client.client_id, challenge, login_hint="x" * 3000),
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400 and "Location" not in response.headers
    assert "too long" in response.text


def test_a_cross_site_post_of_the_consent_form_is_refused(app, client, rp):
    sign_in(client)
    _, challenge = pkce_pair()
    form = _form(rp.client.client_id, challenge)
    forged = client.post("/authorize", data={**form, "decision": "allow"})
    assert forged.status_code == 400 and "Location" not in forged.headers
    forged = client.post(authorize_url(rp.client.client_id, challenge), data={"decision": "allow"})
    assert forged.status_code == 400 and "Location" not in forged.headers
    # Nothing was agreed to: the next request still asks.
    page = client.get(authorize_url(rp.client.client_id, challenge))
    assert page.status_code == 200 and 'name="decision"' in page.text
