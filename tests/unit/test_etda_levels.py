"""The ETDA level policy as tables: the shipped default, the checks it reads, the ``acr`` values and
the decision between them, and the files it refuses."""

from decimal import Decimal

import pytest

from idp.assurance.etda import DEFAULT_FILE
from idp.assurance.etda import PolicyError
from idp.assurance.etda import load_policy
from idp.assurance.etda import parse_policy
from idp.assurance.levels import ALL_ACR_VALUES
from idp.assurance.levels import ETDA_ACR_VALUES
from idp.assurance.policy import PASSWORD
from idp.assurance.policy import RECOVERY
from idp.assurance.policy import TOTP
from idp.assurance.policy import WEBAUTHN
from idp.assurance.policy import AcrRequest
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Etda
from idp.assurance.policy import Factor
from idp.assurance.policy import Requirement
from idp.assurance.policy import decide_acr
from idp.assurance.policy import parse_requirement
from idp.proofing.levels import checks_of
from idp.proofing.models import VerifiedIdentity

POLICY = load_policy()
D = Decimal


@pytest.mark.parametrize(("checks", "channel", "level"), [
    ({"email"}, None, "1.1"),
    ({"registry_data"}, "remote", "1.3"),
    ({"registry_data", "face"}, "remote", "2.2"),
    ({"registry_data", "face", "liveness"}, "remote", "2.2"),
    ({"chip", "face", "liveness"}, "remote", "2.3"),
    ({"chip", "face", "liveness", "registry_data"}, "remote", "2.3"),
    ({"chip", "face"}, "remote", None),  # no liveness: no rule beyond what is listed
    ({"in_person", "registry_data"}, "counter", "3"),
    ({"in_person"}, "remote", None),  # IAL 3 needs the counter channel
    (set(), None, None),
])
def test_default_policy_identity_levels(checks, channel, level):
    assert POLICY.ial_for(checks, channel) == (D(level) if level else None)


def F(method, uv=False, hw=False):
    return Factor(method, 0.0, uv=uv, hw=hw)


@pytest.mark.parametrize(("factors", "level"), [
    ([F(PASSWORD)], "1"),
    ([F(WEBAUTHN)], "1"),  # a key that did not verify the user, alone
    ([F(PASSWORD), F(TOTP)], "2.1"),
    ([F(PASSWORD), F(RECOVERY)], "2.1"),
    ([F(PASSWORD), F(WEBAUTHN)], "2.2"),
    ([F(WEBAUTHN, uv=True)], "2.2"),
    ([F(PASSWORD), F(TOTP), F(WEBAUTHN)], "2.2"),
    ([F(WEBAUTHN, uv=True, hw=True)], "3"),
    ([F(TOTP)], None),  # a one-time code alone is no sign-in
    ([], None),
])
def test_default_policy_authentication_levels(factors, level):
    assert POLICY.aal_for(factors) == (D(level) if level else None)


def test_a_hardware_key_past_the_aal3_window_counts_as_a_passkey():
    key = Factor(WEBAUTHN, 0.0, uv=True, hw=True)
    assert POLICY.session_aal([key], now=60.0, last_active=60.0) == D("3")
    assert POLICY.session_aal([key], now=13 * 3600.0, last_active=13 * 3600.0) == D("2.2")


@pytest.mark.parametrize(("amr", "level"), [
    (["pwd"], "1"), (["pwd", "otp", "mfa"], "2.1"), (["pwd", "swk", "user", "mfa"], "2.2"),
    (["swk", "user", "mfa"], "2.2"), (["swk", "user"], "1"), (["hwk", "user", "mfa"], "3"),
])
def test_aal_from_amr(amr, level):
    assert POLICY.aal_from_amr(amr) == D(level)


@pytest.mark.parametrize(("enrolled", "level"), [
    (Enrolled(password=True), "1"), (Enrolled(password=True, totp=True), "2.1"),
    (Enrolled(password=True, webauthn=True), "2.2"), (Enrolled(webauthn=True, webauthn_uv=True), "2.2"),
    (Enrolled(webauthn=True, webauthn_uv=True, webauthn_hw=True), "3"),
])
def test_reachable_aal(enrolled, level):
    assert POLICY.reachable_aal(enrolled) == D(level)


