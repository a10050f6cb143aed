"""Authlib's Flask integration (``flask_client.OAuth``) signs in to a live idp, as an agency's Flask app would.

The relying party is a small Flask app built here, configured only through ``oauth.register`` with
the live discovery URL: ``/login`` is ``authorize_redirect`` (PKCE S256, ``state`` and ``nonce`` kept
in the Flask session), the callback is ``authorize_access_token`` (which checks ``state`` and the ID
token itself: signature against ``jwks_uri``, ``iss``, ``aud``, ``nonce``), ``/logout`` is
``logout_redirect`` and the post-logout page is ``validate_logout_response``. The app runs under its
Flask test client on ``https://rp.example``, which the IdP only ever redirects to: the browser helper
stops at that redirect and the test hands it to the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask import jsonify
from flask import request
from flask.testing import FlaskClient
from werkzeug.wrappers import Response

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
    from authlib.common.encoding import urlsafe_b64decode
    from authlib.integrations.base_client import MismatchingStateError
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.flask_client import OAuth
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.errors import JoseError
    from joserfc.jwk import RSAKey
except ImportError:
    missing_library("Authlib")

pytestmark = pytest.mark.interop

SCOPE = "openid profile email offline_access"
RP_BASE = "https://rp.example"  # the app's own origin; REDIRECT_URI and POST_LOGOUT_REDIRECT_URI live on it


@dataclass
class Rp:
    """One registered e-Service: its Flask app, the app's test client (the person's RP cookies) and its tokens."""

    idp: LiveIdp
    client_id: str
    oauth: OAuth
    http: FlaskClient
    tokens: list[dict[str, Any]] = field(default_factory=list)  # each callback's token, newest last

    @property
    def remote(self) -> Any:
        return self.oauth.create_client("idp")

    def get(self, url: str) -> Any:
        """GET on the app with ``url`` relative to its origin, or absolute (a redirect from the IdP)."""
        return self.http.get(url if url.startswith(RP_BASE) else RP_BASE + url)


def _app(oauth: OAuth, tokens: list[dict[str, Any]]) -> Flask:
    """The RP: what an agency writes after reading the Authlib Flask guide, with the IdP's URIs."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="interop-rp-session-key", TESTING=True)
    oauth.init_app(app)

    @app.get("/login")
    def login() -> Response:
        # Extra authorization parameters (acr_values for step-up, prompt) ride on the login link.
        params = {"prompt": "consent", **request.args.to_dict()}
        return oauth.idp.authorize_redirect(REDIRECT_URI, **params)

    @app.get(urlsplit(REDIRECT_URI).path)
    def callback() -> Response:
        token = oauth.idp.authorize_access_token()  # raises on a bad state or a bad ID token
        tokens.append(token)
        return jsonify(claims=dict(token["userinfo"]))

    @app.get("/me")
    def me() -> Response:
        return jsonify(dict(oauth.idp.userinfo(token=tokens[-1])))

    @app.get("/logout")
    def logout() -> Response:
        return oauth.idp.logout_redirect(POST_LOGOUT_REDIRECT_URI, id_token_hint=tokens[-1]["id_token"],
                                         client_id=oauth.idp.client_id)

    @app.get(urlsplit(POST_LOGOUT_REDIRECT_URI).path)
    def logged_out() -> Response:
        oauth.idp.validate_logout_response()  # raises on an unknown state
        return jsonify(logged_out=True)

    return app


@pytest.fixture(scope="module")
def person(live_idp: LiveIdp) -> Person:
    """One account for the module: each test opens a fresh browser. Step-up makes its own (one TOTP use)."""
    return new_person(live_idp)


def _rp(idp: LiveIdp, *args: str, key: RSAKey | None = None, client: dict[str, Any] | None = None) -> Rp:
    """Register a client (unless ``client`` gives its id and secret) and build its Flask RP.

    With ``key``: private_key_jwt with Authlib's default assertion (RS256, aud = token endpoint, 3,600 s).
    """
    registered = client or idp.add_client(*args)
    client_kwargs: dict[str, Any] = {"scope": SCOPE, "code_challenge_method": "S256"}
    auth: dict[str, Any] = {"client_secret": registered.get("client_secret")}
    if key is not None:
        client_kwargs["token_endpoint_auth_method"] = "private_key_jwt"
        auth = {"client_secret": key, "client_auth_methods": [PrivateKeyJWT()]}
    oauth = OAuth()
    oauth.register(name="idp", client_id=registered["client_id"],
                   server_metadata_url=idp.issuer + "/.well-known/openid-configuration",
                   client_kwargs=client_kwargs, **auth)
    tokens: list[dict[str, Any]] = []
    app = _app(oauth, tokens)
    return Rp(idp, registered["client_id"], oauth, app.test_client(), tokens)


def _authorize(rp: Rp, browser: Browser, **params: str) -> tuple[dict[str, str], str]:
    """The person clicks "sign in" at the RP and passes the IdP's pages: (what the RP sent, the callback)."""
    login = rp.get("/login" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""))
    assert login.status_code == 302
    url = login.headers["Location"]
    return query(url), browser.authorize(url)


def _sign_in(rp: Rp, browser: Browser, **params: str) -> dict[str, Any]:
    """The whole round trip; returns the ID token claims Authlib checked."""
    _, callback = _authorize(rp, browser, **params)
    done = rp.get(callback)
    assert done.status_code == 200, done.text
    claims: dict[str, Any] = done.json["claims"]
    return claims


