"""RFC 9396 Rich Authorization Requests: ``authorization_details`` of registered types.

An e-Service describes the transaction; the person sees it on the consent page in their language
and approves it each time; the token response, the access token and introspection carry it; a
refresh keeps it; anything not matching a registered type (or not open to the e-Service) is
``invalid_authorization_details``, sent back to the redirect URI with ``state`` and ``iss``.
"""

import json
from pathlib import Path

import pytest
from joserfc import jwt
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Token
from idp.rar import service
from idp.rar.definitions import parse_definition
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "authorization-details" / "th_gov_service_request.json"
PAYMENT = {"type": "th_gov_service_request", "service": "passport_renewal", "reference": "ABC-123",
           "amount": "1250.00", "currency": "THB"}


def register(app, **changes):
    data = json.loads(EXAMPLE.read_text(encoding="utf-8")) | changes
    with app.app_context():
        service.save_type(get_session(), parse_definition(data), by=None)


@pytest.fixture
def rp(app):
    make_user(app)
    register(app)
    return make_client(app, scope="openid profile email offline_access")


def _details(*details):
    return json.dumps(list(details))


def _consent_page(client, rp, details, *, challenge="x" * 43, **extra):
    return client.get(authorize_url(rp.client.client_id, challenge, authorization_details=details, **extra))


def _approve(client, page):
    action = page.text.split('<form method="post" action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response = client.post(action, data={"csrf_token": csrf_of(page.text), "decision": "allow"})
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])


def _tokens(client, rp, details=_details(PAYMENT), **extra):
    verifier, challenge = pkce_pair()
    sign_in(client)
    page = _consent_page(client, rp, details, challenge=challenge, **extra)
    assert page.status_code == 200, page.text
    callback = _approve(client, page)
    response = exchange(client, callback["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                        verifier=verifier)
    assert response.status_code == 200, response.text
    return response.json


def test_consent_page_shows_the_transaction_in_english(client, rp):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client)
    page = _consent_page(client, rp, _details(PAYMENT))
    assert page.status_code == 200
    assert "Pay a fee of THB\u00a01,250.00 for passport renewal, reference ABC-123" in page.text
    assert "A government service request" in page.text


def test_consent_page_shows_the_transaction_in_thai(client, rp):
    sign_in(client)
    page = _consent_page(client, rp, _details(PAYMENT), ui_locales="th")
    assert page.status_code == 200
    assert "ชำระค่าธรรมเนียม ฿1,250.00 สำหรับการต่ออายุหนังสือเดินทาง เลขอ้างอิง ABC-123" in page.text
    assert "คำขอรับบริการภาครัฐ" in page.text


def test_a_value_without_words_is_shown_as_sent_and_escaped(client, rp):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client)
    detail = {**PAYMENT, "service": "<b>dog licence</b>"}
    page = _consent_page(client, rp, _details(detail))
    assert "for &lt;b&gt;dog licence&lt;/b&gt;, reference ABC-123" in page.text


def test_token_response_access_token_and_introspection_carry_the_details(app, client, rp):
    body = _tokens(client, rp, scope="openid offline_access")
    assert body["authorization_details"] == [PAYMENT]
    claims = jwt.decode(body["access_token"], app.extensions["idp.keyring"].public_keys()).claims
    assert claims["authorization_details"] == [PAYMENT]
    seen = client.post("/introspect", data={"token": body["access_token"]},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)}).json
    assert seen["active"] is True and seen["authorization_details"] == [PAYMENT]
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 200 and refreshed.json["authorization_details"] == [PAYMENT]
    with app.app_context():
        db = get_session()
        assert db.scalar(select(AuthorizationCode.authorization_details)) == [PAYMENT]
        assert {json.dumps(t) for t in db.scalars(select(Token.authorization_details))} == {json.dumps([PAYMENT])}
        authorized = db.scalar(select(AuditEvent).where(AuditEvent.event == "authorized"))
        assert authorized.details["authorization_details"] == ["th_gov_service_request"]  # types, not amounts


def test_without_details_nothing_is_added(client, rp):
    body = _tokens(client, rp, details=None)
    assert "authorization_details" not in body


def test_posted_authorization_request_carries_the_details(client, rp):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client)
    _, challenge = pkce_pair()
    form = {"response_type": "code", "client_id": rp.client.client_id, "redirect_uri": REDIRECT_URI,
            "scope": "openid", "state": "st-123", "code_challenge": challenge, "code_challenge_method": "S256",
            "authorization_details": _details(PAYMENT)}
    page = client.post("/authorize", data=form, follow_redirects=True)
    assert "reference ABC-123" in page.text


