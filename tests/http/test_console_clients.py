"""The admin's e-Service console: only admins get in; e-Services are created and edited with the
shared validator (errors on the page, nothing lost); a secret is shown once and never cached;
rotation keeps the old secret for the grace period only; disabling stops tokens and sign-in at once;
approving a pending registration lets it work; agencies' registration tokens are issued once and
revoked; every change is audited with the admin as actor."""

import re

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.crypto import hash_secret
from idp.db import get_session
from idp.oidc.clients import store_client
from idp.oidc.clients import validate_metadata
from idp.oidc.models import Client
from idp.oidc.models import InitialAccessToken
from idp.oidc.registration import find_initial_token
from idp.oidc.registration import issue_initial_token
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import full_flow
from tests.flows import pkce_pair
from tests.staff import admin_client
from tests.staff import browser
from tests.staff import make_staff
from tests.staff import post
from tests.staff import staff_client

FORM = {"client_name": "Business licence", "client_name_th": "ใบอนุญาตประกอบธุรกิจ",
        "logo_uri": "https://rp.example/logo.png", "redirect_uris": "https://rp.example/cb\r\nhttps://rp.example/cb2",
        "post_logout_redirect_uris": "https://rp.example/bye", "scope": ["profile", "email", "offline_access"],
        "default_acr_values": ["urn:th:digitalid:ial2:aal2"], "subject_type": "pairwise",
        "token_endpoint_auth_method": "client_secret_basic", "id_token_signed_response_alg": "ES256"}


@pytest.fixture
def admin(app, clock):
    return admin_client(app, clock)


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app, name_th="ใบอนุญาตร้านอาหาร")


def _client(app, client_id):
    with app.app_context():
        return get_session().scalar(select(Client).where(Client.client_id == client_id))


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


CHANGES = ("client_created", "client_updated", "client_secret_rotated", "client_disabled", "client_enabled",
           "client_approved", "initial_token_issued", "initial_token_revoked")


def _changes(app):
    """How many of each change event the audit log holds."""
    return {name: len(_events(app, name)) for name in CHANGES}


def _admin_id(app):
    return make_staff(app, "admin@example.com", "admin")