def _identity(ial, evidence):
    return VerifiedIdentity(user_id=1, ial=ial, claims_encrypted=b"", evidence=evidence, trust_framework="x",
                            verified_at=None)


REMOTE = {"type": "document", "check_details": [{"check_method": "vri", "organization": "TH-DOPA"}]}
COUNTER = {"type": "document", "check_details": [{"check_method": "vpip"}, {"check_method": "pvp"}]}


@pytest.mark.parametrize(("identity", "checks"), [
    (None, {"email"}),
    (_identity(2, [REMOTE]), {"registry_data"}),  # rows from before the checks list
    (_identity(3, [COUNTER]), {"in_person", "registry_data"}),
    (_identity(2, [{**REMOTE, "checks": ["chip", "face", "liveness", "registry_data"]}]),
     {"chip", "face", "liveness", "registry_data"}),
    (_identity(2, [{**REMOTE, "checks": ["face", "no-such-check"]}]), {"face"}),
    (_identity(2, []), {"registry_data"}),
])
def test_checks_of(identity, checks):
    assert checks_of(identity) == checks


@pytest.mark.parametrize(("value", "requirement"), [
    ("urn:th:digitalid:ial:2.3", Requirement(etda_ial=D("2.3"))),
    ("urn:th:digitalid:aal:2.2", Requirement(etda_aal=D("2.2"))),
    ("urn:th:digitalid:ial:2.3:aal:2.2", Requirement(etda_ial=D("2.3"), etda_aal=D("2.2"))),
    ("urn:th:digitalid:ial:3:aal:1", Requirement(etda_ial=D("3"), etda_aal=D("1"))),
    ("urn:th:digitalid:ial2:aal2", Requirement(ial=2, aal=2)),
    ("urn:th:digitalid:ial:2.4", None), ("urn:th:digitalid:aal:1.1", None), ("urn:th:digitalid:ial:2.30", None),
    ("urn:th:digitalid:aal:2.2:ial:2.3", None), ("urn:th:digitalid:ial:2.3:ial:2.3", None),
    ("urn:th:digitalid:ial:", None), ("urn:th:digitalid:ial:2.3:aal", None), ("urn:th:digitalid:ial:1e1", None),
    ("urn:other:ial:2.3", None),
])
def test_parse_requirement(value, requirement):
    assert parse_requirement(value) == requirement


def test_every_listed_value_parses_and_each_is_distinct():
    assert len(set(ALL_ACR_VALUES)) == len(ALL_ACR_VALUES) == 9 + 7 + 4 + 28
    assert all(parse_requirement(v) is not None for v in ETDA_ACR_VALUES)


IAL23 = "urn:th:digitalid:ial:2.3"
AAL22 = "urn:th:digitalid:aal:2.2"
BOTH = "urn:th:digitalid:ial:2.3:aal:2.2"


def decide(values, *, ial=2, aal=2, reachable=2, etda, essential=True, floor=()):
    return decide_acr(AcrRequest(values=tuple(values), essential=essential, floor=tuple(floor)), ial=ial, aal=aal,
                      reachable_aal=reachable, provable_ial=2, etda=etda)


REMOTE_PROOFED = Etda(ial=D("1.3"), aal=D("2.1"), reachable_aal=D("2.1"), provable_ial=D("1.3"))