def _header(id_token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(urlsafe_b64decode(id_token.split(".")[0].encode()))
    return header


def _refresh(rp: Rp, refresh_token: str) -> dict[str, Any]:
    token: dict[str, Any] = rp.remote.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
    return token


def test_authlib_flask_discovery(live_idp: LiveIdp) -> None:
    rp = _rp(live_idp)
    metadata = rp.remote.load_server_metadata()
    assert metadata["issuer"] == live_idp.issuer
    assert "S256" in metadata["code_challenge_methods_supported"]
    assert {"client_secret_basic", "private_key_jwt"} <= set(metadata["token_endpoint_auth_methods_supported"])
    assert metadata["jwks_uri"].startswith(live_idp.issuer)
    assert metadata["end_session_endpoint"].startswith(live_idp.issuer)
    # The RP's first redirect goes to the discovered endpoint.
    assert rp.get("/login").headers["Location"].startswith(metadata["authorization_endpoint"] + "?")


def test_authlib_flask_code_flow_pkce_s256_and_state(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp)
    sent, callback = _authorize(rp, Browser(person))
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"] and sent["nonce"]
    returned = query(callback)
    assert returned["state"] == sent["state"] and returned["iss"] == live_idp.issuer

    # A callback whose state this RP session did not send is refused before any token request.
    forged = callback.replace(f"state={returned['state']}", "state=forged")
    with pytest.raises(MismatchingStateError):
        rp.get(forged)
    # The real one completes the flow (the verifier kept in the session matches the challenge)...
    assert rp.get(callback).status_code == 200 and rp.tokens[-1]["access_token"]
    # ...and its state is spent: the same callback again is refused by the library.
    with pytest.raises(MismatchingStateError):
        rp.get(callback)


def test_authlib_flask_id_token_rs256(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp)
    claims = _sign_in(rp, Browser(person))
    token = rp.tokens[-1]
    assert _header(token["id_token"])["alg"] == "RS256"
    assert claims["aud"] == rp.client_id or rp.client_id in claims["aud"]
    assert claims["acr"] == ACR_IAL1_AAL1 and claims["amr"] == ["pwd"]
    with pytest.raises(JoseError):  # the same check Authlib ran in the callback fails with another nonce
        rp.remote.parse_id_token(token, nonce="another-nonce")


def test_authlib_flask_id_token_es256(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp, "--id-token-alg", "ES256")
    claims = _sign_in(rp, Browser(person))
    assert _header(rp.tokens[-1]["id_token"])["alg"] == "ES256"
    assert claims["aud"] == rp.client_id or rp.client_id in claims["aud"]


def test_authlib_flask_userinfo(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp)
    claims = _sign_in(rp, Browser(person))
    userinfo = rp.get("/me").json
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == person.email


def test_authlib_flask_refresh_rotates(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp)
    claims = _sign_in(rp, Browser(person))
    old = rp.tokens[-1]["refresh_token"]

    new = _refresh(rp, old)
    assert new["refresh_token"] != old
    assert rp.remote.userinfo(token=new)["sub"] == claims["sub"]
    with pytest.raises(OAuthError) as refused:
        _refresh(rp, old)
    assert refused.value.error == "invalid_grant"


def test_authlib_flask_logout(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp)
    browser = Browser(person)
    _sign_in(rp, browser)
    logout = rp.get("/logout")
    assert logout.status_code == 302
    sent = query(logout.headers["Location"])
    assert sent["id_token_hint"] == rp.tokens[-1]["id_token"]
    assert sent["post_logout_redirect_uri"] == POST_LOGOUT_REDIRECT_URI and sent["client_id"] == rp.client_id

    back = browser.logout(logout.headers["Location"])
    assert back.split("?")[0] == POST_LOGOUT_REDIRECT_URI and query(back)["state"] == sent["state"]
    with pytest.raises(OAuthError):  # Authlib refuses a post-logout redirect with a state it did not send
        rp.get(back.replace(f"state={sent['state']}", "state=forged"))
    assert rp.get(back).json == {"logged_out": True}

    _, callback = _authorize(rp, browser, prompt="none")
    assert query(callback)["error"] == "login_required"


def test_authlib_flask_step_up_totp(live_idp: LiveIdp) -> None:
    rp = _rp(live_idp)
    browser = Browser(new_person(live_idp))
    weak = _sign_in(rp, browser)
    assert weak["acr"] == ACR_IAL1_AAL1

    strong = _sign_in(rp, browser, acr_values=ACR_IAL1_AAL2)
    assert browser.filled[-2:] == ["totp", "consent"] and browser.filled.count("password") == 1  # no password again
    assert strong["acr"] == ACR_IAL1_AAL2
    assert "otp" in strong["amr"] and strong["sub"] == weak["sub"]


def test_authlib_flask_client_secret_basic(live_idp: LiveIdp, person: Person) -> None:
    rp = _rp(live_idp, "--auth-method", "client_secret_basic")
    _sign_in(rp, Browser(person))
    token = rp.tokens[-1]
    assert token["token_type"].lower() == "bearer"

    wrong = _rp(live_idp, client={"client_id": rp.client_id, "client_secret": "not-the-secret"})
    with pytest.raises(OAuthError) as refused:
        _refresh(wrong, token["refresh_token"])
    assert refused.value.error == "invalid_client"


def test_authlib_flask_private_key_jwt(live_idp: LiveIdp, person: Person, tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "authlib-flask-rsa-1"})
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    rp = _rp(live_idp, "--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file), key=key)

    claims = _sign_in(rp, Browser(person))
    assert claims["sub"]
    token = rp.tokens[-1]
    refreshed = _refresh(rp, token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]

    unknown_key = RSAKey.generate_key(2048, private=True)  # a key the IdP was not given
    stranger = _rp(live_idp, client={"client_id": rp.client_id}, key=unknown_key)
    with pytest.raises(OAuthError) as refused:
        _refresh(stranger, refreshed["refresh_token"])
    assert refused.value.error == "invalid_client"