def _shown(html, field):
    match = re.search(rf'id="{field}" type="text" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _refresh(client, rp_client_id, secret, refresh_token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                       headers={"Authorization": basic(rp_client_id, secret)})


def _introspect(client, client_id, secret, token):
    return client.post("/introspect", data={"token": token}, headers={"Authorization": basic(client_id, secret)})


def _token_id(app):
    with app.app_context():
        return issue_initial_token(get_session(), agency="Ministry", allowed_scopes=["profile"], max_ial=1,
                                   max_aal=2, days=30).row.id


def _routes(client_id, token_id):
    gets = ["/console/clients/", "/console/clients/new", f"/console/clients/{client_id}",
            f"/console/clients/{client_id}/edit", f"/console/clients/{client_id}/check", "/console/clients/tokens"]
    posts = [("/console/clients/new", FORM), (f"/console/clients/{client_id}/edit", FORM),
             (f"/console/clients/{client_id}/rotate", {"grace_hours": "0"}),
             (f"/console/clients/{client_id}/disable", {}), (f"/console/clients/{client_id}/enable", {}),
             (f"/console/clients/{client_id}/approve", {}),
             ("/console/clients/tokens", {"agency": "X", "max_ial": "1", "max_aal": "1", "days": "1"}),
             (f"/console/clients/tokens/{token_id}/revoke", {})]
    return gets, posts


# -- who gets in --------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_everywhere(app, rp):
    gets, posts = _routes(rp.client.client_id, _token_id(app))
    before = _changes(app)
    anonymous = browser(app)
    for url in gets:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/signin" in response.headers["Location"], url
    for url, data in posts:
        response = post(anonymous, url, **data)
        assert response.status_code == 302 and "/signin" in response.headers["Location"], url
    assert _changes(app) == before


@pytest.mark.parametrize("role", [None, "auditor", "support", "proofing_officer"])
def test_everyone_but_admins_gets_403_everywhere(app, clock, rp, role):
    gets, posts = _routes(rp.client.client_id, _token_id(app))
    before = _changes(app)
    someone = staff_client(app, clock, f"{role or 'citizen'}@example.com", *([role] if role else []))
    for url in gets:
        assert someone.get(url).status_code == 403, url
    for url, data in posts:
        assert post(someone, url, **data).status_code == 403, url
    assert _client(app, rp.client.client_id).client_secret_hash == hash_secret(rp.client_secret)
    assert _changes(app) == before


def test_admin_opens_every_page(app, admin, rp):
    gets, _ = _routes(rp.client.client_id, _token_id(app))
    for url in gets:
        assert admin.get(url).status_code == 200, url


def test_a_post_without_csrf_token_is_refused(app, admin, rp):
    _, posts = _routes(rp.client.client_id, _token_id(app))
    before = _changes(app)
    for url, data in posts:
        assert admin.post(url, data=data).status_code == 400, url
    assert _changes(app) == before


def test_unknown_client_is_404(admin):
    assert admin.get("/console/clients/nope").status_code == 404
    assert admin.get("/console/clients/nope/edit").status_code == 404
    assert post(admin, "/console/clients/nope/edit", **FORM).status_code == 404
    assert post(admin, "/console/clients/nope/rotate", grace_hours="1").status_code == 404
    assert post(admin, "/console/clients/nope/disable").status_code == 404
    assert post(admin, "/console/clients/tokens/999/revoke").status_code == 404


# -- the list -----------------------------------------------------------------------------------------


def test_the_list_shows_pending_first_with_reasons_and_agency(app, admin, rp):
    with app.app_context():
        db = get_session()
        row = issue_initial_token(db, agency="Department of Lands", allowed_scopes=["profile"], max_ial=1,
                                  max_aal=2, days=30).row
        pending = store_client(db, validate_metadata({"client_name": "Aardvark registry",
                                                      "redirect_uris": [REDIRECT_URI],
                                                      "default_acr_values": ["urn:th:digitalid:ial2:aal2"]}),
                               status="pending", review_reasons=["scope_not_allowed"], initial_token=row).client
        pending_id = pending.client_id
    page = admin.get("/console/clients/").text
    rows = re.findall(r'<tr data-client="([^"]+)" data-status="([^"]+)"', page)
    assert rows[0] == (pending_id, "pending") and (rp.client.client_id, "active") in rows
    assert "Registrations waiting for approval" in page and 'data-reason="scope_not_allowed"' in page
    assert "It asks for scopes outside those the agency" in page
    assert "Department of Lands" in page and "Verified identity (IAL2); Two-step sign-in (AAL2)" in page
    assert "ใบอนุญาตร้านอาหาร" in page and "Restaurant licence" in page
    assert 'href="/console/clients/new"' in page


def test_no_pending_section_when_nothing_waits(admin, rp):
    assert "Registrations waiting for approval" not in admin.get("/console/clients/").text


# -- creating and editing -----------------------------------------------------------------------------


def test_create_stores_the_metadata_and_shows_the_secret_once(app, admin):
    response = post(admin, "/console/clients/new", **FORM, national_id_allowed="1", trusted="1")
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    client_id, secret = _shown(response.text, "client_id"), _shown(response.text, "client_secret")
    assert 'autocomplete="off"' in response.text
    stored = _client(app, client_id)
    assert stored.client_secret_hash == hash_secret(secret) and stored.trusted and stored.status == "active"
    meta = stored.client_metadata
    assert meta["client_name"] == "Business licence" and meta["client_name#th"] == "ใบอนุญาตประกอบธุรกิจ"
    assert meta["redirect_uris"] == ["https://rp.example/cb", "https://rp.example/cb2"]
    assert meta["post_logout_redirect_uris"] == ["https://rp.example/bye"]
    assert meta["scope"] == "openid profile email offline_access national_id"
    assert meta["national_id_allowed"] is True and meta["logo_uri"] == "https://rp.example/logo.png"
    assert meta["default_acr_values"] == ["urn:th:digitalid:ial2:aal2"]
    assert meta["id_token_signed_response_alg"] == "ES256" and meta["subject_type"] == "pairwise"
    [event] = _events(app, "client_created")
    assert event.actor_id == _admin_id(app) and event.client_id == stored.id
    assert secret not in str(event.details)
    # never shown again
    assert secret not in admin.get(f"/console/clients/{client_id}").text


def test_create_without_the_national_id_box_does_not_allow_it(app, admin):
    response = post(admin, "/console/clients/new", **FORM)
    meta = _client(app, _shown(response.text, "client_id")).client_metadata
    assert "national_id" not in meta["scope"].split() and "national_id_allowed" not in meta


def test_a_public_client_gets_no_secret_and_goes_to_its_page(app, admin):
    response = post(admin, "/console/clients/new", **{**FORM, "token_endpoint_auth_method": "none"})
    assert response.status_code == 302
    client_id = response.headers["Location"].rsplit("/", 1)[1]
    assert _client(app, client_id).client_secret_hash is None
    assert "was registered" in admin.get(response.headers["Location"]).text


@pytest.mark.parametrize("uri", ["http://rp.example/cb", "https://rp.example/cb#frag", "/cb", "ftp://rp.example/cb",
                                 "https://[::1"])
def test_create_refuses_a_bad_redirect_uri_and_keeps_the_form(app, admin, uri):
    response = post(admin, "/console/clients/new", **{**FORM, "redirect_uris": uri})
    assert response.status_code == 400
    assert 'role="alert"' in response.text and "was not saved" in response.text
    assert 'value="Business licence"' in response.text and 'value="ใบอนุญาตประกอบธุรกิจ"' in response.text
    assert f">{uri}</textarea>" in response.text
    assert re.search(r'value="urn:th:digitalid:ial2:aal2" checked', response.text)
    assert re.search(r'value="ES256" selected', response.text)
    with app.app_context():
        assert get_session().scalar(select(Client)) is None
    assert not _events(app, "client_created")


@pytest.mark.parametrize("uri", ["http://localhost:8080/cb", "http://127.0.0.1/cb"])
def test_create_allows_http_on_localhost(app, admin, uri):
    response = post(admin, "/console/clients/new", **{**FORM, "redirect_uris": uri})
    assert response.status_code == 200
    assert _client(app, _shown(response.text, "client_id")).redirect_uris == [uri]


@pytest.mark.parametrize(("change", "message"), [
    ({"client_name": ""}, "client_name is required"),
    ({"redirect_uris": ""}, "At least one redirect URI"),
    ({"jwks": "{not json"}, "jwks is not valid JSON"),
    ({"jwks": "[1]"}, "jwks must be a JWK Set"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "private_key_jwt needs jwks"),
    ({"token_endpoint_auth_method": "magic"}, "Unknown token_endpoint_auth_method"),
    ({"default_acr_values": ["urn:other"]}, "Unknown acr value"),
    ({"scope": ["national_id"]}, "national_id scope"),
    ({"redirect_uris": "https://a.example/cb\nhttps://b.example/cb"}, "sector_identifier_uri"),
])
def test_create_shows_validation_errors(app, admin, change, message):
    response = post(admin, "/console/clients/new", **{**FORM, **change})
    assert response.status_code == 400 and message in response.text
    with app.app_context():
        assert get_session().scalar(select(Client)) is None


def test_private_key_jwt_with_pasted_keys_stores_public_parts_only(app, admin):
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    import json

    jwks = json.dumps({"keys": [key.as_dict(private=True)]})
    response = post(admin, "/console/clients/new", **{**FORM, "token_endpoint_auth_method": "private_key_jwt",
                                                       "jwks": jwks})
    assert response.status_code == 302
    stored = _client(app, response.headers["Location"].rsplit("/", 1)[1])
    assert stored.client_metadata["jwks"]["keys"][0].get("d") is None and stored.client_secret_hash is None


def test_edit_form_is_filled_from_the_stored_metadata(admin, rp):
    page = admin.get(f"/console/clients/{rp.client.client_id}/edit").text
    assert 'value="Restaurant licence"' in page and 'value="ใบอนุญาตร้านอาหาร"' in page
    assert ">https://rp.example/cb</textarea>" in page and ">https://rp.example/bye</textarea>" in page
    assert re.search(r'<input type="checkbox" id="national_id_allowed" name="national_id_allowed" value="1" ', page)
    assert 'value="ใบอนุญาตร้านอาหาร" lang="th"' in page
    assert re.search(r'<textarea id="jwks"[^>]*autocomplete="off"', page)
    assert page.count("<label for=") >= page.count("<input id=") + page.count("<textarea id=")


def test_edit_saves_the_metadata_and_audits_the_fields(app, admin, rp):
    response = post(admin, f"/console/clients/{rp.client.client_id}/edit",
                    **{**FORM, "client_name": "Restaurant licence (new)", "trusted": "1"})
    assert response.status_code == 302
    stored = _client(app, rp.client.client_id)
    assert stored.name == "Restaurant licence (new)" and stored.trusted
    assert stored.client_metadata["redirect_uris"] == ["https://rp.example/cb", "https://rp.example/cb2"]
    assert stored.client_metadata["client_name#th"] == "ใบอนุญาตประกอบธุรกิจ"
    assert stored.client_secret_hash == hash_secret(rp.client_secret)  # the secret is untouched
    [event] = _events(app, "client_updated")
    assert event.actor_id == _admin_id(app) and event.client_id == stored.id
    assert {"client_name", "redirect_uris", "trusted"} <= set(event.details["fields"])


def test_the_national_id_permission_is_given_and_taken_away_on_edit(app, admin, rp):
    """The operator's decision, e.g. for a registration held with national_id_needs_operator; taking it
    away revokes the tokens that carry the number, and only those."""
    cid = rp.client.client_id
    form = {k: v for k, v in FORM.items() if k != "default_acr_values"}  # an IAL1 citizen signs in below
    assert post(admin, f"/console/clients/{cid}/edit", **form, national_id_allowed="1").status_code == 302
    meta = _client(app, cid).client_metadata
    assert meta["national_id_allowed"] is True and "national_id" in meta["scope"].split()
    with_number = full_flow(browser(app), cid, rp.client_secret, scope="openid national_id")
    without = full_flow(browser(app), cid, rp.client_secret, scope="openid profile")
    [event] = _events(app, "client_updated")
    assert {"national_id_allowed", "scope"} <= set(event.details["fields"])

    assert post(admin, f"/console/clients/{cid}/edit", **form).status_code == 302
    meta = _client(app, cid).client_metadata
    assert "national_id_allowed" not in meta and "national_id" not in meta["scope"].split()
    citizen = browser(app)
    assert _introspect(citizen, cid, rp.client_secret, with_number["access_token"]).json == {"active": False}
    assert _introspect(citizen, cid, rp.client_secret, without["access_token"]).json["active"] is True


def test_edit_with_bad_input_changes_nothing(app, admin, rp):
    response = post(admin, f"/console/clients/{rp.client.client_id}/edit",
                    **{**FORM, "client_name": "Changed", "redirect_uris": "http://evil.example/cb"})
    assert response.status_code == 400 and 'value="Changed"' in response.text
    stored = _client(app, rp.client.client_id)
    assert stored.name == "Restaurant licence" and stored.redirect_uris == [REDIRECT_URI]
    assert not _events(app, "client_updated")


def test_edit_to_a_secret_method_shows_a_new_secret_once(app, admin):
    created = post(admin, "/console/clients/new", **{**FORM, "token_endpoint_auth_method": "none"})
    client_id = created.headers["Location"].rsplit("/", 1)[1]
    response = post(admin, f"/console/clients/{client_id}/edit", **FORM)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert _client(app, client_id).client_secret_hash == hash_secret(_shown(response.text, "client_secret"))


# -- the client page: rotation ------------------------------------------------------------------------


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(app, clock, admin, rp):
    citizen = browser(app)
    tokens = full_flow(citizen, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    response = post(admin, f"/console/clients/{rp.client.client_id}/rotate", grace_hours="2")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new_secret = _shown(response.text, "client_secret")
    assert new_secret != rp.client_secret and "keeps working until" in response.text
    old = _refresh(citizen, rp.client.client_id, rp.client_secret, tokens["refresh_token"])
    assert old.status_code == 200, old.text
    new = _refresh(citizen, rp.client.client_id, new_secret, old.json["refresh_token"])
    assert new.status_code == 200, new.text
    clock.advance(2 * 3600 + 1)
    late = _refresh(citizen, rp.client.client_id, rp.client_secret, new.json["refresh_token"])
    assert late.status_code == 401 and late.json["error"] == "invalid_client"
    assert _refresh(citizen, rp.client.client_id, new_secret, new.json["refresh_token"]).status_code == 200
    [event] = _events(app, "client_secret_rotated")
    assert event.actor_id == _admin_id(app) and event.details["grace_seconds"] == 7200
    assert new_secret not in str(event.details)


def test_rotation_with_no_grace_stops_the_old_secret_at_once(app, admin, rp):
    citizen = browser(app)
    tokens = full_flow(citizen, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    response = post(admin, f"/console/clients/{rp.client.client_id}/rotate", grace_hours="0")
    assert "stopped working now" in response.text
    new_secret = _shown(response.text, "client_secret")
    old = _refresh(citizen, rp.client.client_id, rp.client_secret, tokens["refresh_token"])
    assert old.status_code == 401
    assert _refresh(citizen, rp.client.client_id, new_secret, tokens["refresh_token"]).status_code == 200


def test_rotation_grace_defaults_to_the_configured_period(app, admin, rp):
    page = admin.get(f"/console/clients/{rp.client.client_id}").text
    assert re.search(r'id="grace_hours" name="grace_hours"[^>]*value="168"', page)
    post(admin, f"/console/clients/{rp.client.client_id}/rotate", grace_hours="")
    assert _events(app, "client_secret_rotated")[0].details["grace_seconds"] == 7 * 24 * 3600


@pytest.mark.parametrize("hours", ["-1", "1.5", "abc", "99999"])
def test_rotation_refuses_a_bad_grace_period(app, admin, rp, hours):
    response = post(admin, f"/console/clients/{rp.client.client_id}/rotate", grace_hours=hours)
    assert response.status_code == 400 and "whole number of hours" in response.text
    assert _client(app, rp.client.client_id).client_secret_hash == hash_secret(rp.client_secret)


def test_rotation_of_a_client_without_a_secret_is_refused(app, admin):
    created = post(admin, "/console/clients/new", **{**FORM, "token_endpoint_auth_method": "none"})
    client_id = created.headers["Location"].rsplit("/", 1)[1]
    response = post(admin, f"/console/clients/{client_id}/rotate", grace_hours="1")
    assert response.status_code == 400 and "does not use a client secret" in response.text
    assert not _events(app, "client_secret_rotated")


# -- the client page: disable, enable, approve --------------------------------------------------------


def test_disabling_stops_tokens_and_sign_in_and_enabling_brings_them_back(app, admin, rp):
    citizen = browser(app)
    cid, secret = rp.client.client_id, rp.client_secret
    tokens = full_flow(citizen, cid, secret, scope="openid offline_access")
    assert _introspect(citizen, cid, secret, tokens["access_token"]).json["active"] is True

    assert post(admin, f"/console/clients/{cid}/disable").status_code == 302
    assert _client(app, cid).status == "disabled"
    # Its resource servers hear that the token is no longer active (RFC 7662 §2.2).
    assert _introspect(citizen, cid, secret, tokens["access_token"]).json == {"active": False}
    assert citizen.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    assert _refresh(citizen, cid, secret, tokens["refresh_token"]).status_code == 401
    _, challenge = pkce_pair()
    authorize = citizen.get(authorize_url(cid, challenge))
    assert authorize.status_code == 400 and "Location" not in authorize.headers
    assert "disabled" in admin.get(f"/console/clients/{cid}").text

    assert post(admin, f"/console/clients/{cid}/enable").status_code == 302
    assert _introspect(citizen, cid, secret, tokens["access_token"]).json["active"] is True
    assert citizen.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 200
    assert "access_token" in full_flow(citizen, cid, secret)
    admin_id = _admin_id(app)
    assert [e.actor_id for e in _events(app, "client_disabled")] == [admin_id]
    assert [e.actor_id for e in _events(app, "client_enabled")] == [admin_id]


def test_status_actions_from_the_wrong_status_change_nothing(app, admin, rp):
    cid = rp.client.client_id
    assert post(admin, f"/console/clients/{cid}/enable").status_code == 400
    assert post(admin, f"/console/clients/{cid}/approve").status_code == 400
    assert _client(app, cid).status == "active"
    assert not _events(app, "client_enabled") and not _events(app, "client_approved")


def _pending(app, reasons=("scope_not_allowed", "assurance_above_agency_limit")):
    with app.app_context():
        metadata = validate_metadata({"client_name": "Pending e-Service", "redirect_uris": [REDIRECT_URI]})
        created = store_client(get_session(), metadata, status="pending", review_reasons=list(reasons))
        return created.client.client_id, created.client_secret


def test_approving_a_pending_registration_makes_it_work(app, admin):
    make_user(app)
    cid, secret = _pending(app)
    citizen = browser(app)
    _, challenge = pkce_pair()
    assert citizen.get(authorize_url(cid, challenge)).status_code == 400
    page = admin.get(f"/console/clients/{cid}").text
    assert 'data-reason="scope_not_allowed"' in page and 'data-reason="assurance_above_agency_limit"' in page
    assert "It asks for scopes outside those the agency" in page
    assert f'action="/console/clients/{cid}/approve"' in page

    assert post(admin, f"/console/clients/{cid}/approve").status_code == 302
    stored = _client(app, cid)
    assert stored.status == "active" and stored.review_reasons == []
    assert "access_token" in full_flow(citizen, cid, secret)
    [event] = _events(app, "client_approved")
    assert event.actor_id == _admin_id(app) and event.client_id == stored.id
    assert f'action="/console/clients/{cid}/approve"' not in admin.get(f"/console/clients/{cid}").text


def test_disabling_a_pending_registration_refuses_it(app, admin):
    cid, _ = _pending(app)
    assert post(admin, f"/console/clients/{cid}/disable").status_code == 302
    assert _client(app, cid).status == "disabled"
    assert post(admin, f"/console/clients/{cid}/approve").status_code == 400
    assert _client(app, cid).status == "disabled"


# -- agencies' registration tokens --------------------------------------------------------------------


def test_issuing_a_token_shows_it_once(app, admin):
    response = post(admin, "/console/clients/tokens", agency="Department of Lands", scope=["profile", "email"],
                    max_ial="2", max_aal="2", days="10")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = _shown(response.text, "initial_access_token")
    with app.app_context():
        row = find_initial_token(get_session(), token)
        assert row is not None and row.agency == "Department of Lands"
        assert row.allowed_scopes == ["email", "openid", "profile"] and (row.max_ial, row.max_aal) == (2, 2)
        assert 9.9 < (row.expires_at - row.created_at).total_seconds() / 86400 < 10.1
    listing = admin.get("/console/clients/tokens").text
    assert "Department of Lands" in listing and token not in listing and "usable" in listing
    [event] = _events(app, "initial_token_issued")
    assert event.actor_id == _admin_id(app) and token not in str(event.details)


def test_the_national_id_scope_cannot_be_given_to_an_agency(app, admin):
    response = post(admin, "/console/clients/tokens", agency="Agency", scope=["national_id", "profile"],
                    max_ial="1", max_aal="2", days="10")
    with app.app_context():
        row = find_initial_token(get_session(), _shown(response.text, "initial_access_token"))
        assert row is not None and row.allowed_scopes == ["openid", "profile"]


@pytest.mark.parametrize("change", [{"agency": " "}, {"days": "0"}, {"days": "367"}, {"days": "x"},
                                    {"max_ial": "4"}, {"max_aal": ""}])
def test_issuing_a_token_with_a_bad_policy_is_refused(app, admin, change):
    data = {"agency": "Department of Lands", "max_ial": "1", "max_aal": "2", "days": "10", **change}
    response = post(admin, "/console/clients/tokens", **data)
    assert response.status_code == 400 and 'role="alert"' in response.text
    with app.app_context():
        assert get_session().scalar(select(InitialAccessToken)) is None


def test_revoking_a_token(app, admin):
    with app.app_context():
        issued = issue_initial_token(get_session(), agency="Ministry", allowed_scopes=[], max_ial=1, max_aal=2,
                                     days=30)
        token_id, token = issued.row.id, issued.token
    assert post(admin, f"/console/clients/tokens/{token_id}/revoke").status_code == 302
    with app.app_context():
        assert find_initial_token(get_session(), token) is None
    page = admin.get("/console/clients/tokens").text
    assert "revoked" in page and f'action="/console/clients/tokens/{token_id}/revoke"' not in page
    [event] = _events(app, "initial_token_revoked")
    assert event.actor_id == _admin_id(app) and event.details["token_id"] == token_id


def test_an_etda_minimum_is_offered_stored_and_shown_in_words(app, admin):
    form = admin.get("/console/clients/new", headers={"Accept-Language": "en"}).text
    assert 'value="urn:th:digitalid:ial:2.3:aal:2.2"' in form and "ETDA levels" in form
    response = post(admin, "/console/clients/new", **{**FORM, "default_acr_values": ["urn:th:digitalid:ial:2.3"]})
    client_id = _shown(response.text, "client_id")
    assert _client(app, client_id).client_metadata["default_acr_values"] == ["urn:th:digitalid:ial:2.3"]
    page = admin.get(f"/console/clients/{client_id}", headers={"Accept-Language": "en"}).text
    assert "Identity level 2.3" in page
