"""verified_claims (OpenID Connect for Identity Assurance 1.0) and the national ID number.

Verified data leaves only when asked for through the ``claims`` parameter, filtered to what was
asked; the national ID number only to a client the operator allowed, with consent, for a proofed person.
"""

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy import select

from idp.accounts.models import User
from idp.cli import cli
from idp.cli import clients as clients_cli
from idp.db import get_session
from idp.oidc.claims import filter_verified_claims
from idp.oidc.clients import ClientMetadataError
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.proofing import service
from idp.proofing.models import ProofingCase
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import follow_to_code
from tests.flows import full_flow
from tests.flows import pkce_pair
from tests.flows import sign_in

VC_CLAIMS = ("given_name", "family_name", "given_name#th", "family_name#th", "birthdate")


def _thai_id(first12: str) -> str:
    check = (11 - sum(int(d) * (13 - i) for i, d in enumerate(first12)) % 11) % 10
    return first12 + str(check)


NUMBER = _thai_id("110170020345")
EVIDENCE = {"kind": "thai_id_card", "number": NUMBER, "laser_code": "JT0123456789", "given_name": "Somchai",
            "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี", "birthdate": "1985-04-12"}


def _proof(app, email="citizen@example.com"):
    """A verified identity for the account, through the service's own approval."""
    cfg = app.config
    with app.app_context():
        db = get_session()
        user = db.scalar(select(User).where(User.email == email))
        case = ProofingCase(user_id=user.id, level=2, channel="remote", evidence_kind="thai_id_card",
                            status="review", national_id_index=service.national_id_index(cfg, NUMBER),
                            checks={"registry_issuer": "TH-DOPA"}, reasons=[])
        db.add(case)
        db.flush()
        case.evidence_encrypted = service.seal(cfg, EVIDENCE, context=f"case:{case.id}:evidence")
        db.commit()
        service.approve(db, case, method="auto", by=None, config=cfg)


@pytest.fixture
def rp(app):
    make_user(app)
    _proof(app)
    return make_client(app)


@pytest.fixture
def nid_rp(app):
    make_user(app)
    _proof(app)
    return make_client(app, name="Land department", national_id_allowed=True)


def _decode(client, token):
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    return jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims


def _userinfo(client, token):
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json


def _claims(**members):
    return json.dumps(members)


def _vc(*names, **verification):
    return {"verification": {"trust_framework": None, **verification}, "claims": dict.fromkeys(names)}


def _flow(client, rp, **extra):
    body = full_flow(client, rp.client.client_id, rp.client_secret, **extra)
    return _decode(client, body["id_token"]), _userinfo(client, body["access_token"])


# -- verified_claims -----------------------------------------------------------------------------


def test_id_token_gets_only_the_asked_claims_with_language_tags(client, rp):
    id_token, info = _flow(client, rp, claims=_claims(id_token={"verified_claims": _vc("given_name",
                                                                                       "family_name#th")}))
    assert id_token["verified_claims"] == {
        "verification": {"trust_framework": "nist_800_63A", "assurance_level": "IAL2"},
        "claims": {"given_name": "Somchai", "family_name#th": "ใจดี"},
    }
    assert "verified_claims" not in info  # asked for in the ID token only


def test_time_and_evidence_only_when_asked(client, rp):
    spec = _vc(*VC_CLAIMS, time=None, evidence=[{"type": {"value": "document"}}])
    id_token, _ = _flow(client, rp, claims=_claims(id_token={"verified_claims": spec}))
    verified = id_token["verified_claims"]
    assert verified["claims"] == {"given_name": "Somchai", "family_name": "Jaidee", "given_name#th": "สมชาย",
                                  "family_name#th": "ใจดี", "birthdate": "1985-04-12"}
    verification = verified["verification"]
    assert dt.datetime.fromisoformat(verification["time"])
    [evidence] = verification["evidence"]
    assert evidence["type"] == "document" and evidence["document_details"]["type"] == "idcard"
    assert evidence["check_details"] == [{"check_method": "vri", "organization": "TH-DOPA"}]
    assert NUMBER not in json.dumps(verified)  # the number is never part of verified_claims


def test_userinfo_when_asked_under_userinfo(client, rp):
    id_token, info = _flow(client, rp, claims=_claims(userinfo={"verified_claims": _vc("birthdate")}))
    assert "verified_claims" not in id_token
    assert info["verified_claims"]["claims"] == {"birthdate": "1985-04-12"}
    assert info["verified_claims"]["verification"]["assurance_level"] == "IAL2"


