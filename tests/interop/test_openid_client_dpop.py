"""openid-client 6 with its DPoP handle (RFC 9449) against a live idp: every token bound to its key.

rp.mjs with ``RP_DPOP=1`` makes a fresh ES256 key and sends a proof with the code exchange,
userinfo and each refresh, and replays the server's ``DPoP-Nonce`` as openid-client does.
"""

from __future__ import annotations

import json

import pytest
from joserfc.jwk import ECKey

from tests.interop.conftest import Account
from tests.interop.conftest import LiveIdp
from tests.interop.conftest import RunRp
from tests.interop.test_openid_client import step

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("node")]


def test_a_client_registered_for_dpop_signs_in_refreshes_and_reads_userinfo(
        live_idp: LiveIdp, account: Account, run_rp: RunRp) -> None:
    client = live_idp.add_client("--auth-method", "client_secret_basic", "--dpop")

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_CLIENT_SECRET=client["client_secret"], RP_DPOP="1",
                    RP_SKIP="end_session")

    assert result["token_response"]["token_type"].lower() == "dpop"
    assert result["userinfo"]["email"] == account.email
    assert result["refreshed"] is True
    assert step(result, "refresh")["userinfo_with_new_access_token"] is True
    assert result["revoked_refresh_error"] == "invalid_grant"


def test_private_key_jwt_with_dpop(live_idp: LiveIdp, account: Account, run_rp: RunRp, tmp_path) -> None:
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "rp-dpop-1", "alg": "ES256", "use": "sig"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    client = live_idp.add_client("--auth-method", "private_key_jwt", "--jwks-file", str(jwks), "--dpop")

    result = run_rp(RP_CLIENT_ID=client["client_id"], RP_PRIVATE_JWK=json.dumps(key.as_dict(private=True)),
                    RP_DPOP="1", RP_SKIP="revocation,end_session")

    assert result["token_response"]["token_type"].lower() == "dpop"
    assert result["userinfo"]["sub"] == result["id_token_claims"]["sub"]
    assert result["refreshed"] is True
