"""The automatic approval policy for dynamic registrations, as a table: metadata × agency policy → reasons."""

import pytest

from idp.oidc.registration import REASONS
from idp.oidc.registration import AgencyPolicy
from idp.oidc.registration import describe_reason
from idp.oidc.registration import review_reasons

POLICY = AgencyPolicy(allowed_scopes=frozenset({"openid", "profile", "email"}), max_ial=2, max_aal=2)
GOOD = {"redirect_uris": ["https://rp.example/cb"], "post_logout_redirect_uris": ["https://rp.example/bye"],
        "token_endpoint_auth_method": "private_key_jwt", "scope": "openid profile",
        "default_acr_values": ["urn:th:digitalid:ial2:aal2"], "jwks": {"keys": []}}


@pytest.mark.parametrize("change, national_id, reasons", [
    ({}, False, []),
    ({"default_acr_values": []}, False, []),  # no floor asked for
    ({"scope": "openid profile email"}, False, []),  # every allowed scope
    ({"default_acr_values": ["urn:th:digitalid:ial1:aal1", "urn:th:digitalid:ial2:aal2"]}, False, []),
    ({"jwks_uri": "https://8.8.8.8/jwks.json", "sector_identifier_uri": "https://1.1.1.1/s.json"}, False, []),
    # judged by the address the host resolves to, never by the text: a name that does not resolve
    # (.example never does) cannot be checked, so a person looks
    ({"jwks_uri": "https://rp.example/jwks.json"}, False, ["metadata_uri_internal"]),
    ({"redirect_uris": ["http://localhost:8080/cb"]}, False, ["redirect_uri_not_https"]),  # valid, not live
    ({"redirect_uris": ["https://rp.example/cb", "http://127.0.0.1/cb"]}, False, ["redirect_uri_not_https"]),
    ({"post_logout_redirect_uris": ["http://localhost/bye"]}, False, ["redirect_uri_not_https"]),
    ({"jwks_uri": "http://localhost:9000/jwks.json"}, False, ["metadata_uri_not_https", "metadata_uri_internal"]),
    ({"sector_identifier_uri": "http://localhost/sector.json"}, False,
     ["metadata_uri_not_https", "metadata_uri_internal"]),
    ({"jwks_uri": "https://10.0.0.5/jwks.json"}, False, ["metadata_uri_internal"]),
    ({"jwks_uri": "https://[::1]/jwks.json"}, False, ["metadata_uri_internal"]),
    ({"jwks_uri": "https://169.254.169.254/latest"}, False, ["metadata_uri_internal"]),
    ({"jwks_uri": "https://intranet/jwks.json"}, False, ["metadata_uri_internal"]),
    ({"jwks_uri": "https://keys.corp.internal/jwks.json"}, False, ["metadata_uri_internal"]),
    ({"jwks_uri": "https://203.0.113.9/jwks.json"}, False, ["metadata_uri_internal"]),  # documentation range
    ({"jwks_uri": "https://8.8.8.8/jwks.json"}, False, []),
    *[({key: f"https://{host}/x.json"}, False, ["metadata_uri_internal"])
      for key in ("jwks_uri", "sector_identifier_uri")
      for host in ("127.1", "0x7f.0.0.1", "0177.0.0.1", "127.000.000.001", "2130706433", "[::ffff:127.0.0.1]",
                   "[::ffff:169.254.169.254]", "0.0.0.0", "100.64.0.1", "[fe80::1]", "localhost",
                   "169.254.169.254.nip.io.invalid")],
    ({"token_endpoint_auth_method": "client_secret_basic"}, False, ["auth_method_not_private_key_jwt"]),
    ({"token_endpoint_auth_method": "client_secret_post"}, False, ["auth_method_not_private_key_jwt"]),
    ({"token_endpoint_auth_method": "none"}, False, ["auth_method_not_private_key_jwt"]),
    ({"scope": "openid phone"}, False, ["scope_not_allowed"]),
    ({"scope": "openid offline_access"}, False, ["scope_not_allowed"]),
    ({"default_acr_values": ["urn:th:digitalid:ial3:aal2"]}, False, ["assurance_above_agency_limit"]),
    # ETDA values are judged by their NIST band: IAL 2.3 and AAL 2.2 sit within IAL2/AAL2, IAL 3 does not.
    ({"default_acr_values": ["urn:th:digitalid:ial:2.3:aal:2.2"]}, False, []),
    ({"default_acr_values": ["urn:th:digitalid:ial:3"]}, False, ["assurance_above_agency_limit"]),
    ({"default_acr_values": ["urn:th:digitalid:aal:3"]}, False, ["assurance_above_agency_limit"]),
    ({"default_acr_values": ["urn:th:digitalid:ial1:aal3"]}, False, ["assurance_above_agency_limit"]),
    ({"default_acr_values": ["urn:th:digitalid:ial1:aal1", "urn:th:digitalid:ial2:aal3"]}, False,
     ["assurance_above_agency_limit"]),
    ({}, True, ["national_id_needs_operator"]),  # never automatic, whatever the agency's scopes
    # national_id in the stored scope means the operator already allowed it: not the agency's to ask for
    ({"scope": "openid profile national_id", "national_id_allowed": True}, False, []),
    ({"redirect_uris": ["http://localhost/cb"], "token_endpoint_auth_method": "client_secret_basic",
      "scope": "openid phone", "default_acr_values": ["urn:th:digitalid:ial3:aal3"]}, True,
     ["redirect_uri_not_https", "auth_method_not_private_key_jwt", "scope_not_allowed",
      "assurance_above_agency_limit", "national_id_needs_operator"]),
])
def test_review_reasons(change, national_id, reasons):
    assert review_reasons({**GOOD, **change}, policy=POLICY, national_id_requested=national_id) == reasons


def test_joining_another_agencys_sector_is_never_automatic():
    assert review_reasons(GOOD, policy=POLICY, joins_foreign_sector=True) == ["sector_of_another_agency"]


def test_national_id_in_the_agency_scopes_still_needs_the_operator():
    policy = AgencyPolicy(allowed_scopes=frozenset({"openid", "profile", "national_id"}), max_ial=3, max_aal=3)
    assert review_reasons(GOOD, policy=policy, national_id_requested=True) == ["national_id_needs_operator"]


def test_higher_agency_limits_allow_higher_assurance():
    policy = AgencyPolicy(allowed_scopes=POLICY.allowed_scopes, max_ial=3, max_aal=3)
    assert review_reasons({**GOOD, "default_acr_values": ["urn:th:digitalid:ial3:aal3"]}, policy=policy) == []


def test_without_an_agency_policy_everything_waits():
    assert review_reasons(GOOD, policy=None) == ["no_agency_policy"]


@pytest.mark.parametrize("language", ["en", "th"])
def test_every_reason_has_a_sentence(app, language):
    with app.test_request_context(headers={"Accept-Language": language}):
        sentences = {code: describe_reason(code) for code in REASONS}
        assert all(s and s != code and not s.startswith(code) for code, s in sentences.items())
        assert len(set(sentences.values())) == len(REASONS)
        assert "brand_new_code" in describe_reason("brand_new_code")
