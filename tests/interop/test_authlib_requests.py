"""Authlib's requests client (``OAuth2Session``) signs in to a live idp, as an agency's back end would.

``OAuth2Session`` is an OAuth 2.0 client: it builds the PKCE S256 request, checks ``state`` (when
given it: see ``_sign_in``) and authenticates at the token endpoint. It has no discovery, no ID
token check and no logout helper, so the module does what the agency's code must do with Authlib's
own parts: ``CodeIDToken`` over a joserfc signature check, and the end-session URL from discovery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.interop.browser import ACR_IAL1_AAL1
from tests.interop.browser import ACR_IAL1_AAL2
from tests.interop.browser import Browser
from tests.interop.browser import Person
from tests.interop.browser import new_person
from tests.interop.browser import query
from tests.interop.conftest import POST_LOGOUT_REDIRECT_URI
from tests.interop.conftest import REDIRECT_URI
from tests.interop.conftest import LiveIdp
from tests.interop.conftest import missing_library

try:
    from authlib.common.security import generate_token
    from authlib.common.urls import add_params_to_uri
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oauth2.rfc6749.errors import MismatchingStateException
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet
    from joserfc.jwk import RSAKey
except ImportError:
    missing_library("Authlib")

pytestmark = pytest.mark.interop

SCOPE = "openid profile email offline_access"


@dataclass
class Rp:
    """One registered e-Service and what it learnt from discovery."""

    idp: LiveIdp
    metadata: dict[str, Any]
    client_id: str
    session: OAuth2Session


@pytest.fixture(scope="module")
def person(live_idp: LiveIdp) -> Person:
    """One account for the module: each test opens a fresh browser. Step-up makes its own (one TOTP use)."""
    return new_person(live_idp)


@pytest.fixture(scope="module")
def metadata(live_idp: LiveIdp) -> dict[str, Any]:
    response = requests.get(live_idp.issuer + "/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _rp(idp: LiveIdp, metadata: dict[str, Any], *args: str, key: Any = None) -> Rp:
    client = idp.add_client(*args)
    if key is None:
        session = OAuth2Session(client["client_id"], client["client_secret"], scope=SCOPE,
                                redirect_uri=REDIRECT_URI, code_challenge_method="S256",
                                token_endpoint_auth_method="client_secret_basic")
    else:  # Authlib's default assertion: RS256, aud = token endpoint, 3,600 s
        session = OAuth2Session(client["client_id"], key, scope=SCOPE, redirect_uri=REDIRECT_URI,
                                code_challenge_method="S256", token_endpoint_auth_method="private_key_jwt")
        session.register_client_auth_method(PrivateKeyJWT(metadata["token_endpoint"]))
    session.trust_env = False
    return Rp(idp, metadata, client["client_id"], session)


def _id_token(rp: Rp, token: dict[str, Any], nonce: str, *, alg: str = "RS256") -> CodeIDToken:
    """What Authlib's own OpenID clients do (``OpenIDMixin.parse_id_token``): joserfc checks the
    signature against ``jwks_uri`` with the registered alg only, ``CodeIDToken`` the claims."""
    jwks = requests.get(rp.metadata["jwks_uri"], timeout=10).json()
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=[alg])
    claims = CodeIDToken(decoded.claims, decoded.header, {"iss": {"values": [rp.metadata["issuer"]]}},
                         {"nonce": nonce, "client_id": rp.client_id, "access_token": token["access_token"]})
    claims.validate(leeway=60)
    return claims


def _sign_in(rp: Rp, browser: Browser, **params: str) -> tuple[dict[str, Any], CodeIDToken, str]:
    """Code flow with PKCE S256, state and nonce; returns the token, the checked ID token, the nonce."""
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = rp.session.create_authorization_url(rp.metadata["authorization_endpoint"], code_verifier=verifier,
                                                     nonce=nonce, prompt="consent", **params)
    callback = browser.authorize(url)
    # OAuth2Session checks state only when it is handed the state it sent.
    token: dict[str, Any] = rp.session.fetch_token(rp.metadata["token_endpoint"], authorization_response=callback,
                                                   state=state, code_verifier=verifier)
    return token, _id_token(rp, token, nonce), nonce


def test_authlib_requests_discovery(live_idp: LiveIdp, metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == live_idp.issuer
    assert "S256" in metadata["code_challenge_methods_supported"]
    assert {"client_secret_basic", "private_key_jwt"} <= set(metadata["token_endpoint_auth_methods_supported"])
    assert {"RS256", "ES256"} <= set(metadata["id_token_signing_alg_values_supported"])
    assert ACR_IAL1_AAL2 in metadata["acr_values_supported"]
    assert metadata["end_session_endpoint"].startswith(live_idp.issuer)


def test_authlib_requests_code_flow_pkce_s256_and_state(live_idp: LiveIdp, metadata: dict[str, Any],
                                                        person: Person) -> None:
    rp = _rp(live_idp, metadata)
    browser = Browser(person)
    verifier = generate_token(48)
    url, state = rp.session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                                     nonce=generate_token(20), prompt="consent")
    sent = query(url)
    assert sent["code_challenge_method"] == "S256" and sent["state"] == state
    callback = browser.authorize(url)
    returned = query(callback)
    assert returned["state"] == state and returned["iss"] == live_idp.issuer

    # A callback whose state is not the one this browser's request carried is refused before any token request.
    with pytest.raises(MismatchingStateException):
        rp.session.fetch_token(metadata["token_endpoint"], authorization_response=callback, state="forged",
                               code_verifier=verifier)
    # The IdP checks the verifier against the challenge (RFC 7636 §4.6).
    with pytest.raises(OAuthError) as refused:
        rp.session.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                               code_verifier=generate_token(48))
    assert refused.value.error == "invalid_grant"


def test_authlib_requests_id_token_rs256(live_idp: LiveIdp, metadata: dict[str, Any], person: Person) -> None:
    rp = _rp(live_idp, metadata)
    token, claims, nonce = _sign_in(rp, Browser(person))
    assert claims.header["alg"] == "RS256" and claims.header["kid"]
    assert claims["acr"] == ACR_IAL1_AAL1 and claims["amr"] == ["pwd"]
    with pytest.raises(JoseError):  # Authlib's check can fail: another nonce
        _id_token(rp, token, "another-nonce")
    with pytest.raises(JoseError):  # ... or an alg the client did not register
        _id_token(rp, token, nonce, alg="ES256")


def test_authlib_requests_id_token_es256(live_idp: LiveIdp, metadata: dict[str, Any], person: Person) -> None:
    rp = _rp(live_idp, metadata, "--id-token-alg", "ES256")
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = rp.session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                                     nonce=nonce, prompt="consent")
    callback = Browser(person).authorize(url)
    token = rp.session.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                                   code_verifier=verifier)
    claims = _id_token(rp, token, nonce, alg="ES256")
    assert claims.header["alg"] == "ES256"
    assert claims["aud"] == rp.client_id or rp.client_id in claims["aud"]


def test_authlib_requests_userinfo(live_idp: LiveIdp, metadata: dict[str, Any], person: Person) -> None:
    rp = _rp(live_idp, metadata)
    _, claims, _ = _sign_in(rp, Browser(person))
    response = rp.session.get(metadata["userinfo_endpoint"], timeout=10)
    assert response.status_code == 200 and "WWW-Authenticate" not in response.headers
    userinfo = response.json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == person.email


def test_authlib_requests_refresh_rotates(live_idp: LiveIdp, metadata: dict[str, Any], person: Person) -> None:
    rp = _rp(live_idp, metadata)
    token, claims, _ = _sign_in(rp, Browser(person))
    old = token["refresh_token"]

    new = rp.session.refresh_token(metadata["token_endpoint"], refresh_token=old)
    assert new["refresh_token"] != old
    assert rp.session.get(metadata["userinfo_endpoint"], timeout=10).json()["sub"] == claims["sub"]
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(metadata["token_endpoint"], refresh_token=old)
    assert refused.value.error == "invalid_grant"


def _logout_and_check(rp: Rp, browser: Browser, id_token: str) -> None:
    """RP-initiated logout with ``id_token_hint`` and ``post_logout_redirect_uri``, then ``prompt=none``."""
    state = generate_token(20)
    url = add_params_to_uri(rp.metadata["end_session_endpoint"], {
        "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI, "state": state,
        "client_id": rp.client_id})
    back = browser.logout(url)
    assert back.split("?")[0] == POST_LOGOUT_REDIRECT_URI and query(back)["state"] == state

    url, _ = rp.session.create_authorization_url(rp.metadata["authorization_endpoint"],
                                                 code_verifier=generate_token(48), prompt="none")
    assert query(browser.authorize(url))["error"] == "login_required"


def test_authlib_requests_logout(live_idp: LiveIdp, metadata: dict[str, Any], person: Person) -> None:
    rp = _rp(live_idp, metadata)
    browser = Browser(person)
    token, _, _ = _sign_in(rp, browser)
    _logout_and_check(rp, browser, token["id_token"])


def test_authlib_requests_step_up_totp(live_idp: LiveIdp, metadata: dict[str, Any]) -> None:
    rp = _rp(live_idp, metadata)
    browser = Browser(new_person(live_idp))
    _, weak, _ = _sign_in(rp, browser)
    assert weak["acr"] == ACR_IAL1_AAL1

    _, strong, _ = _sign_in(rp, browser, acr_values=ACR_IAL1_AAL2)
    assert browser.filled[-2:] == ["totp", "consent"] and browser.filled.count("password") == 1  # no password again
    assert strong["acr"] == ACR_IAL1_AAL2
    assert "otp" in strong["amr"] and strong["sub"] == weak["sub"]


def test_authlib_requests_client_secret_basic(live_idp: LiveIdp, metadata: dict[str, Any], person: Person) -> None:
    rp = _rp(live_idp, metadata, "--auth-method", "client_secret_basic")
    token, _, _ = _sign_in(rp, Browser(person))
    assert token["token_type"].lower() == "bearer"

    rp.session.client_secret = "not-the-secret"
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_client"


def test_authlib_requests_private_key_jwt(live_idp: LiveIdp, metadata: dict[str, Any], person: Person,
                                       tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "authlib-rsa-1"})
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    rp = _rp(live_idp, metadata, "--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file), key=key)

    token, claims, _ = _sign_in(rp, Browser(person))
    assert claims["sub"]
    refreshed = rp.session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]

    rp.session.client_secret = RSAKey.generate_key(2048, private=True)  # a key the IdP does not know
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert refused.value.error == "invalid_client"
