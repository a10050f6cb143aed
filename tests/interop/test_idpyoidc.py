"""idpyoidc 5 signs in to a live idp through its ``RPHandler``: begin, finalize, refresh, logout.

``finalize`` checks ``state``, the ID token's signature (against ``jwks_uri``), ``iss``, ``aud``,
``nonce`` and the registered ``id_token_signed_response_alg``, then calls userinfo. idpyoidc needs
``client_authn_methods`` listed in the client configuration, and an explicit (empty) ``KeyJar``
unless it may write a key pair under ``./private``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
    from cryptojwt.key_jar import KeyJar
    from cryptojwt.key_jar import build_keyjar
    from idpyoidc.client.exception import OidcServiceError
    from idpyoidc.client.rp_handler import RPHandler
except ImportError:
    missing_library("idpyoidc")

pytestmark = pytest.mark.interop

SCOPE = ["openid", "profile", "email", "offline_access"]
SERVICES = {
    "discovery": {"class": "idpyoidc.client.oidc.provider_info_discovery.ProviderInfoDiscovery"},
    "authorization": {"class": "idpyoidc.client.oidc.authorization.Authorization"},
    "access_token": {"class": "idpyoidc.client.oidc.access_token.AccessToken"},
    "refresh_access_token": {"class": "idpyoidc.client.oidc.refresh_access_token.RefreshAccessToken"},
    "userinfo": {"class": "idpyoidc.client.oidc.userinfo.UserInfo"},
    "end_session": {"class": "idpyoidc.client.oidc.end_session.EndSession"},
}


@pytest.fixture(scope="module")
def person(live_idp: LiveIdp) -> Person:
    """One account for the module: each test opens a fresh browser. Step-up makes its own (one TOTP use)."""
    return new_person(live_idp)


def _handler(idp: LiveIdp, *args: str, id_token_alg: str = "RS256", auth_method: str = "client_secret_basic",
             keyjar: KeyJar | None = None) -> RPHandler:
    """An RPHandler for one new client; ``keyjar`` holds the client's own signing keys (private_key_jwt)."""
    registered = idp.add_client("--id-token-alg", id_token_alg, *args)
    config: dict[str, Any] = {
        "issuer": idp.issuer, "client_id": registered["client_id"],
        "redirect_uris": [REDIRECT_URI], "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
        "client_type": "oidc",
        # idpyoidc reads the *_supported names here and derives the registered value from them.
        "preference": {"response_types": ["code"], "token_endpoint_auth_methods_supported": [auth_method],
                       "id_token_signed_response_alg": id_token_alg},
        "client_authn_methods": ["client_secret_basic", "private_key_jwt"],
        "add_ons": {"pkce": {"function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                             "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"}}},
        "services": SERVICES,
    }
    if registered.get("client_secret"):  # a private_key_jwt client has none
        config["client_secret"] = registered["client_secret"]
    return RPHandler(base_url="https://rp.example", client_configs={"idp": config},
                     keyjar=keyjar or KeyJar())


def _sign_in(rph: RPHandler, browser: Browser, **params: str) -> dict[str, Any]:
    begun: str = rph.begin("idp", req_args={"prompt": "consent", "scope": SCOPE, **params})  # the URL
    sent = query(begun)
    assert sent["code_challenge_method"] == "S256" and sent["state"] and sent["nonce"]
    done: dict[str, Any] = rph.finalize(rph.state2issuer(sent["state"]), query(browser.authorize(begun)))
    assert "error" not in done, done
    assert done["state"] == sent["state"]
    return done


def test_idpyoidc_discovery(live_idp: LiveIdp) -> None:
    rph = _handler(live_idp)
    client = rph.client_setup("idp")
    info = client.get_context().provider_info
    assert info["issuer"] == live_idp.issuer
    assert "S256" in info["code_challenge_methods_supported"]


def test_idpyoidc_code_flow_pkce_s256_and_state(live_idp: LiveIdp, person: Person) -> None:
    rph = _handler(live_idp)
    browser = Browser(person)
    done = _sign_in(rph, browser)
    assert done["token"]

    # A response with a state idpyoidc did not send is refused before any token request.
    begun = rph.begin("idp", req_args={"prompt": "consent", "scope": SCOPE})
    forged = {**query(browser.authorize(begun)), "state": "forged"}
    with pytest.raises(Exception, match=r"forged|state|Unknown"):
        rph.finalize(live_idp.issuer, forged)


def test_idpyoidc_id_token_rs256(live_idp: LiveIdp, person: Person) -> None:
    done = _sign_in(_handler(live_idp), Browser(person))
    assert done["id_token"].jws_header["alg"] == "RS256"
    assert done["id_token"]["acr"] == ACR_IAL1_AAL1 and done["id_token"]["amr"] == ["pwd"]


def test_idpyoidc_id_token_es256(live_idp: LiveIdp, person: Person) -> None:
    done = _sign_in(_handler(live_idp, id_token_alg="ES256"), Browser(person))
    assert done["id_token"].jws_header["alg"] == "ES256"


def test_idpyoidc_userinfo(live_idp: LiveIdp, person: Person) -> None:
    done = _sign_in(_handler(live_idp), Browser(person))
    assert done["userinfo"]["sub"] == done["id_token"]["sub"]
    assert done["userinfo"]["email"] == person.email


def test_idpyoidc_refresh_rotates(live_idp: LiveIdp, person: Person) -> None:
    rph = _handler(live_idp)
    done = _sign_in(rph, Browser(person))
    client = rph.get_client_from_session_key(done["state"])
    old = client.get_context().cstate.get_set(done["state"], claim=["refresh_token"])["refresh_token"]
    new = rph.refresh_access_token(done["state"])
    assert new["refresh_token"] != old
    refused = client.do_request("refresh_token", request_args={"refresh_token": old}, state=done["state"])
    assert refused["error"] == "invalid_grant"


def test_idpyoidc_logout(live_idp: LiveIdp, person: Person) -> None:
    rph = _handler(live_idp)
    browser = Browser(person)
    done = _sign_in(rph, browser)
    request = rph.logout(done["state"], post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI)
    sent = query(request["url"])
    assert sent["id_token_hint"] and sent["post_logout_redirect_uri"] == POST_LOGOUT_REDIRECT_URI
    back = browser.logout(request["url"])
    assert back.split("?")[0] == POST_LOGOUT_REDIRECT_URI and query(back)["state"] == sent["state"]

    begun = rph.begin("idp", req_args={"prompt": "none", "scope": ["openid"]})
    assert query(browser.authorize(begun))["error"] == "login_required"


def test_idpyoidc_step_up_totp(live_idp: LiveIdp) -> None:
    rph = _handler(live_idp)
    browser = Browser(new_person(live_idp))
    weak = _sign_in(rph, browser)
    assert weak["id_token"]["acr"] == ACR_IAL1_AAL1
    strong = _sign_in(rph, browser, acr_values=ACR_IAL1_AAL2)
    assert browser.filled[-2:] == ["totp", "consent"] and browser.filled.count("password") == 1
    assert strong["id_token"]["acr"] == ACR_IAL1_AAL2 and "otp" in strong["id_token"]["amr"]


def test_idpyoidc_client_secret_basic(live_idp: LiveIdp, person: Person) -> None:
    rph = _handler(live_idp, "--auth-method", "client_secret_basic")
    done = _sign_in(rph, Browser(person))
    assert done["token"]


def test_idpyoidc_private_key_jwt(live_idp: LiveIdp, person: Person, tmp_path: Path) -> None:
    keyjar = build_keyjar([{"type": "RSA", "use": ["sig"]}])  # the client's key pair, owner ""
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keyjar.export_jwks(private=False)))
    rph = _handler(live_idp, "--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file),
                   auth_method="private_key_jwt", keyjar=keyjar)

    # The code exchange and a refresh with idpyoidc's default assertion (alg from discovery, aud = token endpoint).
    done = _sign_in(rph, Browser(person))
    assert done["id_token"]["sub"] and done["userinfo"]["sub"] == done["id_token"]["sub"]
    new = rph.refresh_access_token(done["state"])
    assert new["access_token"] and new["refresh_token"]

    # The same client with a key the IdP was not given is refused.
    stranger = _handler(live_idp, "--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file),
                        auth_method="private_key_jwt", keyjar=build_keyjar([{"type": "RSA", "use": ["sig"]}]))
    begun = stranger.begin("idp", req_args={"prompt": "consent", "scope": SCOPE})
    sent = query(begun)
    callback = query(Browser(person).authorize(begun))
    with pytest.raises(OidcServiceError, match="invalid_client"):
        stranger.finalize(stranger.state2issuer(sent["state"]), callback)
