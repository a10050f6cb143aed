"""Sign-up, sign-in, email verification, sign-out, language."""

import email
import email.policy
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.accounts.models import User
from idp.db import get_session
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.flows import csrf_of
from tests.flows import sign_in

EN = {"Accept-Language": "en"}


def _signup(client, **form):
    page = client.get("/signup", headers=EN)
    data = {"email": "new@example.com", "name": "Malee", "password": "plenty long phrase", **form}
    return client.post("/signup", data={**data, "csrf_token": csrf_of(page.text)}, headers=EN)


def test_forms_follow_autocomplete_standards_and_label_every_input(client):
    signin = client.get("/signin").text
    assert 'autocomplete="username webauthn"' in signin and 'autocomplete="current-password"' in signin
    signup = client.get("/signup").text
    assert 'autocomplete="new-password"' in signup
    for html in (signin, signup):
        for input_id in re.findall(r'<input id="([^"]+)"', html):
            assert f'<label for="{input_id}">' in html


def test_sign_up_sends_a_verification_link_that_verifies(app, client):
    response = _signup(client)
    assert response.status_code == 302
    outbox = sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    assert len(outbox) == 1
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    link = re.search(r"http://localhost(/verify-email/\S+)", message.get_body(("plain",)).get_content()).group(1)
    with app.app_context():
        assert get_session().scalar(select(User)).email_verified is False
    assert client.get(link).status_code == 200
    with app.app_context():
        assert get_session().scalar(select(User)).email_verified is True


def test_a_tampered_verification_link_is_refused(client):
    assert client.get("/verify-email/not-a-token").status_code == 400


@pytest.mark.parametrize("password,fragment", [
    ("short", "at least 8"), ("password", "too common"), ("12345678", "too common"), ("x" * 257, "at most 256"),
])
def test_sign_up_password_rules(app, client, password, fragment):
    response = _signup(client, password=password)
    assert response.status_code == 400 and fragment in response.text
    with app.app_context():
        assert get_session().scalar(select(User)) is None


def test_sign_up_allows_64_characters_and_no_composition_rules(client):
    assert _signup(client, password="a" * 30 + " " + "b" * 33).status_code == 302


def test_wrong_password_shows_the_form_again_without_saying_which_part(app, client):
    make_user(app)
    response = sign_in(client, password="wrong password!")
    assert response.status_code == 200
    assert 'autocomplete="current-password"' in response.text
    unknown = sign_in(client, email="nobody@example.com")
    assert unknown.status_code == 200
    assert "nobody@example.com" not in client.get("/", headers=EN).text


def test_sign_in_rotates_the_session_and_sign_out_ends_it(app, client):
    make_user(app)
    client.get("/signin")
    before = client.get_cookie("idp_session").value
    assert sign_in(client).status_code == 302
    after = client.get_cookie("idp_session").value
    assert before != after
    home = client.get("/", headers=EN).text
    assert "citizen@example.com" in home
    client.post("/signout", data={"csrf_token": csrf_of(home)})
    assert "citizen@example.com" not in client.get("/", headers=EN).text


def test_forms_require_csrf(app, client):
    make_user(app)
    response = client.post("/signin", data={"email": "citizen@example.com", "password": PASSWORD})
    assert response.status_code == 400


def test_sign_in_never_redirects_off_site(app, client):
    make_user(app)
    page = client.get("/signin")
    response = client.post("/signin", data={"email": "citizen@example.com", "password": PASSWORD,
                                            "csrf_token": csrf_of(page.text), "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_argon2id_hash_is_stored_and_upgraded_when_parameters_change(app, client):
    from argon2 import PasswordHasher

    user = make_user(app)
    with app.app_context():
        db = get_session()
        row = db.get(User, user.id)
        assert row.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        row.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        db.commit()
    assert sign_in(client).status_code == 302
    with app.app_context():
        assert get_session().get(User, user.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_withdrawing_consent_revokes_tokens_and_asks_again(app, client):
    from tests.factories import make_client
    from tests.flows import authorize_url
    from tests.flows import full_flow
    from tests.flows import pkce_pair

    make_user(app)
    rp = make_client(app)
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    page = client.get("/connected-services", headers=EN).text
    assert "Restaurant licence" in page and "Your email address" in page
    ask = client.post("/connected-services", headers=EN, data={"client": str(rp.client.id),
                                                               "csrf_token": csrf_of(page)})
    assert ask.status_code == 200 and "Withdraw consent from Restaurant licence?" in ask.text
    assert 'name="confirm" value="yes"' in ask.text and "Your email address" in ask.text
    still = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert still.status_code == 200  # nothing withdrawn before the confirmation
    client.post("/connected-services", data={"client": str(rp.client.id), "confirm": "yes",
                                             "csrf_token": csrf_of(ask.text)})
    assert "Restaurant licence" not in client.get("/connected-services", headers=EN).text
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 401
    _, challenge = pkce_pair()
    again = client.get(authorize_url(rp.client.client_id, challenge))
    assert again.status_code == 200 and 'name="decision"' in again.text


def test_connected_services_needs_sign_in(client):
    response = client.get("/connected-services")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
