"""The console's e-Service form: typed text → RFC 7591 metadata, stored metadata → the form, and
the small parsers for the rotation and registration-token forms."""

import json

import pytest
from werkzeug.datastructures import MultiDict

from idp.console.client_forms import FORM_SCOPES
from idp.console.client_forms import ClientForm
from idp.console.client_forms import TokenForm
from idp.console.client_forms import parse_grace_hours
from idp.oidc.clients import ClientMetadataError
from idp.oidc.clients import validate_metadata


def _form(**fields):
    data: MultiDict[str, str] = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key, item)
    return data


FULL = {"client_name": " Business licence ", "client_name_th": "ใบอนุญาต", "logo_uri": "https://rp.example/l.png",
        "redirect_uris": "https://rp.example/cb\r\n\r\n  https://rp.example/cb2  \n",
        "post_logout_redirect_uris": "https://rp.example/bye", "scope": ["profile", "email"],
        "default_acr_values": ["urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial1:aal3"],
        "subject_type": "public", "sector_identifier_uri": "", "token_endpoint_auth_method": "client_secret_post",
        "jwks": "", "jwks_uri": "", "id_token_signed_response_alg": "ES256", "trusted": "1",
        "allowed_claims": " verified_claims  email "}


def test_the_form_becomes_metadata():
    form = ClientForm.from_form(_form(**FULL))
    raw = form.metadata()
    assert raw["client_name"] == "Business licence" and raw["client_name#th"] == "ใบอนุญาต"
    assert raw["redirect_uris"] == ["https://rp.example/cb", "https://rp.example/cb2"]
    assert raw["scope"] == "openid profile email"
    assert raw["default_acr_values"] == ["urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial1:aal3"]
    assert raw["token_endpoint_auth_method"] == "client_secret_post" and raw["subject_type"] == "public"
    assert raw["jwks"] is None and raw["jwks_uri"] is None and raw["sector_identifier_uri"] is None
    assert form.trusted and not form.national_id
    assert raw["allowed_claims"] == ["verified_claims", "email"]


def test_no_claims_list_means_any_claim_the_scopes_cover():
    raw = ClientForm.from_form(_form(**{**FULL, "allowed_claims": "  "})).metadata()
    assert "allowed_claims" not in validate_metadata(raw)


def test_openid_is_always_asked_for():
    assert ClientForm.from_form(_form(client_name="x", scope=[])).metadata()["scope"] == "openid"


def test_empty_optional_fields_are_left_out_after_validation():
    raw = ClientForm.from_form(_form(client_name="x", redirect_uris="https://rp.example/cb")).metadata()
    metadata = validate_metadata(raw)
    assert "client_name#th" not in metadata and "logo_uri" not in metadata and "default_acr_values" not in metadata
    assert metadata["token_endpoint_auth_method"] == "client_secret_basic"


def test_unticked_boxes_are_false():
    form = ClientForm.from_form(_form(client_name="x", trusted="0"))
    assert not form.trusted and not form.national_id


@pytest.mark.parametrize(("text", "message"), [("{bad", "not valid JSON"), ('["a"]', "JWK Set object")])
def test_bad_jwks_text_is_a_metadata_error(text, message):
    with pytest.raises(ClientMetadataError, match=message) as raised:
        ClientForm.from_form(_form(client_name="x", jwks=text)).metadata()
    assert raised.value.error == "invalid_client_metadata"


def test_jwks_text_is_parsed():
    keys = {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]}
    assert ClientForm.from_form(_form(jwks=json.dumps(keys))).metadata()["jwks"] == keys


def test_stored_metadata_fills_the_form_and_round_trips():
    stored = validate_metadata(ClientForm.from_form(_form(**FULL)).metadata(), national_id_allowed=True)
    form = ClientForm.from_metadata(stored, trusted=True)
    assert form.redirect_uris == "https://rp.example/cb\nhttps://rp.example/cb2"
    assert "national_id" not in form.scopes and form.national_id and form.trusted
    assert validate_metadata(form.metadata(), national_id_allowed=True) == stored


def test_the_national_id_scope_is_not_an_ordinary_box():
    assert "national_id" not in FORM_SCOPES and "openid" in FORM_SCOPES


def test_long_text_is_cut():
    assert len(ClientForm.from_form(_form(redirect_uris="x" * 50_000)).redirect_uris) == 20_000


@pytest.mark.parametrize(("value", "seconds"), [("", 604800), (None, 604800), ("0", 0), ("24", 86400),
                                                 (" 2 ", 7200), ("2160", 2160 * 3600)])
def test_grace_hours(value, seconds):
    assert parse_grace_hours(value, default_seconds=604800) == seconds


@pytest.mark.parametrize("value", ["-1", "1.5", "x", "2161", "1e3"])
def test_bad_grace_hours(value):
    with pytest.raises(ValueError):
        parse_grace_hours(value, default_seconds=3600)


def test_token_form_policy():
    form = TokenForm.from_form(_form(agency=" Lands ", scope=["profile", "national_id", "nope", "profile"],
                                     max_ial="2", max_aal="3", days=""))
    policy = form.policy(default_days=30)
    assert (policy.agency, policy.allowed_scopes, policy.max_ial, policy.max_aal, policy.days) == \
        ("Lands", ["profile"], 2, 3, 30)


@pytest.mark.parametrize("change", [{"agency": ""}, {"max_ial": "0"}, {"max_aal": "4"}, {"max_aal": ""},
                                    {"days": "0"}, {"days": "367"}, {"days": "-3"}, {"days": "ten"}])
def test_token_form_refuses_a_bad_policy(change):
    form = TokenForm.from_form(_form(**{"agency": "Lands", "max_ial": "1", "max_aal": "2", "days": "30", **change}))
    with pytest.raises(ValueError):
        form.policy(default_days=30)


def test_the_dpop_requirement_round_trips_through_the_form():
    """An edit in the console keeps dpop_bound_access_tokens (RFC 9449 §5.2) set by the CLI or registration."""
    stored = validate_metadata(ClientForm.from_form(_form(**FULL, dpop_bound_access_tokens="1")).metadata())
    assert stored["dpop_bound_access_tokens"] is True
    form = ClientForm.from_metadata(stored, trusted=True)
    assert form.dpop_bound and validate_metadata(form.metadata()) == stored
    assert "dpop_bound_access_tokens" not in validate_metadata(ClientForm.from_form(_form(**FULL)).metadata())
