from joserfc.jwk import KeySet


def test_discovery_lists_what_is_implemented(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert meta["issuer"] == "http://localhost"
    assert meta["authorization_endpoint"] == "http://localhost/authorize"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["claims_parameter_supported"] is True
    assert set(meta["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials",
                                                 "urn:ietf:params:oauth:grant-type:token-exchange"}
    assert "urn:th:digitalid:ial2:aal2" in meta["acr_values_supported"] and len(meta["acr_values_supported"]) == 9 + 39
    for key in ("end_session_endpoint", "introspection_endpoint", "revocation_endpoint", "userinfo_endpoint"):
        assert meta[key].startswith("http://localhost/")
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert "implicit" not in meta["grant_types_supported"]


def test_jwks_publishes_public_keys_only_with_thumbprint_kids(client):
    jwks = client.get("/jwks.json").json
    assert {k["alg"] for k in jwks["keys"]} == {"RS256", "ES256", "PS256"}
    for key in jwks["keys"]:
        assert "d" not in key and "p" not in key
    keyset = KeySet.import_key_set(jwks)
    for key in keyset:
        assert key.kid == key.thumbprint()


def test_discovery_omits_members_it_has_nothing_to_put_in(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert "userinfo_signing_alg_values_supported" not in meta  # userinfo is plain JSON, never signed
    assert all(value not in ([], {}, None, "") for value in meta.values())