def test_absent_when_not_asked(client, rp):
    id_token, info = _flow(client, rp, scope="openid profile")
    for claims in (id_token, info):
        assert "verified_claims" not in claims
        assert not {"given_name", "family_name", "birthdate", "national_id"} & set(claims)


def test_absent_for_a_person_never_proofed(app, client):
    make_user(app)
    rp = make_client(app)
    spec = {"verified_claims": _vc(*VC_CLAIMS)}
    id_token, info = _flow(client, rp, claims=_claims(id_token=spec, userinfo=spec))
    assert "verified_claims" not in id_token and "verified_claims" not in info


@pytest.mark.parametrize(("verification", "released"), [
    ({"trust_framework": {"value": "eidas"}}, False),
    ({"trust_framework": {"values": ["eidas", "uk_tfida"]}}, False),
    ({"trust_framework": {"values": ["eidas", "nist_800_63A"]}}, True),
    ({"trust_framework": {"value": "nist_800_63A", "essential": True}}, True),
    ({"trust_framework": None, "assurance_level": {"value": "IAL3"}}, False),
    ({"trust_framework": None, "assurance_level": {"values": ["IAL2", "IAL3"]}}, True),
    ({"trust_framework": "nist_800_63A"}, False),  # a constraint that cannot be read is not met
])
def test_constraints_on_the_verification(client, rp, verification, released):
    spec = {"verification": verification, "claims": {"given_name": None}}
    id_token, _ = _flow(client, rp, claims=_claims(id_token={"verified_claims": spec}))
    assert ("verified_claims" in id_token) is released


def test_array_form_gives_an_array_of_the_sets_that_can_be_met(client, rp):
    unmet = {"verification": {"trust_framework": {"value": "eidas"}}, "claims": {"birthdate": None}}
    specs = [_vc("given_name"), unmet, _vc("birthdate", "given_name#th")]
    id_token, _ = _flow(client, rp, claims=_claims(id_token={"verified_claims": specs}))
    assert [v["claims"] for v in id_token["verified_claims"]] == [{"given_name": "Somchai"},
                                                                 {"birthdate": "1985-04-12", "given_name#th": "สมชาย"}]
    id_token, _ = _flow(client, rp, claims=_claims(id_token={"verified_claims": [unmet]}))
    assert "verified_claims" not in id_token


@pytest.mark.parametrize("spec", [
    [],
    {},
    {"claims": None},
    {"claims": "given_name"},
    {"claims": ["given_name"]},
    {"verification": "nist_800_63A", "claims": {"given_name": None}},
    {"verification": {"trust_framework": None}, "claims": {"given_name": 5}},
    {"verification": {"trust_framework": None}, "claims": {}},
    {"verification": {"trust_framework": None}, "claims": {"email": None, "national_id": None, "given_name#en": None}},
    {"verification": {"trust_framework": None, "time": {"max_age": "soon"}}, "claims": {"given_name": None}},
    [{"claims": "x"}, {"verification": [], "claims": {"given_name": None}}],
])
def test_odd_requests_release_nothing_and_never_fail(client, rp, spec):
    spec_member = {"verified_claims": spec}
    id_token, info = _flow(client, rp, claims=_claims(id_token=spec_member, userinfo=spec_member))
    assert "verified_claims" not in id_token and "verified_claims" not in info
    assert "national_id" not in id_token


@pytest.mark.parametrize("spec", ["given_name", 3, [1], [None], [{}] * 11])
def test_unreadable_verified_claims_is_an_invalid_request(client, rp, spec):
    _, challenge = pkce_pair()
    url = authorize_url(rp.client.client_id, challenge, claims=_claims(id_token={"verified_claims": spec}))
    callback = follow_to_code(client, url)
    assert callback["error"] == "invalid_request" and "code" not in callback


def test_max_age_on_the_verification_time():
    now = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)
    held = {"verification": {"trust_framework": "nist_800_63A", "assurance_level": "IAL2",
                             "time": "2025-01-01T11:00:00+00:00", "evidence": []},
            "claims": {"given_name": "Somchai"}}
    spec = {"verification": {"trust_framework": None, "time": {"max_age": 7200}}, "claims": {"given_name": None}}
    assert filter_verified_claims(held, spec, now)["verification"]["time"] == "2025-01-01T11:00:00+00:00"
    spec["verification"]["time"] = {"max_age": 60}
    assert filter_verified_claims(held, spec, now) is None


# -- national ID ---------------------------------------------------------------------------------


def test_national_id_to_an_allowed_client_by_scope_at_userinfo(client, nid_rp):
    id_token, info = _flow(client, nid_rp, scope="openid national_id")
    assert info["national_id"] == NUMBER
    assert "national_id" not in id_token  # scope claims go to userinfo (OIDC Core §5.4)