def test_remembered_consent_still_shows_new_details(client, rp):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    _tokens(client, rp)  # consent to the scopes is now remembered
    plain = client.get(authorize_url(rp.client.client_id, "x" * 43))
    assert plain.status_code == 302  # without details, no page
    page = _consent_page(client, rp, _details({**PAYMENT, "reference": "XYZ-9"}))
    assert page.status_code == 200 and "reference XYZ-9" in page.text


def test_trusted_e_service_still_shows_the_details(app, client):
    make_user(app)
    register(app)
    trusted = make_client(app, name="First party", trusted=True)
    sign_in(client)
    page = _consent_page(client, trusted, _details(PAYMENT))
    assert page.status_code == 200 and "ABC-123" in page.text


def test_prompt_none_with_details_needs_consent(client, rp):
    _tokens(client, rp)
    response = _consent_page(client, rp, _details(PAYMENT), prompt="none")
    assert query_of(response.headers["Location"])["error"] == "consent_required"


def test_denying_the_transaction_sends_access_denied(client, rp):
    sign_in(client)
    page = _consent_page(client, rp, _details(PAYMENT))
    action = page.text.split('<form method="post" action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response = client.post(action, data={"csrf_token": csrf_of(page.text), "decision": "deny"})
    assert query_of(response.headers["Location"])["error"] == "access_denied"


@pytest.mark.parametrize("raw", [
    "{not json",
    '{"type": "th_gov_service_request"}',  # not an array
    "[1]",
    '[{"service": "passport_renewal"}]',  # no type
    '[{"type": 7}]',
    '[{"type": "payment_initiation", "instructedAmount": {"amount": "1"}}]',  # not registered
    _details({**PAYMENT, "amount": "-5"}),  # the schema's pattern
    _details({k: v for k, v in PAYMENT.items() if k != "reference"}),  # required
    _details({**PAYMENT, "extra": 1}),  # additionalProperties
    _details({**PAYMENT, "currency": "USD"}),
    '[{"type": "th_gov_service_request", "service": "x", "reference": "R1", "amount": NaN}]',
    "[[[[]]]]",
    _details(*[{"type": "a"}] * 11),
])
def test_refused_details_go_back_to_the_e_service(client, rp, raw):
    sign_in(client)
    response = _consent_page(client, rp, raw)
    assert response.status_code == 302
    callback = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(REDIRECT_URI)
    assert callback["error"] == "invalid_authorization_details"
    assert callback["state"] == "st-123" and callback["iss"]
    assert "code" not in callback


def test_refused_before_sign_in_too(client, rp):
    response = _consent_page(client, rp, '[{"type": "unknown"}]')
    assert query_of(response.headers["Location"])["error"] == "invalid_authorization_details"


def test_a_type_not_opened_to_the_e_service_is_refused(app, client, rp):
    register(app, type="th_tax_refund", clients=["someone-else"])
    sign_in(client)
    response = _consent_page(client, rp, _details({**PAYMENT, "type": "th_tax_refund"}))
    assert query_of(response.headers["Location"])["error"] == "invalid_authorization_details"


def test_an_inactive_type_is_refused_and_not_in_discovery(app, client, rp):
    assert client.get("/.well-known/openid-configuration").json["authorization_details_types_supported"] == [
        "th_gov_service_request"]
    register(app, active=False)
    with app.app_context():
        from idp.oidc.discovery import forget_discovery

        forget_discovery()
    assert "authorization_details_types_supported" not in client.get("/.well-known/openid-configuration").json
    sign_in(client)
    response = _consent_page(client, rp, _details(PAYMENT))
    assert query_of(response.headers["Location"])["error"] == "invalid_authorization_details"


def test_repeated_parameter_is_invalid_request(client, rp):
    sign_in(client)
    url = authorize_url(rp.client.client_id, "x" * 43, authorization_details=_details(PAYMENT))
    response = client.get(url + "&authorization_details=" + "%5B%5D")
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_unknown_client_with_details_gets_a_page_not_a_redirect(client, rp):
    response = client.get(authorize_url("no-such-client", "x" * 43, authorization_details="{bad"))
    assert response.status_code == 400 and "Location" not in response.headers


def test_docs_example_is_the_one_demo_seed_registers():
    shipped = Path(__file__).resolve().parents[2] / "idp" / "data" / "authorization_details" / EXAMPLE.name
    assert json.loads(shipped.read_text()) == json.loads(EXAMPLE.read_text())
