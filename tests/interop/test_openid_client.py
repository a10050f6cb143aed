"""panva openid-client 6, an OpenID-certified relying party, signs in to a live idp over real HTTP.

rp.mjs fills the sign-in and consent pages like a person, then checks what a careful RP checks:
discovery, state, RFC 9207 ``iss``, PKCE, the ID token's signature against ``jwks_uri``, nonce,
userinfo ``sub``, refresh, revocation and RP-initiated logout. Here we check the claims it saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from tests.interop.conftest import POST_LOGOUT_REDIRECT_URI
from tests.interop.conftest import Account
from tests.interop.conftest import LiveIdp
from tests.interop.conftest import RunRp

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("node")]  # node first: no server for nothing

ACR_IAL1_AAL1 = "urn:th:digitalid:ial1:aal1"
# Only the code exchange, the ID token and userinfo: no refresh, revocation or logout.
SIGN_IN_ONLY = "refresh,revocation,end_session"


def step(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in result["steps"] if s["name"] == name)


def assert_id_token(result: dict[str, Any], *, issuer: str, client_id: str) -> dict[str, Any]:
    claims: dict[str, Any] = result["id_token_claims"]
    assert claims["iss"] == issuer
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert client_id in aud
    assert claims["acr"] == ACR_IAL1_AAL1
    assert claims["amr"] == ["pwd"]
    assert isinstance(claims["auth_time"], int)
    assert claims["auth_time"] <= claims["iat"]
    assert claims["sid"]
    assert claims["nonce"]  # rp.mjs already compared it with the nonce it sent
    assert result["id_token_header"]["kid"]  # openid-client needs it to pick the key when there are several
    return claims


def test_client_secret_basic_full_session(live_idp: LiveIdp, account: Account, run_rp: RunRp) -> None:
    client = live_idp.add_client("--auth-method", "client_secret_basic")

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_CLIENT_SECRET=client["client_secret"])

    assert result["discovery"]["issuer"] == live_idp.issuer
    claims = assert_id_token(result, issuer=live_idp.issuer, client_id=client["client_id"])
    assert result["id_token_header"]["alg"] == "RS256"
    assert result["token_response"]["token_type"].lower() == "bearer"
    assert result["token_response"]["has_refresh_token"]  # offline_access with prompt=consent
    callback = step(result, "authorize")["callback_params"]
    assert {"code", "state", "iss"} <= set(callback)

    assert result["userinfo"]["sub"] == claims["sub"]
    assert result["userinfo"]["email"] == account.email
    assert result["userinfo"]["name"] == account.name

    assert result["refreshed"] is True
    assert result["refresh_rotated"] is True
    assert step(result, "refresh")["userinfo_with_new_access_token"] is True

    revocation = step(result, "revocation")
    assert result["revoked_refresh_error"] == "invalid_grant"
    assert revocation["old_refresh_token_reuse"] == "invalid_grant"  # rotated away: no longer usable

    end_session = result["end_session"]
    assert end_session["status"] == 302
    assert end_session["outcome"] == "redirected"
    location = urlsplit(end_session["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == POST_LOGOUT_REDIRECT_URI
    assert parse_qs(location.query)["state"]  # rp.mjs compared it with the state it sent
    assert end_session["state_ok"] is True
    assert result["session_check"] == {"prompt_none": "login_required"}


def test_userinfo_refuses_access_token_of_revoked_grant(live_idp: LiveIdp, run_rp: RunRp) -> None:
    """RFC 7009 §2.1 (revoking the refresh token SHOULD revoke its access tokens), answered as
    RFC 6750 §3 and OIDC Core §5.3.3 ask: 401 with ``WWW-Authenticate: Bearer error="invalid_token"``."""
    client = live_idp.add_client()

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_CLIENT_SECRET=client["client_secret"],
                    RP_SKIP="end_session")

    assert step(result, "revocation")["access_token_after_revocation"] == "invalid_token"


def _ec_key() -> Any:
    return ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-ec-1"})


def _rsa_key() -> Any:
    return RSAKey.generate_key(2048, private=True, parameters={"kid": "rp-rsa-1"})


@pytest.mark.parametrize(("make_key", "alg"), [(_ec_key, "ES256"), (_rsa_key, "RS256")], ids=["ES256", "RS256"])
def test_private_key_jwt_sign_in(live_idp: LiveIdp, account: Account, run_rp: RunRp, tmp_path: Path,
                                 make_key: Any, alg: str) -> None:
    key = make_key()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    client = live_idp.add_client("--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file))
    assert "client_secret" not in client

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_PRIVATE_JWK=json.dumps(key.as_dict(private=True)),
                    RP_SKIP=SIGN_IN_ONLY)

    assert result["client"]["token_endpoint_auth_method"] == "private_key_jwt"
    claims = assert_id_token(result, issuer=live_idp.issuer, client_id=client["client_id"])
    assert result["userinfo"]["sub"] == claims["sub"]
    assert result["userinfo"]["email"] == account.email


def test_denied_consent_returns_access_denied_with_state_and_iss(live_idp: LiveIdp, run_rp: RunRp) -> None:
    client = live_idp.add_client()

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_CLIENT_SECRET=client["client_secret"], RP_CONSENT="deny")

    # openid-client checked state and iss (RFC 9207) before it read the error.
    assert result["authorization_error"] == "access_denied"
    assert {"error", "state", "iss"} <= set(step(result, "authorize")["callback_params"])
    assert "code" not in step(result, "authorize")["callback_params"]
    assert not any(s["name"] == "code_exchange" for s in result["steps"])


def test_es256_id_token(live_idp: LiveIdp, run_rp: RunRp) -> None:
    client = live_idp.add_client("--id-token-alg", "ES256")

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_CLIENT_SECRET=client["client_secret"],
                    RP_ID_TOKEN_ALG="ES256", RP_SKIP=SIGN_IN_ONLY)

    assert result["id_token_header"]["alg"] == "ES256"
    assert "ES256" in result["discovery"]["id_token_signing_alg_values_supported"]
    claims = assert_id_token(result, issuer=live_idp.issuer, client_id=client["client_id"])
    assert result["userinfo"]["sub"] == claims["sub"]


def test_an_agency_registers_with_openid_client_and_signs_in_at_once(live_idp: LiveIdp, account: Account,
                                                                     run_rp: RunRp) -> None:
    """RFC 7591 through openid-client's dynamicClientRegistration: inside the agency's policy the
    e-Service is active at once and its first sign-in works; RFC 7592 then reads it back."""
    import urllib.request

    issued = live_idp.cli("clients", "issue-token", "--agency", "Interop agency", "--scope", "profile",
                          "--scope", "email", "--scope", "offline_access", "--max-ial", "1", "--max-aal", "2")
    key = _ec_key()
    # Its own host: the admin's interop clients already use rp.example's sector, which another agency may not join.
    metadata = {"client_name": "Registered by openid-client", "client_name#th": "ลงทะเบียนด้วยตนเอง",
                "post_logout_redirect_uris": ["https://agency-rp.example/logged-out"],
                "jwks": {"keys": [key.as_dict(private=False)]}, "scope": "openid profile email offline_access",
                "default_acr_values": ["urn:th:digitalid:ial1:aal1"]}

    result = run_rp(RP_INITIAL_ACCESS_TOKEN=issued["initial_access_token"], RP_REGISTER_METADATA=json.dumps(metadata),
                    RP_REDIRECT_URI="https://agency-rp.example/cb",
                    RP_POST_LOGOUT_REDIRECT_URI="https://agency-rp.example/logged-out",
                    RP_PRIVATE_JWK=json.dumps(key.as_dict(private=True)), RP_SKIP=SIGN_IN_ONLY)

    registration = result["registration"]
    assert registration["status"] == "active" and registration["review_reasons"] == []
    assert registration["token_endpoint_auth_method"] == "private_key_jwt"
    claims = assert_id_token(result, issuer=live_idp.issuer, client_id=registration["client_id"])
    assert result["userinfo"]["sub"] == claims["sub"] and result["userinfo"]["email"] == account.email

    request = urllib.request.Request(registration["registration_client_uri"], headers={
        "Authorization": "Bearer " + registration["registration_access_token"]})
    with urllib.request.urlopen(request, timeout=10) as response:
        read_back = json.load(response)
    assert read_back["client_id"] == registration["client_id"] and read_back["client_name#th"] == "ลงทะเบียนด้วยตนเอง"


def test_a_fapi2_client_signs_in_with_par_and_private_key_jwt(live_idp: LiveIdp, account: Account, run_rp: RunRp,
                                                              tmp_path: Path) -> None:
    """FAPI 2.0 (docs/fapi.md) with openid-client's own PAR, private_key_jwt (``aud`` = issuer,
    ES256) and DPoP handle (the server's nonce first): PS256 ID token, DPoP-bound tokens, userinfo,
    a refresh that keeps the refresh token, revocation."""
    key = _ec_key()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    client = live_idp.add_client("--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file), "--fapi")

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_PRIVATE_JWK=json.dumps(key.as_dict(private=True)),
                    RP_PAR="1", RP_DPOP="1", RP_ID_TOKEN_ALG="PS256", RP_SKIP="end_session")

    authorize = step(result, "authorize")
    assert authorize["pushed"] is True and "request_uri=urn" in authorize["authorization_url"]
    assert result["id_token_header"]["alg"] == "PS256"
    assert result["token_response"]["token_type"].lower() == "dpop"
    claims = assert_id_token(result, issuer=live_idp.issuer, client_id=client["client_id"])
    assert result["userinfo"]["sub"] == claims["sub"] and result["userinfo"]["email"] == account.email
    assert result["refreshed"] is True and result["refresh_rotated"] is False
    assert result["revoked_refresh_error"] == "invalid_grant"
