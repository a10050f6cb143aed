"""Token exchange (RFC 8693) between agencies: a citizen's access token, held by one agency's
back-end, exchanged for a token to another agency's registered API; only for an allowed pair,
scopes only narrowed, the agency named as actor, the citizen's authentication carried over, and
the citizen told of it ("on your behalf")."""

import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from tests.agencies import ACCESS_TOKEN_TYPE
from tests.agencies import TOKEN_EXCHANGE
from tests.agencies import allow_exchange
from tests.agencies import claims_of
from tests.agencies import grant_machine_scopes
from tests.agencies import introspect
from tests.agencies import make_api
from tests.agencies import set_metadata
from tests.agencies import token_request
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import full_flow
from tests.support.dpop import DPoPKey

CIVIL = "https://api.civil-registration.example/"
LAND = "https://api.land.example/"
LINE = "%(agency)s used your data from %(source)s on your behalf, %(when)s"


@pytest.fixture
def rp(app):
    make_user(app)
    rp = make_client(app, name="Revenue e-Service", name_th="บริการกรมสรรพากร")
    make_api(app, CIVIL, ["profile", "email"], name="Civil registration API", name_th="API ทะเบียนราษฎร")
    allow_exchange(app, rp.client.client_id, CIVIL)
    return rp


@pytest.fixture
def subject(client, rp):
    return full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile email")["access_token"]


def _exchange(client, who, token, **extra):
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": token, "subject_token_type": ACCESS_TOKEN_TYPE,
            "resource": CIVIL}
    data.update(extra)
    return token_request(client, who, **{k: v for k, v in data.items() if v is not None})


def _introspect_as_api(app, client, token):
    """Introspect with the API's own client, whose secret only the factory saw: rotate it here."""
    from idp.oidc import resource_servers
    from idp.oidc.clients import rotate_secret

    with app.app_context():
        db = get_session()
        server = resource_servers.find(db, CIVIL)
        assert server is not None
        client_id = server.client.client_id
        secret = rotate_secret(db, server.client, grace_seconds=0)
    response = client.post("/introspect", data={"token": token}, headers={"Authorization": basic(client_id, secret)})
    return response.json


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_an_allowed_exchange_names_the_agency_and_keeps_the_citizens_sign_in(app, client, rp, subject):
    response = _exchange(client, rp, subject)
    assert response.status_code == 200, response.text
    body = response.json
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    assert body["scope"] == "profile email" and "refresh_token" not in body and "id_token" not in body
    claims = claims_of(body["access_token"])
    assert claims["aud"] == CIVIL and claims["act"] == {"sub": rp.client.client_id}
    original = introspect(client, rp, subject)
    answer = _introspect_as_api(app, client, body["access_token"])
    assert answer["active"] is True and answer["aud"] == CIVIL
    assert answer["act"] == {"sub": rp.client.client_id}
    assert (answer["acr"], answer["amr"], answer["auth_time"]) == (original["acr"], original["amr"],
                                                                   original["auth_time"])
    [event] = _events(app, "token_exchanged")
    assert event.details["resource"] == CIVIL and event.user_id is not None


def test_a_narrower_scope_is_kept(client, rp, subject):
    response = _exchange(client, rp, subject, scope="email")
    assert response.status_code == 200 and response.json["scope"] == "email"


def test_a_wider_scope_is_invalid_scope(app, client, rp, subject):
    response = _exchange(client, rp, subject, scope="email phone")
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"
    assert [e.details["error"] for e in _events(app, "token_exchange_refused")] == ["invalid_scope"]


def test_a_client_with_no_allowed_pair_is_unauthorized(app, client, rp, subject):
    other = make_client(app, name="Land office")
    response = _exchange(client, other, subject)
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_another_api_than_the_allowed_one_is_invalid_target(app, client, rp, subject):
    make_api(app, LAND, ["profile"], name="Land API")
    response = _exchange(client, rp, subject, resource=LAND)
    assert response.status_code == 400 and response.json["error"] == "invalid_target"
    for resource in ("https://unknown.example/", None):
        response = _exchange(client, rp, subject, resource=resource)
        assert response.status_code == 400 and response.json["error"] == "invalid_target"


def test_the_audience_parameter_names_the_api_too(client, rp, subject):
    response = _exchange(client, rp, subject, resource=None, audience=CIVIL)
    assert response.status_code == 200 and claims_of(response.json["access_token"])["aud"] == CIVIL


def test_a_revoked_subject_token_is_invalid_grant(client, rp, subject):
    client.post("/revoke", data={"token": subject}, headers={"Authorization": basic(rp.client.client_id,
                                                                                    rp.client_secret)})
    response = _exchange(client, rp, subject)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_an_expired_subject_token_is_invalid_grant(client, clock, rp, subject):
    clock.advance(3600 * 24)
    response = _exchange(client, rp, subject)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_another_clients_token_is_invalid_grant(app, client, rp, subject):
    other = make_client(app, name="Land office")
    allow_exchange(app, other.client.client_id, CIVIL)
    response = _exchange(client, other, subject)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_a_token_meant_for_the_callers_api_may_be_exchanged(app, client, rp):
    land_api = make_api(app, LAND, ["profile"], name="Land API")
    allow_exchange(app, land_api.client.client_id, CIVIL)
    token = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile",
                      resource=LAND)["access_token"]
    response = _exchange(client, land_api, token)
    assert response.status_code == 200, response.text
    assert claims_of(response.json["access_token"])["act"] == {"sub": land_api.client.client_id}


