"""private_key_jwt with keys at a jwks_uri (RFC 7523 §3, OIDC Core §9 and §10.1.1): fetched
through the outbound fetcher, refetched for an unknown kid at most once a minute per client, and
never a cheap amplifier for unauthenticated callers at /token.

A bogus code tells authentication apart: ``invalid_client`` when the assertion was refused,
400 ``invalid_grant`` when the client authenticated and only the code was wrong.
"""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from idp import outbound
from tests.factories import make_client
from tests.support.documents import serve_documents

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _key(kid):
    return ECKey.generate_key("P-256", private=True, parameters={"kid": kid})


def _jwks(*keys):
    return {"keys": [k.as_dict(private=False) for k in keys]}


def _token(client, client_id, key, kid=None):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": "http://localhost/token", "iat": now, "exp": now + 60,
              "jti": f"jti-{time.time_ns()}"}
    assertion = jwt.encode({"alg": "ES256", "kid": kid or key.kid}, claims, key)
    return client.post("/token", data={"grant_type": "authorization_code", "code": "not-a-code",
                                       "redirect_uri": "https://rp.example/cb", "code_verifier": "v" * 43,
                                       "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})


def _authenticated(response):
    return response.status_code == 400 and response.json["error"] == "invalid_grant"


def _refused(response):
    return response.status_code in (400, 401) and response.json["error"] == "invalid_client"


@pytest.fixture
def documents():
    with serve_documents() as server:
        yield server


def _rp(app, documents, *keys, **put):
    url = documents.put("/jwks.json", _jwks(*keys), **put)
    return make_client(app, auth_method="private_key_jwt", jwks_uri=url.replace("127.0.0.1", "localhost")).client


def test_keys_come_from_the_jwks_uri_and_are_cached(app, client, documents):
    key = _key("k1")
    rp = _rp(app, documents, key)
    for _ in range(3):
        assert _authenticated(_token(client, rp.client_id, key))
    assert documents.hits["/jwks.json"] == 1
    response = _token(client, rp.client_id, _key("k1"))
    assert _refused(response), response.json


def test_an_unknown_kid_refetches_at_most_once_a_minute(app, client, clock, documents):
    old, new = _key("old"), _key("new")
    rp = _rp(app, documents, old)
    assert _authenticated(_token(client, rp.client_id, old))
    documents.put("/jwks.json", _jwks(old, new))  # the client rotates its keys
    assert _authenticated(_token(client, rp.client_id, new))  # unknown kid: one refetch finds it
    assert documents.hits["/jwks.json"] == 2
    for n in range(10):  # an attacker sends kids that exist nowhere
        assert _refused(_token(client, rp.client_id, _key(f"x{n}")))
    assert documents.hits["/jwks.json"] == 2  # no refetch within the minute
    clock.advance(61)
    assert _refused(_token(client, rp.client_id, _key("x-late")))
    assert documents.hits["/jwks.json"] == 3


def test_a_failing_jwks_uri_is_invalid_client_and_is_not_refetched_at_once(app, client, documents):
    key = _key("k1")
    rp = _rp(app, documents, key, status=500)
    for _ in range(5):
        response = _token(client, rp.client_id, key)
        assert _refused(response) and "jwks_uri" in response.json["error_description"]
    assert documents.hits["/jwks.json"] == 1  # the failure is cached


@pytest.mark.parametrize("put", [
    {"status": 302, "headers": {"Location": "http://127.0.0.1:1/jwks.json"}},
    {"content_type": "text/html"},
    {"body": b"<html></html>"},
    {"body": b'{"keys": "nope"}'},
    {"body": b"[]"},
])
def test_a_bad_jwks_document_is_invalid_client(app, client, documents, put):
    key = _key("k1")
    rp = _rp(app, documents, key, **put)
    assert _refused(_token(client, rp.client_id, key))


def test_jwk_set_content_type_is_accepted(app, client, documents):
    key = _key("k1")
    rp = _rp(app, documents, key, content_type="application/jwk-set+json")
    assert _authenticated(_token(client, rp.client_id, key))


def test_loopback_jwks_uri_is_not_fetched_without_the_development_setting(app, client, documents):
    key = _key("k1")
    rp = _rp(app, documents, key)
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = False  # as on any IdP whose issuer is not loopback
    outbound.init_app(app)
    response = _token(client, rp.client_id, key)
    assert _refused(response) and "https" in response.json["error_description"]
    assert documents.hits["/jwks.json"] == 0