def test_national_id_to_an_allowed_client_by_claims_in_the_id_token(client, nid_rp):
    id_token, info = _flow(client, nid_rp, scope="openid", claims=_claims(id_token={"national_id": None}))
    assert id_token["national_id"] == NUMBER
    assert "national_id" not in info


def test_never_to_a_client_without_the_flag(app, client, rp):
    both = {"national_id": {"essential": True}}
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile national_id",
                     claims=_claims(id_token=both, userinfo=both))
    id_token = _decode(client, body["id_token"])
    info = _userinfo(client, body["access_token"])
    assert "national_id" not in id_token and "national_id" not in info
    assert NUMBER not in json.dumps(id_token) + json.dumps(info)
    assert "national_id" not in _decode(client, body["access_token"])["scope"].split()


def test_not_for_a_person_never_proofed(app, client):
    make_user(app)
    rp = make_client(app, national_id_allowed=True)
    id_token, info = _flow(client, rp, scope="openid national_id", claims=_claims(id_token={"national_id": None}))
    assert "national_id" not in id_token and "national_id" not in info


def test_not_without_a_consent_that_covers_it(app, client, nid_rp):
    body = full_flow(client, nid_rp.client.client_id, nid_rp.client_secret, scope="openid national_id")
    with app.app_context():
        db = get_session()
        db.execute(delete(Consent))  # the consent gone, the token (oddly) still alive
        db.commit()
    assert "national_id" not in _userinfo(client, body["access_token"])


def test_even_a_trusted_client_needs_the_persons_own_consent_for_the_national_id(app, client):
    make_user(app)
    _proof(app)
    rp = make_client(app, trusted=True, national_id_allowed=True)
    sign_in(client)
    _, challenge = pkce_pair()
    page = client.get(authorize_url(rp.client.client_id, challenge, scope="openid national_id"))
    assert page.status_code == 200 and 'name="decision"' in page.text  # asked, although trusted
    plain = client.get(authorize_url(rp.client.client_id, challenge, scope="openid profile"))
    assert plain.status_code == 302  # anything else: no page
    _, info = _flow(client, rp, scope="openid national_id")
    assert info["national_id"] == NUMBER


def test_consent_page_names_the_national_id_and_the_verified_identity(client, nid_rp):
    sign_in(client)
    _, challenge = pkce_pair()
    url = authorize_url(nid_rp.client.client_id, challenge, scope="openid national_id", ui_locales="en",
                        claims=_claims(userinfo={"verified_claims": _vc("given_name")}))
    page = client.get(url, headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'name="decision"' in page.text
    assert "Your 13-digit national ID number" in page.text
    assert "Your verified identity: name and date of birth, as checked against the national registry" in page.text


def test_create_client_adds_the_scope_only_with_the_flag(app):
    allowed = make_client(app, national_id_allowed=True, scope="openid profile")
    assert allowed.client.client_metadata["national_id_allowed"] is True
    assert allowed.client.scopes == ["openid", "profile", "national_id"]
    plain = make_client(app)
    assert "national_id_allowed" not in plain.client.client_metadata
    assert "national_id" not in plain.client.scopes
    with pytest.raises(ClientMetadataError):
        make_client(app, scope="openid national_id")


def test_cli_flag(app):
    clients_cli.register(cli)
    runner = CliRunner()
    result = runner.invoke(cli, ["clients", "add", "--name", "Land", "--redirect-uri", "https://rp.example/cb",
                                 "--allow-national-id", "--json"], obj=ScriptInfo(create_app=lambda: app),
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    client_id = json.loads(result.stdout)["client_id"]
    with app.app_context():
        row = get_session().scalar(select(Client).where(Client.client_id == client_id))
        assert row.client_metadata["national_id_allowed"] is True and "national_id" in row.scopes


# -- discovery -----------------------------------------------------------------------------------


def test_discovery_announces_identity_assurance_and_national_id(client):
    meta = client.get("/.well-known/openid-configuration").json
    assert meta["verified_claims_supported"] is True
    assert meta["trust_frameworks_supported"] == ["nist_800_63A"]
    assert meta["evidence_supported"] == ["document"]
    assert meta["documents_supported"] == ["idcard", "passport"]
    assert set(meta["documents_check_methods_supported"]) == {"vri", "vpip", "pvp", "pvr"}
    assert meta["claims_in_verified_claims_supported"] == list(VC_CLAIMS)
    assert "national_id" in meta["scopes_supported"]
    assert {"national_id", "verified_claims"} <= set(meta["claims_supported"])