def test_a_clients_own_token_has_no_citizen_to_exchange(app, client, rp):
    grant_machine_scopes(app, rp.client.client_id, ["profile"])
    token = token_request(client, rp, grant_type="client_credentials").json["access_token"]
    response = _exchange(client, rp, token)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize(("extra", "error"), [
    ({"subject_token_type": None}, "invalid_request"),
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "invalid_request"),
    ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "invalid_request"),
    ({"actor_token": "x", "actor_token_type": ACCESS_TOKEN_TYPE}, "invalid_request"),
    ({"subject_token": None}, "invalid_request"),
    ({"subject_token": "not-a-token"}, "invalid_grant"),
])
def test_bad_requests(client, rp, subject, extra, error):
    response = _exchange(client, rp, subject, **extra)
    assert response.status_code == 400 and response.json["error"] == error


def test_a_public_client_is_unauthorized(app, client, rp, subject):
    public = make_client(app, name="Mobile app", auth_method="none")
    response = _exchange(client, public, subject)
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_client_that_needs_dpop_gets_no_bearer_token(app, client, rp, subject):
    set_metadata(app, rp.client.client_id, fapi_profile="fapi2")
    response = _exchange(client, rp, subject)
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof"


def test_with_a_dpop_proof_the_exchanged_token_is_bound_to_its_key(client, rp, subject):
    key = DPoPKey()
    response = client.post("/token", data={"grant_type": TOKEN_EXCHANGE, "subject_token": subject,
                                           "subject_token_type": ACCESS_TOKEN_TYPE, "resource": CIVIL},
                           headers={"Authorization": basic(rp.client.client_id, rp.client_secret),
                                    "DPoP": key.proof("POST", "/token")})
    assert response.status_code == 200, response.text
    assert response.json["token_type"] == "DPoP"
    assert claims_of(response.json["access_token"])["cnf"] == {"jkt": key.jkt}


def test_withdrawing_consent_ends_the_exchanged_token(app, client, rp, subject):
    exchanged = _exchange(client, rp, subject).json["access_token"]
    page = client.get("/connected-services")
    client.post("/connected-services", data={"csrf_token": csrf_of(page.text), "client": str(rp.client.id),
                                             "confirm": "yes"})
    assert _introspect_as_api(app, client, exchanged) == {"active": False}


def _line(html):
    match = re.search(r'<ul class="data-uses"[^>]*>\s*<li>(.*?)</li>', html, re.S)
    assert match, html
    return " ".join(match.group(1).split())


def test_the_citizen_sees_the_exchange_on_your_behalf_in_thai_and_english(app, client, rp, subject):
    assert _exchange(client, rp, subject).status_code == 200
    english = _line(client.get("/connected-services", headers={"Accept-Language": "en"}).text)
    assert english.startswith("Revenue e-Service used your data from Civil registration API on your behalf, ")
    thai = _line(client.get("/connected-services", headers={"Accept-Language": "th"}).text)
    with app.test_request_context(), force_locale("th"):  # the catalogue's words, wherever the time goes
        parts = gettext(LINE, agency="บริการกรมสรรพากร", source="API ทะเบียนราษฎร", when="\0").split("\0")
    assert all(" ".join(part.split()) in thai for part in parts)
    assert "บริการกรมสรรพากร" in thai and "API ทะเบียนราษฎร" in thai and "Revenue e-Service" not in thai


def test_without_exchanges_there_is_no_on_your_behalf_list(client, rp, subject):
    assert 'class="data-uses"' not in client.get("/connected-services").text


def test_removing_the_api_ends_its_tokens_and_keeps_the_citizens_line(app, client, rp, subject):
    from idp.oidc import resource_servers

    exchanged = _exchange(client, rp, subject).json["access_token"]
    with app.app_context():
        db = get_session()
        server = resource_servers.find(db, CIVIL)
        assert server is not None
        api_client_id = server.client.client_id
        resource_servers.remove(db, server)
    with app.app_context():
        from idp.oidc import tokens

        row = tokens.find_access_token(get_session(), exchanged)
        assert row is not None and row.revoked_at is not None
    english = _line(client.get("/connected-services", headers={"Accept-Language": "en"}).text)
    assert "used your data from an agency that is no longer connected on your behalf" in english
    assert api_client_id not in english


def test_the_exchange_is_in_the_citizens_disclosure_log(app, client, rp, subject):
    from idp.disclosure.models import Disclosure

    with app.app_context():
        before = len(list(get_session().scalars(select(Disclosure).where(Disclosure.via == "token_exchange"))))
    assert _exchange(client, rp, subject).status_code == 200
    refused = _exchange(client, rp, subject, scope="openid profile email phone")
    assert refused.status_code == 400
    with app.app_context():
        rows = list(get_session().scalars(select(Disclosure).where(Disclosure.via == "token_exchange")))
    assert len(rows) == before + 1  # the refused exchange released nothing
    assert rows[-1].claims == ["sub"] and rows[-1].client_id == rp.client.id
