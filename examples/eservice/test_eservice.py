"""Tests for the demo e-Service.

No network: the IdP is faked at the transport boundary (a requests adapter handed to the
app in config), so Authlib's real client code runs end to end, PKCE and nonce included.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from requests.adapters import BaseAdapter
from werkzeug.test import TestResponse

from .app import create_app
from .app import load_settings
from .policy import PROOFED_ACR
from .policy import acr_satisfies
from .policy import shortfall
from .verified import read as read_verified_claims

ISSUER = "http://idp.test"
CLIENT_ID = "demo-eservice"
CLIENT_SECRET = "s3cret"
SUB = "c1d2e3f4"
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "jwks_uri": f"{ISSUER}/jwks",
    "end_session_endpoint": f"{ISSUER}/end_session",
    "id_token_signing_alg_values_supported": ["RS256"],
    "authorization_response_iss_parameter_supported": True,
}


class FakeIdp(BaseAdapter):
    """The IdP's back-channel endpoints, answering as the real one should."""

    def __init__(self) -> None:
        super().__init__()
        self.metadata = dict(METADATA)
        self.userinfo: dict[str, Any] = {
            "sub": SUB,
            "name": "สมชาย ใจดี",
            "email": "somchai@example.test",
            "verified_claims": {"verification": {"trust_framework": "th_digitalid"},
                                "claims": {"given_name": "สมชาย"}},
        }
        self.id_token_claims: dict[str, Any] = {}  # overrides, for negative tests
        self.verified_claims: dict[str, Any] | None = None  # released in the ID token when asked for
        self.access_token_claims: dict[str, Any] = {}
        self.access_tokens: set[str] = set()
        self.pending: dict[str, dict[str, str]] = {}
        self.paths: list[str] = []
        self.eservice: Flask | None = None  # requests to http://localhost go to this app (its API)

    def approve(self, authorize_url: str, **extra: str | None) -> str:
        """Play the citizen signing in: the callback URL the IdP would redirect to."""
        request = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        code = secrets.token_urlsafe(8)
        self.pending[code] = request
        params = {"code": code, "state": request["state"], "iss": ISSUER, **extra}
        return "/callback?" + urlencode({k: v for k, v in params.items() if v is not None})

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url)
        if url.netloc == "localhost" and self.eservice is not None:
            answer = self.eservice.test_client().open(url.path, method=request.method,
                                                      headers=dict(request.headers))
            response = reply(request, answer.status_code, answer.json)
            response.headers.update(answer.headers)
            return response
        path = url.path
        self.paths.append(path)
        if path == "/.well-known/openid-configuration":
            return reply(request, 200, self.metadata)
        if path == "/jwks":
            return reply(request, 200, {"keys": [SIGNING_KEY.as_dict(private=False)]})
        if path == "/token" and request.method == "POST":
            return self.token(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if path == "/userinfo" and scheme == "Bearer" and token in self.access_tokens:
            return reply(request, 200, self.userinfo)
        return reply(request, 401, {"error": "invalid_request"})

    def token(self, request: requests.PreparedRequest) -> requests.Response:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        form = dict(parse_qsl(body))
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        authorization = self.pending.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if (request.headers.get("Authorization") != f"Basic {basic}" or authorization is None
                or authorization["code_challenge"] != challenge
                or authorization["redirect_uri"] != form.get("redirect_uri")):
            return reply(request, 400, {"error": "invalid_grant"})
        now = int(time.time())
        asked = json.loads(authorization.get("claims", "{}")).get("id_token", {})
        released = ({"verified_claims": self.verified_claims}
                    if "verified_claims" in asked and self.verified_claims else {})
        claims = {"iss": ISSUER, "sub": SUB, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "auth_time": now - 5, "nonce": authorization["nonce"], "amr": ["pwd", "otp"],
                  "acr": authorization.get("acr_values", "urn:th:digitalid:ial1:aal1"),
                  **released, **self.id_token_claims}
        id_token = jwt.encode({"alg": "RS256", "kid": SIGNING_KEY.kid}, claims, SIGNING_KEY)
        same = {name: claims[name] for name in ("acr", "amr", "auth_time")}  # one sign-in, two tokens
        access = access_token(**{**same, **self.access_token_claims})
        self.access_tokens.add(access)
        return reply(request, 200, {"access_token": access, "token_type": "Bearer",
                                    "expires_in": 300, "id_token": id_token})

    def close(self) -> None:
        pass


class UnreachableIdp(BaseAdapter):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        raise requests.ConnectionError("connection refused")

    def close(self) -> None:
        pass


def access_token(key: RSAKey = SIGNING_KEY, typ: str = "at+jwt", **overrides: Any) -> str:
    """An RFC 9068 access token as the IdP issues it: ``aud`` is the issuer itself."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": ISSUER, "client_id": CLIENT_ID, "sub": SUB, "iat": now, "exp": now + 300,
              "jti": secrets.token_urlsafe(8), "scope": "openid profile email",
              "acr": "urn:th:digitalid:ial1:aal2", "amr": ["pwd", "otp"], "auth_time": now - 5, **overrides}
    return jwt.encode({"alg": "RS256", "typ": typ, "kid": key.kid}, claims, key)


def reply(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response.raw = io.BytesIO(json.dumps(body).encode())
    response.url = request.url or ""
    response.request = request
    return response


@pytest.fixture
def fake_idp() -> FakeIdp:
    return FakeIdp()


def make_app(**config: Any) -> Flask:
    return create_app({
        "TESTING": True,
        "ESERVICE_ISSUER": ISSUER,
        "ESERVICE_CLIENT_ID": CLIENT_ID,
        "ESERVICE_CLIENT_SECRET": CLIENT_SECRET,
        "ESERVICE_REDIRECT_URI": "http://localhost/callback",
        "ESERVICE_POST_LOGOUT_REDIRECT_URI": "http://localhost/",
        **config,
    })


@pytest.fixture
def client(fake_idp: FakeIdp) -> FlaskClient:
    fake_idp.eservice = make_app(ESERVICE_HTTP_ADAPTER=fake_idp)
    return fake_idp.eservice.test_client()


def sign_in(client: FlaskClient, fake_idp: FakeIdp, acr: str | None = None) -> requests.Response:
    """The whole round trip: /login, the IdP approving, /callback."""
    login = client.get("/login", query_string={"acr": acr} if acr else {})
    assert login.status_code == 302
    return client.get(fake_idp.approve(login.location))


def test_create_app_does_not_contact_the_idp(fake_idp: FakeIdp) -> None:
    make_app(ESERVICE_HTTP_ADAPTER=fake_idp)
    assert fake_idp.paths == []


def test_create_app_works_with_defaults_only() -> None:
    assert create_app({"TESTING": True}).config["ESERVICE_SCOPE"] == "openid profile email"


def test_home_offers_sign_in_when_signed_out(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "ใบอนุญาตประกอบกิจการร้านอาหาร" in response.text
    assert "Sign in with Digital ID" in response.text
    assert '<a class="button" href="/permit/renew">Renew the licence</a>' in response.text


def test_login_sends_pkce_s256_and_nonce_with_preloaded_metadata() -> None:
    client = make_app(ESERVICE_SERVER_METADATA=METADATA).test_client()
    response = client.get("/login")
    assert response.status_code == 302
    url = urlsplit(response.location)
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["authorization_endpoint"]
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["nonce"] and params["state"]
    assert params["response_type"] == "code"
    assert params["scope"] == "openid profile email"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://localhost/callback"
    assert "acr_values" not in params


def test_login_forwards_acr_values() -> None:
    client = make_app(ESERVICE_SERVER_METADATA=METADATA).test_client()
    response = client.get("/login?acr=urn:th:digitalid:ial2:aal2")
    assert parse_qs(urlsplit(response.location).query)["acr_values"] == ["urn:th:digitalid:ial2:aal2"]


def test_login_moves_to_the_redirect_uri_host_first(client: FlaskClient) -> None:
    response = client.get("/login?acr=x", base_url="http://127.0.0.1:5001")
    assert response.status_code == 302
    assert response.location == "http://localhost/login?acr=x"


def test_login_refuses_discovery_naming_another_issuer() -> None:
    client = make_app(ESERVICE_SERVER_METADATA={**METADATA, "issuer": "http://evil.test"}).test_client()
    assert client.get("/login").status_code == 502


def test_login_without_client_id_explains_configuration() -> None:
    client = make_app(ESERVICE_CLIENT_ID=None, ESERVICE_SERVER_METADATA=METADATA).test_client()
    response = client.get("/login")
    assert response.status_code == 503
    assert "ESERVICE_CLIENT_FILE" in response.text


def test_unreachable_idp_gives_a_page_not_a_traceback() -> None:
    client = make_app(ESERVICE_HTTP_ADAPTER=UnreachableIdp()).test_client()
    response = client.get("/login")
    assert response.status_code == 502
    assert "cannot be reached" in response.text


@pytest.mark.parametrize(
    ("error", "expected"),
    [("access_denied", "You cancelled sign-in"), ("something_new", "Please try again")],
)
def test_callback_error_is_a_readable_page(client: FlaskClient, error: str, expected: str) -> None:
    response = client.get(f"/callback?error={error}&state=x&error_description=Call+0800+now")
    assert response.status_code == 400
    assert expected in response.text
    assert "0800" not in response.text  # not our sign-in: its description is not shown


def test_callback_error_shows_description_for_our_own_sign_in(
    client: FlaskClient, fake_idp: FakeIdp
) -> None:
    login = client.get("/login")
    response = client.get(fake_idp.approve(login.location, code=None, error="access_denied",
                                           error_description="User cancelled"))
    assert response.status_code == 400
    assert "access_denied: User cancelled" in response.text


def test_sign_in_shows_the_claims(client: FlaskClient, fake_idp: FakeIdp) -> None:
    assert sign_in(client, fake_idp, acr="urn:th:digitalid:ial2:aal2").status_code == 302
    page = client.get("/").text
    assert SUB in page
    assert "urn:th:digitalid:ial2:aal2" in page
    assert "<code>pwd</code>, <code>otp</code>" in page
    assert " UTC" in page  # auth_time, formatted
    assert "สมชาย ใจดี" in page
    assert "th_digitalid" in page  # verified_claims
    assert "Sign out" in page
    assert "another level than requested" not in page


def test_home_warns_when_acr_differs_from_the_request(client: FlaskClient, fake_idp: FakeIdp) -> None:
    fake_idp.id_token_claims["acr"] = "urn:th:digitalid:ial1:aal1"
    sign_in(client, fake_idp, acr="urn:th:digitalid:ial2:aal2")
    assert "another level than requested" in client.get("/").text


@pytest.mark.parametrize("iss", ["http://evil.test", None], ids=["other issuer", "missing"])
def test_callback_rejects_a_response_from_another_issuer(
    client: FlaskClient, fake_idp: FakeIdp, iss: str | None
) -> None:
    login = client.get("/login")
    response = client.get(fake_idp.approve(login.location, iss=iss))
    assert response.status_code == 400
    assert "/token" not in fake_idp.paths


@pytest.mark.parametrize(
    "override",
    [{"nonce": "replayed"}, {"aud": "another-client"}, {"iss": "http://evil.test"},
     {"exp": int(time.time()) - 3600}],
    ids=["nonce", "aud", "iss", "exp"],
)
def test_callback_rejects_a_bad_id_token(
    client: FlaskClient, fake_idp: FakeIdp, override: dict[str, Any]
) -> None:
    fake_idp.id_token_claims.update(override)
    assert sign_in(client, fake_idp).status_code == 400
    assert "Sign out" not in client.get("/").text


def test_callback_rejects_userinfo_about_someone_else(client: FlaskClient, fake_idp: FakeIdp) -> None:
    fake_idp.userinfo["sub"] = "someone-else"
    assert sign_in(client, fake_idp).status_code == 400


def test_callback_rejects_an_unknown_state(client: FlaskClient, fake_idp: FakeIdp) -> None:
    client.get("/login")
    response = client.get(f"/callback?code=abc&state=forged&iss={ISSUER}")
    assert response.status_code == 400
    assert "Please start again" in response.text


def test_callback_cannot_be_replayed(client: FlaskClient, fake_idp: FakeIdp) -> None:
    login = client.get("/login")
    callback = fake_idp.approve(login.location)
    assert client.get(callback).status_code == 302
    assert client.get(callback).status_code == 400


def test_logout_ends_the_idp_session_with_hint_and_state(client: FlaskClient, fake_idp: FakeIdp) -> None:
    sign_in(client, fake_idp)
    response = client.post("/logout")
    url = urlsplit(response.location)
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["end_session_endpoint"]
    assert jwt.decode(params["id_token_hint"], SIGNING_KEY).claims["sub"] == SUB
    assert params["post_logout_redirect_uri"] == "http://localhost/"
    assert params["client_id"] == CLIENT_ID
    assert "Sign out" not in client.get("/").text
    back = client.get("/", query_string={"state": params["state"]})
    assert "signed out of this e-Service and of Digital ID" in back.text


def test_logout_back_with_unknown_state_signs_out_locally_only(client: FlaskClient) -> None:
    response = client.get("/?state=forged")
    assert response.status_code == 200
    assert "You are signed out of this e-Service." in response.text


def test_logout_when_signed_out_goes_home(client: FlaskClient, fake_idp: FakeIdp) -> None:
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.location == "/"
    assert fake_idp.paths == []


def test_logout_requires_post(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405


def test_settings_take_credentials_from_the_client_file(tmp_path: Any) -> None:
    path = tmp_path / "demo-eservice.json"
    path.write_text(json.dumps({"client_id": "from-file", "client_secret": "file-secret"}))
    settings = load_settings({"ESERVICE_CLIENT_FILE": str(path), "ESERVICE_CLIENT_SECRET": "env-secret"})
    assert settings["ESERVICE_CLIENT_ID"] == "from-file"
    assert settings["ESERVICE_CLIENT_SECRET"] == "env-secret"  # the environment wins
    assert settings["ESERVICE_ISSUER"] == "http://localhost:5000"
    assert settings["ESERVICE_REDIRECT_URI"] == "http://localhost:5001/callback"


# -- Step-up: the renew page (OIDC acr/max_age) and the licence API (RFC 9470) -----------------------

STRONG = "urn:th:digitalid:ial1:aal2"
WEAK = "urn:th:digitalid:ial1:aal1"
CHALLENGE = ('Bearer error="insufficient_user_authentication", '
             'error_description="A sign-in with a second factor is required.", '
             'acr_values="urn:th:digitalid:ial1:aal2", max_age=600')


def authorize_params(location: str) -> dict[str, str]:
    url = urlsplit(location)
    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["authorization_endpoint"]
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def step_up(client: FlaskClient, fake_idp: FakeIdp, **id_token: Any) -> TestResponse:
    """/permit/renew sends the person to the IdP; the IdP answers with these ID token claims."""
    fake_idp.id_token_claims.update(id_token)
    login = client.get("/permit/renew")
    assert login.status_code == 302
    return client.get(fake_idp.approve(login.location))


@pytest.mark.parametrize(
    ("acr", "enough"),
    [(STRONG, True), ("urn:th:digitalid:ial2:aal2", True), ("urn:th:digitalid:ial1:aal3", True),
     (WEAK, False), ("urn:th:digitalid:ial3:aal1", False), ("urn:th:digitalid:ial1:aal2 ", False), (None, False)],
)
def test_acr_is_compared_level_by_level(acr: str | None, enough: bool) -> None:
    assert acr_satisfies(acr) is enough


def test_renew_asks_the_idp_for_an_essential_acr_and_max_age(client: FlaskClient) -> None:
    params = authorize_params(client.get("/permit/renew").location)
    assert params["acr_values"] == STRONG
    assert json.loads(params["claims"]) == {"id_token": {"acr": {"essential": True, "values": [STRONG]}}}
    assert params["max_age"] == "600"
    assert params["code_challenge_method"] == "S256" and params["nonce"]


def test_renew_moves_to_the_redirect_uri_host_first(client: FlaskClient) -> None:
    response = client.get("/permit/renew", base_url="http://127.0.0.1:5001")
    assert response.location == "http://localhost/permit/renew"


def test_step_up_returns_to_the_renew_page_and_shows_what_came_back(client: FlaskClient,
                                                                   fake_idp: FakeIdp) -> None:
    back = step_up(client, fake_idp)
    assert back.status_code == 302
    assert back.location == "/permit/renew"
    page = client.get("/permit/renew")
    assert page.status_code == 200
    assert f"<code>{STRONG}</code>" in page.text
    assert "<code>pwd</code>, <code>otp</code>" in page.text
    assert " UTC" in page.text  # auth_time
    assert "step-up authentication" in page.text and "ต่ออายุใบอนุญาต" in page.text
    assert "FOOD-2568-000123" in page.text  # the licence API answered 200


@pytest.mark.parametrize("acr", ["urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial1:aal3"])
def test_a_higher_level_also_unlocks_the_page(client: FlaskClient, fake_idp: FakeIdp, acr: str) -> None:
    step_up(client, fake_idp, acr=acr)
    assert client.get("/permit/renew").status_code == 200


@pytest.mark.parametrize("acr", [WEAK, "urn:th:digitalid:ial3:aal1", "aal2", None])
def test_a_weaker_id_token_does_not_unlock_the_page(client: FlaskClient, fake_idp: FakeIdp,
                                                    acr: str | None) -> None:
    step_up(client, fake_idp, acr=acr)
    again = client.get("/permit/renew")
    assert again.status_code == 302  # asks the IdP again
    assert authorize_params(again.location)["acr_values"] == STRONG
    assert "FOOD-2568-000123" not in again.text


def test_an_old_sign_in_does_not_unlock_the_page(client: FlaskClient, fake_idp: FakeIdp) -> None:
    step_up(client, fake_idp, auth_time=int(time.time()) - 601)
    again = client.get("/permit/renew")
    assert again.status_code == 302
    assert authorize_params(again.location)["max_age"] == "600"


def test_an_ordinary_sign_in_does_not_unlock_the_page(client: FlaskClient, fake_idp: FakeIdp) -> None:
    sign_in(client, fake_idp)  # /login without acr: the fake IdP answers ial1:aal1
    assert client.get("/permit/renew").status_code == 302


def test_unmet_authentication_requirements_says_how_to_add_a_second_factor(client: FlaskClient,
                                                                          fake_idp: FakeIdp) -> None:
    login = client.get("/permit/renew")
    response = client.get(fake_idp.approve(login.location, code=None, error="unmet_authentication_requirements"))
    assert response.status_code == 400
    assert "This needs a second factor" in response.text
    assert f'<a href="{ISSUER}/security">{ISSUER}/security</a>' in response.text


def test_renew_follows_the_apis_challenge_exactly(client: FlaskClient, fake_idp: FakeIdp,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9470 §4: the ID token is enough for the page, the access token not for the API."""
    from . import api

    monkeypatch.setattr(api, "REQUIRED_ACR", "urn:th:digitalid:ial2:aal3")
    monkeypatch.setattr(api, "MAX_AGE", 60)
    fake_idp.access_token_claims["acr"] = WEAK
    step_up(client, fake_idp)
    again = client.get("/permit/renew")
    assert again.status_code == 302
    params = authorize_params(again.location)
    assert params["acr_values"] == "urn:th:digitalid:ial2:aal3"
    assert params["max_age"] == "60"
    assert json.loads(params["claims"])["id_token"]["acr"]["values"] == ["urn:th:digitalid:ial2:aal3"]


def test_renew_does_not_loop_when_the_api_refuses_the_token(client: FlaskClient, fake_idp: FakeIdp) -> None:
    fake_idp.access_token_claims["client_id"] = "another-client"
    step_up(client, fake_idp)
    page = client.get("/permit/renew")
    assert page.status_code == 502
    assert "The access token was refused (invalid_claim)." in page.text


def test_api_answers_the_rfc_9470_challenge_for_a_weak_token(client: FlaskClient) -> None:
    response = client.get("/api/licence", headers={"Authorization": f"Bearer {access_token(acr=WEAK)}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.json == {"error": "insufficient_user_authentication",
                             "error_description": "A sign-in with a second factor is required."}


def test_api_answers_the_rfc_9470_challenge_for_an_old_sign_in(client: FlaskClient) -> None:
    token = access_token(auth_time=int(time.time()) - 601)
    response = client.get("/api/licence", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE.replace(
        "A sign-in with a second factor is required.", "A more recent sign-in is required.")


@pytest.mark.parametrize("acr", [STRONG, "urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial1:aal3"])
def test_api_answers_a_strong_recent_token(client: FlaskClient, acr: str) -> None:
    response = client.get("/api/licence", headers={"Authorization": f"Bearer {access_token(acr=acr)}"})
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["licence"] == "FOOD-2568-000123"
    assert response.json["acr"] == acr and response.json["holder"] == SUB


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key"})  # same kid, wrong key


@pytest.mark.parametrize(
    "token",
    [access_token(aud="https://api.other.test"), access_token(iss="http://evil.test"), access_token(key=OTHER_KEY),
     access_token(client_id="another-client"), access_token(exp=int(time.time()) - 60), access_token(typ="JWT"),
     "not-a-jwt"],
    ids=["aud", "iss", "signature", "client_id", "expired", "typ", "garbage"],
)
def test_api_refuses_an_invalid_token(client: FlaskClient, token: str) -> None:
    response = client.get("/api/licence", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", error_description=')


def test_api_without_a_token_asks_for_one(client: FlaskClient) -> None:
    response = client.get("/api/licence")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


# -- The licence application: a verified identity (IAL2) and verified_claims (OIDC4IDA 1.0) ----------

VERIFIED_CLAIMS_REQUEST = {
    "verification": {"trust_framework": None, "time": None, "evidence": None},
    "claims": {"given_name": None, "family_name": None, "given_name#th": None, "family_name#th": None,
               "birthdate": None},
}
SOMCHAI = {  # what the IdP releases after proofing with the demo registry's Somchai Jaidee
    "verification": {
        "trust_framework": "nist_800_63A",
        "assurance_level": "IAL2",
        "time": "2025-06-01T09:30:00+00:00",
        "evidence": [{
            "type": "document",
            "document_details": {"type": "idcard", "issuer": {"name": "Department of Provincial Administration",
                                                              "country_code": "THA"}},
            "check_details": [{"check_method": "vri", "organization": "TH-DOPA"}],
            "time": "2025-06-01T09:30:00+00:00",
        }],
    },
    "claims": {"given_name": "Somchai", "family_name": "Jaidee", "given_name#th": "สมชาย",
               "family_name#th": "ใจดี", "birthdate": "1985-03-14"},
}


def apply(client: FlaskClient, fake_idp: FakeIdp, **id_token: Any) -> TestResponse:
    """/licence/apply sends the person to the IdP; the IdP answers with these ID token claims."""
    fake_idp.id_token_claims.update(id_token)
    login = client.get("/licence/apply")
    assert login.status_code == 302
    return client.get(fake_idp.approve(login.location))


def test_home_offers_the_licence_application(client: FlaskClient) -> None:
    assert ('<a class="button" href="/licence/apply">Apply for a restaurant licence</a>'
            in client.get("/").text)


def test_licence_asks_for_an_essential_ial2_acr_and_verified_claims(client: FlaskClient) -> None:
    params = authorize_params(client.get("/licence/apply").location)
    assert params["acr_values"] == PROOFED_ACR == "urn:th:digitalid:ial2:aal2"
    assert json.loads(params["claims"]) == {"id_token": {
        "acr": {"essential": True, "values": ["urn:th:digitalid:ial2:aal2"]},
        "verified_claims": VERIFIED_CLAIMS_REQUEST,
    }}
    assert params["max_age"] == "600"
    assert params["code_challenge_method"] == "S256" and params["nonce"]


def test_licence_moves_to_the_redirect_uri_host_first(client: FlaskClient) -> None:
    response = client.get("/licence/apply", base_url="http://127.0.0.1:5001")
    assert response.location == "http://localhost/licence/apply"


@pytest.mark.parametrize("acr", ["urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial3:aal2",
                                 "urn:th:digitalid:ial2:aal3"])
def test_a_verified_identity_opens_the_licence_page_with_the_verified_claims(
    client: FlaskClient, fake_idp: FakeIdp, acr: str
) -> None:
    fake_idp.verified_claims = SOMCHAI
    back = apply(client, fake_idp, acr=acr)
    assert back.status_code == 302
    assert back.location == "/licence/apply"
    page = client.get("/licence/apply")
    assert page.status_code == 200
    text = page.text
    assert "Apply for a restaurant licence" in text
    assert "Verified identity confirmed: <strong>Somchai Jaidee</strong>" in text
    for value in ('<span lang="th">สมชาย</span>', '<span lang="th">ใจดี</span>', "<span>Somchai</span>",
                  "<span>Jaidee</span>", "<span>1985-03-14</span>", "<code>given_name#th</code>"):
        assert value in text
    assert "<code>nist_800_63A</code>" in text and "<code>IAL2</code>" in text
    assert "2025-06-01 09:30:00 UTC" in text  # verification time
    assert "National ID card" in text and "Department of Provincial Administration, THA" in text
    assert "Card checked against the issuer&#39;s registry" in text
    assert "<code>vri</code>, by TH-DOPA" in text
    assert "What is IAL2?" in text and "IAL2 คืออะไร" in text
    assert f"<code>{acr}</code>" in text


@pytest.mark.parametrize("acr", ["urn:th:digitalid:ial1:aal2", "urn:th:digitalid:ial1:aal3",
                                 "urn:th:digitalid:ial2:aal1", "urn:th:digitalid:ial3:aal1", "ial2", None])
def test_a_weaker_id_token_does_not_open_the_licence_page(client: FlaskClient, fake_idp: FakeIdp,
                                                          acr: str | None) -> None:
    fake_idp.verified_claims = SOMCHAI
    apply(client, fake_idp, acr=acr)
    again = client.get("/licence/apply")
    assert again.status_code == 302  # asks the IdP again
    assert authorize_params(again.location)["acr_values"] == PROOFED_ACR
    assert "Somchai" not in again.text


def test_the_renew_pages_sign_in_does_not_open_the_licence_page(client: FlaskClient, fake_idp: FakeIdp) -> None:
    fake_idp.verified_claims = SOMCHAI
    step_up(client, fake_idp)  # ial1:aal2
    assert client.get("/permit/renew").status_code == 200
    assert client.get("/licence/apply").status_code == 302


def test_an_ial2_sign_in_that_did_not_ask_for_verified_claims_asks_again(client: FlaskClient,
                                                                         fake_idp: FakeIdp) -> None:
    fake_idp.verified_claims = SOMCHAI
    sign_in(client, fake_idp, acr=PROOFED_ACR)  # the home page's "verified identity" button
    again = client.get("/licence/apply")
    assert again.status_code == 302
    assert "verified_claims" in json.loads(authorize_params(again.location)["claims"])["id_token"]
    client.get(fake_idp.approve(again.location))
    assert "Somchai Jaidee" in client.get("/licence/apply").text


def test_an_old_sign_in_does_not_open_the_licence_page(client: FlaskClient, fake_idp: FakeIdp) -> None:
    fake_idp.verified_claims = SOMCHAI
    apply(client, fake_idp, auth_time=int(time.time()) - 601)
    again = client.get("/licence/apply")
    assert again.status_code == 302
    assert authorize_params(again.location)["max_age"] == "600"


def test_no_verified_claims_at_ial2_is_said_not_asked_again(client: FlaskClient, fake_idp: FakeIdp) -> None:
    apply(client, fake_idp)  # fake_idp.verified_claims is None: the IdP releases none
    page = client.get("/licence/apply")
    assert page.status_code == 200  # no loop back to the IdP
    assert "sent no verified claims" in page.text


def test_unmet_on_the_licence_page_says_to_verify_the_identity(client: FlaskClient, fake_idp: FakeIdp) -> None:
    login = client.get("/licence/apply")
    response = client.get(fake_idp.approve(login.location, code=None, error="unmet_authentication_requirements"))
    assert response.status_code == 400
    assert (f'This needs a verified identity (IAL2). Verify your identity at <a href="{ISSUER}/proofing">'
            f'{ISSUER}/proofing</a> and try again.') in response.text
    assert f'กรุณายืนยันตัวตนที่ <a href="{ISSUER}/proofing">' in response.text
    assert "This needs a second factor" not in response.text
    assert "unmet_authentication_requirements" in response.text  # the detail for support


def test_unmet_after_the_licence_page_then_renew_keeps_the_second_factor_message(
    client: FlaskClient, fake_idp: FakeIdp
) -> None:
    client.get("/licence/apply")
    login = client.get("/permit/renew")  # the last sign-in started decides
    response = client.get(fake_idp.approve(login.location, code=None, error="unmet_authentication_requirements"))
    assert "This needs a second factor" in response.text
    assert f'<a href="{ISSUER}/security">' in response.text
    assert "verified identity" not in response.text


def test_unmet_for_a_sign_in_we_did_not_start_gets_the_generic_words(client: FlaskClient) -> None:
    client.get("/licence/apply")
    response = client.get("/callback?error=unmet_authentication_requirements&state=forged")
    assert response.status_code == 400
    assert "This needs a second factor" in response.text


def test_shortfall_names_the_missing_level() -> None:
    now = time.time()
    recent = {"auth_time": int(now)}
    assert shortfall({**recent, "acr": "urn:th:digitalid:ial1:aal2"}, required=PROOFED_ACR) == \
        "A verified identity (IAL2) is required."
    assert shortfall({**recent, "acr": "urn:th:digitalid:ial2:aal1"}, required=PROOFED_ACR) == \
        "A sign-in with a second factor is required."
    assert shortfall({**recent, "acr": "urn:th:digitalid:ial3:aal3"}, required=PROOFED_ACR) is None


def test_verified_claims_are_read_from_an_array_and_garbage_is_ignored() -> None:
    assert read_verified_claims([{"claims": {}}, SOMCHAI]).name_th == "สมชาย ใจดี"  # type: ignore[union-attr]
    assert read_verified_claims({"verification": "x", "claims": {"given_name": "A"}}).evidence == []  # type: ignore[union-attr]
    garbage: list[Any] = [None, "text", [], {"claims": "x"}, {"claims": {"given_name": 5}}]
    for value in garbage:
        assert read_verified_claims(value) is None


# -- back-channel logout ---------------------------------------------------------------------------------

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_token(key: RSAKey = SIGNING_KEY, typ: str | None = "logout+jwt", drop: tuple[str, ...] = (),
                 **overrides: Any) -> str:
    """A logout token as the IdP sends it (OIDC Back-Channel Logout 1.0 §2.4)."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(12),
              "events": {BACKCHANNEL_EVENT: {}}, "sid": "idp-session-1", "sub": SUB, **overrides}
    header = {"alg": "RS256", "kid": key.kid, **({"typ": typ} if typ else {})}
    return jwt.encode(header, {k: v for k, v in claims.items() if k not in drop}, key)


def signed_in_with_sid(client: FlaskClient, fake_idp: FakeIdp, sid: str = "idp-session-1") -> None:
    fake_idp.id_token_claims = {"sid": sid}
    sign_in(client, fake_idp)
    with client.session_transaction() as session:
        assert session["claims"]["sid"] == sid


def signed_in(client: FlaskClient) -> bool:
    with client.session_transaction() as session:
        return "claims" in session


def test_a_valid_logout_token_ends_the_session_of_that_sid(client: FlaskClient, fake_idp: FakeIdp) -> None:
    signed_in_with_sid(client, fake_idp)
    other = fake_idp.eservice.test_client()  # type: ignore[union-attr]
    signed_in_with_sid(other, fake_idp, sid="idp-session-2")
    answer = client.post("/backchannel-logout", data={"logout_token": logout_token()})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    client.get("/")
    assert not signed_in(client)
    other.get("/")
    assert signed_in(other)  # another IdP session: still signed in


def test_a_logout_token_without_sid_ends_every_session_of_that_person(client: FlaskClient,
                                                                      fake_idp: FakeIdp) -> None:
    signed_in_with_sid(client, fake_idp)
    assert client.post("/backchannel-logout", data={"logout_token": logout_token(drop=("sid",))}).status_code == 200
    client.get("/")
    assert not signed_in(client)


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key"})


@pytest.mark.parametrize(("token", "words"), [
    (lambda: logout_token(typ=None), "typ"),
    (lambda: logout_token(typ="JWT"), "typ"),
    (lambda: logout_token(nonce="n-1"), "nonce"),
    (lambda: logout_token(aud="another-eservice"), "aud"),
    (lambda: logout_token(iss="https://evil.example"), "iss"),
    (lambda: logout_token(exp=int(time.time()) - 600), "expired"),
    (lambda: logout_token(iat=int(time.time()) + 600), "iat"),
    (lambda: logout_token(events={"http://example.com/other": {}}), "events"),
    (lambda: logout_token(drop=("sid", "sub")), "neither sid nor sub"),
    (lambda: logout_token(drop=("jti",)), "jti"),
    (lambda: logout_token(key=OTHER_KEY), "signed"),
    (lambda: "not-a-jwt", "signed"),
    (lambda: "", "missing"),
])
def test_a_logout_token_failing_a_check_is_refused_and_ends_nothing(client: FlaskClient, fake_idp: FakeIdp,
                                                                     token: Any, words: str) -> None:
    signed_in_with_sid(client, fake_idp)
    answer = client.post("/backchannel-logout", data={"logout_token": token()})
    assert answer.status_code == 400 and answer.json["error"] == "invalid_request"
    assert words in answer.json["error_description"]
    client.get("/")
    assert signed_in(client)


def test_a_logout_token_is_accepted_once(client: FlaskClient) -> None:
    token = logout_token()
    assert client.post("/backchannel-logout", data={"logout_token": token}).status_code == 200
    again = client.post("/backchannel-logout", data={"logout_token": token})
    assert again.status_code == 400 and "already used" in again.json["error_description"]


def test_an_id_token_is_not_a_logout_token(client: FlaskClient, fake_idp: FakeIdp) -> None:
    signed_in_with_sid(client, fake_idp)
    with client.session_transaction() as session:
        id_token = session["id_token"]
    assert client.post("/backchannel-logout", data={"logout_token": id_token}).status_code == 400
    client.get("/")
    assert signed_in(client)


def test_an_unreachable_idp_is_a_503_so_the_idp_tries_again() -> None:
    client = make_app(ESERVICE_HTTP_ADAPTER=UnreachableIdp()).test_client()
    answer = client.post("/backchannel-logout", data={"logout_token": logout_token()})
    assert answer.status_code == 503
