"""Introspection (RFC 7662) and revocation (RFC 7009)."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.factories import make_client
from tests.factories import make_user
from tests.flows import basic
from tests.flows import full_flow


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


@pytest.fixture
def issued(client, rp):
    return full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")


def _introspect(client, rp, token, **extra):
    return client.post("/introspect", data={"token": token, **extra},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})


def _revoke(client, rp, token, **extra):
    return client.post("/revoke", data={"token": token, **extra},
                       headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})


def test_active_access_token(client, rp, issued):
    body = _introspect(client, rp, issued["access_token"]).json
    assert body["active"] is True
    assert body["client_id"] == rp.client.client_id
    assert body["acr"] == "urn:th:digitalid:ial1:aal1" and isinstance(body["auth_time"], int)
    assert body["scope"] == "openid offline_access"


def test_active_refresh_token(client, rp, issued):
    body = _introspect(client, rp, issued["refresh_token"], token_type_hint="refresh_token").json
    assert body["active"] is True and body["token_type"] == "refresh_token"


def test_unauthenticated_introspection_is_refused(client, issued):
    response = client.post("/introspect", data={"token": issued["access_token"]})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_another_clients_token_is_inactive(app, client, issued):
    other = make_client(app, name="Other")
    assert _introspect(client, other, issued["access_token"]).json == {"active": False}


def test_unknown_token_is_inactive(client, rp):
    assert _introspect(client, rp, "nope").json == {"active": False}


def test_revoked_access_token_is_inactive_and_refused_at_userinfo(client, rp, issued):
    assert _revoke(client, rp, issued["access_token"]).status_code == 200
    assert _introspect(client, rp, issued["access_token"]).json == {"active": False}
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + issued["access_token"]})
    assert info.status_code == 401


def test_revoking_the_refresh_token_revokes_the_grant(client, rp, issued):
    assert _revoke(client, rp, issued["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert _introspect(client, rp, issued["access_token"]).json == {"active": False}
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.json["error"] == "invalid_grant"


def test_revoking_an_unknown_token_is_still_200(client, rp):
    assert _revoke(client, rp, "unknown").status_code == 200


def test_another_client_cannot_revoke(app, client, rp, issued):
    other = make_client(app, name="Other")
    _revoke(client, other, issued["access_token"])
    assert _introspect(client, rp, issued["access_token"]).json["active"] is True


def test_missing_token_parameter_is_invalid_request(client, rp):
    response = client.post("/revoke", headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_an_unknown_token_type_hint_is_ignored(client, rp, issued):
    # RFC 7009 §2.1: "An invalid token type hint value is ignored"
    assert _revoke(client, rp, issued["access_token"], token_type_hint="id_token").status_code == 200
    assert _introspect(client, rp, issued["access_token"]).json == {"active": False}


def test_disabled_client_tokens_stop_introspecting_active(app, client, rp, issued):
    from sqlalchemy import update

    from idp.db import get_session
    from idp.oidc.models import Client

    other = make_client(app, name="Auditor API")
    with app.app_context():
        db = get_session()
        db.execute(update(Client).where(Client.id == rp.client.id).values(status="disabled"))
        db.commit()
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + issued["access_token"]})
    assert info.status_code == 401
    assert _introspect(client, other, issued["access_token"]).json == {"active": False}


def test_a_disabled_client_hears_its_own_tokens_are_no_longer_active(app, client, rp, issued):
    from idp.db import get_session
    from idp.oidc.clients import set_status
    from idp.oidc.models import Client

    assert _introspect(client, rp, issued["access_token"]).json["active"] is True
    with app.app_context():
        db = get_session()
        set_status(db, db.get(Client, rp.client.id), "disabled")
    response = _introspect(client, rp, issued["access_token"])
    assert response.status_code == 200 and response.json == {"active": False}
    # ...but nothing else: no new tokens, no revocation, no sign-in
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 401 and refreshed.json["error"] == "invalid_client"
    revoked = client.post("/revoke", data={"token": issued["access_token"]},
                          headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert revoked.status_code == 401
    with app.app_context():
        db = get_session()
        set_status(db, db.get(Client, rp.client.id), "active")
    assert _introspect(client, rp, issued["access_token"]).json["active"] is True


def test_a_pending_client_cannot_introspect(app, client, rp, issued):
    from sqlalchemy import update

    from idp.db import get_session
    from idp.oidc.models import Client

    with app.app_context():
        db = get_session()
        db.execute(update(Client).where(Client.id == rp.client.id).values(status="pending"))
        db.commit()
    assert _introspect(client, rp, issued["access_token"]).status_code == 401


def _assertion_form(rp, key, aud):
    now = int(time.time())
    claims = {"iss": rp.client.client_id, "sub": rp.client.client_id, "aud": aud, "iat": now, "exp": now + 60,
              "jti": f"jti-{time.time_ns()}"}
    return {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": jwt.encode({"alg": "ES256", "kid": "rp-1"}, claims, key)}


@pytest.mark.parametrize(("endpoint", "aud", "accepted"), [
    ("/introspect", "http://localhost", True),
    ("/introspect", "http://localhost/token", True),
    ("/introspect", "http://localhost/introspect", True),  # the URL the client posts to
    ("/introspect", "http://localhost/revoke", False),  # another endpoint's URL
    ("/revoke", "http://localhost/revoke", True),
    ("/revoke", "http://localhost/introspect", False),
])
def test_private_key_jwt_audience_at_introspection_and_revocation(app, client, endpoint, aud, accepted):
    make_user(app)
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-1"})
    rp = make_client(app, auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]})
    response = client.post(endpoint, data={"token": "unknown", **_assertion_form(rp, key, aud)})
    if accepted:
        assert response.status_code == 200
    else:
        assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