@pytest.mark.parametrize(("values", "etda", "expected"), [
    # A remotely proofed account (1.3) does not meet 2.3: unmet when proofing cannot give it here...
    ([IAL23], REMOTE_PROOFED, {"unmet": True}),
    # ...and proofing is offered when this deployment's remote proofing can reach it.
    ([IAL23], Etda(ial=D("1.3"), aal=D("1"), provable_ial=D("2.3")), {"proof": 2, "proof_etda": D("2.3")}),
    ([IAL23], Etda(ial=D("2.3"), aal=D("1")), {"acr": IAL23}),
    ([IAL23], Etda(ial=D("3"), aal=D("1")), {"acr": IAL23}),
    # AAL 2.2: TOTP (2.1) is not enough; a key the person has is the step-up.
    ([AAL22], Etda(ial=D("1.3"), aal=D("2.1"), reachable_aal=D("2.2")), {"step_up": 2, "step_up_etda": D("2.2")}),
    ([AAL22], REMOTE_PROOFED, {"unmet": True}),
    ([AAL22], Etda(ial=D("1.3"), aal=D("2.2")), {"acr": AAL22}),
    ([BOTH], Etda(ial=D("2.3"), aal=D("2.2")), {"acr": BOTH}),
    ([BOTH], Etda(ial=D("2.3"), aal=D("2.1"), reachable_aal=D("2.1")), {"unmet": True}),
])
def test_decide_etda_values(values, etda, expected):
    outcome = decide(values, etda=etda)
    for name, value in expected.items():
        assert getattr(outcome, name) == value, outcome


def test_voluntary_etda_request_gets_what_was_achieved_in_etda_form():
    outcome = decide([BOTH], etda=REMOTE_PROOFED, essential=False)
    assert outcome.acr == "urn:th:digitalid:ial:1.3:aal:2.1"


def test_an_etda_request_implies_its_nist_band_for_the_operators_floor():
    """Floor ial2:aal2: ial:2.3:aal:2.2 raises it (kept); aal:2.2 alone says nothing of identity (dropped)."""
    met = Etda(ial=D("2.3"), aal=D("2.2"))
    assert decide([BOTH], etda=met, floor=["urn:th:digitalid:ial2:aal2"]).acr == BOTH
    assert decide([AAL22], etda=met, floor=["urn:th:digitalid:ial2:aal2"]).acr == "urn:th:digitalid:ial2:aal2"
    # An ETDA floor is not met by a NIST request: the floor decides.
    assert decide(["urn:th:digitalid:ial2:aal2"], etda=REMOTE_PROOFED, floor=[IAL23]).unmet


def test_the_shipped_file_is_the_default():
    assert load_policy(DEFAULT_FILE) == POLICY


BASE = {"ial": [{"level": "1.1", "checks": ["email"]}], "aal": [{"level": "1", "authenticators": ["password"]}]}


@pytest.mark.parametrize(("change", "message"), [
    ({"ial": []}, "needs at least one [[ial]]"),
    ({"extra": 1}, "unknown section"),
    ({"ial": [{"level": 2.3, "checks": ["face"]}]}, "written as a string"),
    ({"ial": [{"level": "2.4", "checks": ["face"]}]}, "level must be one of"),
    ({"ial": [{"level": "2.3", "checks": ["selfie"]}]}, "unknown check 'selfie'"),
    ({"ial": [{"level": "2.1", "checks": ["email"]}]}, "needs a check of the person"),
    ({"ial": [{"level": "3", "checks": ["chip", "face", "liveness"]}]}, "needs the 'in_person' check"),
    ({"ial": [{"level": "1.3", "checks": ["registry_data"], "channel": "post"}]}, "channel must be"),
    ({"ial": [{"level": "1.3", "checks": ["registry_data"], "min": 1}]}, "unknown key 'min'"),
    ({"aal": [{"level": "2.1", "authenticators": ["password"]}]}, "above what password reach"),
    ({"aal": [{"level": "3", "authenticators": ["passkey"]}]}, "above what passkey reach"),
    ({"aal": [{"level": "2.2", "authenticators": ["sms"]}]}, "unknown authenticator 'sms'"),
])
def test_bad_policies_are_refused_with_the_reason(change, message):
    with pytest.raises(PolicyError, match=message.replace("[", r"\[")):
        parse_policy({**BASE, **change})


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    path = tmp_path / "levels.toml"
    path.write_text("[[ial]\nlevel = ", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "missing.toml")
