"""pyoidc (the ``oic`` package) signs in to a live idp with its ``oic.oic.Client``.

Everything goes through pyoidc's own calls: ``provider_config`` (discovery and the JWKS),
``request_info`` (the authorization URL; it remembers the nonce for the state), ``parse_response``
(state and the ID token's signature, ``iss``, ``aud`` and ``exp`` against the keys it fetched),
``do_access_token_request`` (the nonce), ``do_user_info_request``, ``do_access_token_refresh`` and
``construct_EndSessionRequest``. One gap is shown with its workaround: pyoidc 1.7's refresh helper
cannot sign a private_key_jwt assertion (``test_pyoidc_private_key_jwt``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from joserfc.jwk import RSAKey

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
    from oic import rndstr
    from oic.exception import PyoidcError
    from oic.oauth2.message import ErrorResponse
    from oic.oic import Client
    from oic.oic.message import AccessTokenResponse
    from oic.oic.message import AuthorizationRequest
    from oic.oic.message import AuthorizationResponse
    from oic.oic.message import RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD
    from oic.utils.authn.client import JWT_BEARER
    from oic.utils.authn.client import assertion_jwt
    from oic.utils.keyio import KeyBundle
except ImportError:
    missing_library("oic (pyoidc)")

pytestmark = pytest.mark.interop

SCOPE = ["openid", "profile", "email", "offline_access"]


@dataclass
class SignIn:
    state: str
    tokens: Any  # AccessTokenResponse
    id_token: Any  # IdToken, already verified by pyoidc


@pytest.fixture(scope="module")
def person(live_idp: LiveIdp) -> Person:
    """One account for the module: each test opens a fresh browser. Step-up makes its own (one TOTP use)."""
    return new_person(live_idp)


def _client(idp: LiveIdp, *args: str, auth_method: str = "client_secret_basic", id_token_alg: str = "RS256",
            private_jwk: dict[str, Any] | None = None) -> Any:
    registered = idp.add_client("--auth-method", auth_method, "--id-token-alg", id_token_alg, *args)
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(idp.issuer)
    info = {"client_id": registered["client_id"], "redirect_uris": [REDIRECT_URI],
            "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI], "token_endpoint_auth_method": auth_method,
            "id_token_signed_response_alg": id_token_alg}
    if "client_secret" in registered:
        info["client_secret"] = registered["client_secret"]
    client.store_registration_info(RegistrationResponse(**info))
    if private_jwk is not None:
        client.keyjar.add_kb("", KeyBundle(keys=[private_jwk]))
    return client


def _sign_in(client: Any, browser: Browser, *, auth_method: str = "client_secret_basic", **params: str) -> SignIn:
    state, nonce = rndstr(24), rndstr(24)
    pkce, verifier = client.add_code_challenge()  # S256 unless configured otherwise
    url, _, _, _ = client.request_info(AuthorizationRequest, method="GET", request_args={
        "client_id": client.client_id, "response_type": "code", "scope": SCOPE, "redirect_uri": REDIRECT_URI,
        "state": state, "nonce": nonce, "prompt": "consent", **pkce, **params})
    callback = browser.authorize(url)
    response = client.parse_response(AuthorizationResponse, info=urlsplit(callback).query, sformat="urlencoded")
    assert isinstance(response, AuthorizationResponse), response
    assert response["state"] == state
    tokens = client.do_access_token_request(state=state, authn_method=auth_method, request_args={
        "code": response["code"], "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert isinstance(tokens, AccessTokenResponse), tokens
    return SignIn(state, tokens, tokens["id_token"])


def test_pyoidc_discovery(live_idp: LiveIdp) -> None:
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    info = client.provider_config(live_idp.issuer)
    assert info["issuer"] == live_idp.issuer
    assert client.token_endpoint == info["token_endpoint"]
    assert client.end_session_endpoint == info["end_session_endpoint"]
    assert client.keyjar.get_issuer_keys(live_idp.issuer)  # the JWKS, fetched from jwks_uri


def test_pyoidc_code_flow_pkce_s256_and_state(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp)
    pkce, _ = client.add_code_challenge()
    assert pkce["code_challenge_method"] == "S256"
    browser = Browser(person)
    signed_in = _sign_in(client, browser)  # asserts the state pyoidc parsed is the state it sent
    assert signed_in.tokens["token_type"].lower() == "bearer"

    # pyoidc leaves the state comparison to the RP (``_sign_in`` does it); the IdP checks the PKCE verifier.
    state = rndstr(24)
    url, _, _, _ = client.request_info(AuthorizationRequest, method="GET", request_args={
        "client_id": client.client_id, "response_type": "code", "scope": SCOPE, "redirect_uri": REDIRECT_URI,
        "state": state, "nonce": rndstr(24), **pkce})
    callback = query(browser.authorize(url))
    assert callback["state"] == state and callback["iss"] == live_idp.issuer
    client.parse_response(AuthorizationResponse, info=urlencode(callback), sformat="urlencoded")
    refused = client.do_access_token_request(state=state, request_args={
        "code": callback["code"], "redirect_uri": REDIRECT_URI, "code_verifier": rndstr(64)})
    assert isinstance(refused, ErrorResponse) and refused["error"] == "invalid_grant"


def test_pyoidc_id_token_rs256(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp)
    signed_in = _sign_in(client, Browser(person))
    assert signed_in.id_token.jws_header["alg"] == "RS256" and signed_in.id_token.jws_header["kid"]
    assert signed_in.id_token["acr"] == ACR_IAL1_AAL1 and signed_in.id_token["amr"] == ["pwd"]

    # pyoidc's check can fail: a nonce other than the one it sent.
    client.state2nonce[signed_in.state] = "another-nonce"
    with pytest.raises(PyoidcError):
        client.verify_id_token(signed_in.id_token, {"nonce": "another-nonce"})


def test_pyoidc_id_token_es256(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp, id_token_alg="ES256")
    signed_in = _sign_in(client, Browser(person))
    assert signed_in.id_token.jws_header["alg"] == "ES256"
    assert client.client_id in signed_in.id_token["aud"]


def test_pyoidc_userinfo(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp)
    signed_in = _sign_in(client, Browser(person))
    userinfo = client.do_user_info_request(state=signed_in.state)
    assert not isinstance(userinfo, ErrorResponse), userinfo
    assert userinfo["sub"] == signed_in.id_token["sub"]
    assert userinfo["email"] == person.email


def test_pyoidc_refresh_rotates(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp)
    signed_in = _sign_in(client, Browser(person))
    old = signed_in.tokens["refresh_token"]

    new = client.do_access_token_refresh(state=signed_in.state, authn_method="client_secret_basic")
    assert isinstance(new, AccessTokenResponse), new
    assert new["refresh_token"] != old

    # pyoidc always sends the grant's latest refresh token: extra_args puts the old one back on the wire.
    again = client.do_access_token_refresh(state=signed_in.state, authn_method="client_secret_basic",
                                           extra_args={"refresh_token": old})
    assert isinstance(again, ErrorResponse) and again["error"] == "invalid_grant"


def test_pyoidc_logout(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp)
    browser = Browser(person)
    signed_in = _sign_in(client, browser)

    logout_state = rndstr(24)
    request = client.construct_EndSessionRequest(state=signed_in.state, request_args={
        "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI, "state": logout_state})
    assert request["id_token_hint"]  # pyoidc takes it from the grant of that state
    back = browser.logout(request.request(client.end_session_endpoint))
    assert back.split("?")[0] == POST_LOGOUT_REDIRECT_URI and query(back)["state"] == logout_state

    url, _, _, _ = client.request_info(AuthorizationRequest, method="GET", request_args={
        "client_id": client.client_id, "response_type": "code", "scope": ["openid"], "redirect_uri": REDIRECT_URI,
        "state": rndstr(24), "prompt": "none", **client.add_code_challenge()[0]})
    assert query(browser.authorize(url))["error"] == "login_required"


def test_pyoidc_step_up_totp(live_idp: LiveIdp) -> None:
    client = _client(live_idp)
    browser = Browser(new_person(live_idp))
    weak = _sign_in(client, browser)
    assert weak.id_token["acr"] == ACR_IAL1_AAL1

    strong = _sign_in(client, browser, acr_values=ACR_IAL1_AAL2)
    assert browser.filled[-2:] == ["totp", "consent"] and browser.filled.count("password") == 1
    assert strong.id_token["acr"] == ACR_IAL1_AAL2
    assert "otp" in strong.id_token["amr"] and strong.id_token["sub"] == weak.id_token["sub"]


def test_pyoidc_client_secret_basic(live_idp: LiveIdp, person: Person) -> None:
    client = _client(live_idp, auth_method="client_secret_basic")
    signed_in = _sign_in(client, Browser(person))
    assert signed_in.tokens["access_token"]

    client.client_secret = "not-the-secret"
    refused = client.do_access_token_refresh(state=signed_in.state, authn_method="client_secret_basic")
    assert isinstance(refused, ErrorResponse) and refused["error"] == "invalid_client"


def test_pyoidc_private_key_jwt(live_idp: LiveIdp, person: Person, tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "pyoidc-rsa-1", "use": "sig"})
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    client = _client(live_idp, "--jwks-file", str(jwks_file), auth_method="private_key_jwt",
                     private_jwk=key.as_dict(private=True))

    # The code exchange with pyoidc's default assertion (RS256, aud = token endpoint, 600 s).
    signed_in = _sign_in(client, Browser(person), auth_method="private_key_jwt")
    assert signed_in.id_token["sub"]

    # pyoidc 1.7's refresh helper does not pass the endpoint to the authenticator, which fails...
    with pytest.raises(KeyError, match="authn_endpoint"):
        client.do_access_token_refresh(state=signed_in.state, authn_method="private_key_jwt")
    # ...so an agency signs the assertion with pyoidc's own assertion_jwt and sends it as parameters.
    signing_keys = client.keyjar.get_signing_key("RSA", "", alg="RS256")
    assertion = assertion_jwt(client, signing_keys, client.token_endpoint, "RS256")
    new = client.do_access_token_refresh(state=signed_in.state, authn_method="", request_args={
        "client_id": client.client_id, "client_assertion_type": JWT_BEARER, "client_assertion": assertion})
    assert isinstance(new, AccessTokenResponse), new
    assert new["refresh_token"] != signed_in.tokens["refresh_token"]

    # The same assertion twice is refused (its jti is remembered).
    replayed = client.do_access_token_refresh(state=signed_in.state, authn_method="", request_args={
        "client_id": client.client_id, "client_assertion_type": JWT_BEARER, "client_assertion": assertion})
    assert isinstance(replayed, ErrorResponse) and replayed["error"] == "invalid_client"
