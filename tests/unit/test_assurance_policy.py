"""The AAL/acr policy as a table: factor sets × requested values → outcome (docs/assurance.md)."""

import pytest

from idp.assurance import policy
from idp.assurance.levels import ACR_VALUES
from idp.assurance.policy import AcrOutcome
from idp.assurance.policy import AcrRequest
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Factor
from idp.assurance.policy import decide_acr

T = 1_800_000_000.0
HOUR = 3600
PWD = Factor("pwd", T)
OTP = Factor("totp", T)
REC = Factor("recovery", T)
KEY = Factor("webauthn", T)  # security key, no user verification
PASSKEY = Factor("webauthn", T, uv=True)
HW = Factor("webauthn", T, uv=True, hw=True)
HW_NO_UV = Factor("webauthn", T, hw=True)


def acr(ial, aal):
    return f"urn:th:digitalid:ial{ial}:aal{aal}"


@pytest.mark.parametrize("factors, level", [
    ([], 0),
    ([PWD], 1),
    ([KEY], 1),
    ([OTP], 1),
    ([REC], 1),
    ([PWD, OTP], 2),
    ([PWD, REC], 2),
    ([PWD, KEY], 2),
    ([PASSKEY], 2),
    ([OTP, REC], 1),  # two "something you have" of the same kind are not two factors
    ([HW], 3),
    ([HW_NO_UV], 1),
    ([PWD, HW_NO_UV], 2),
    ([PWD, OTP, HW], 3),
])
def test_level_of_factor_sets(factors, level):
    assert policy.level_of(factors) == level


@pytest.mark.parametrize("age, idle, level", [
    (0, 0, 3),
    (11 * HOUR, 14 * 60, 3),
    (11 * HOUR, 16 * 60, 2),  # AAL3 idles out after 15 minutes, AAL2 only after an hour
    (13 * HOUR, 0, 2),  # AAL3 lasts 12 hours
    (23 * HOUR, 59 * 60, 2),
    (23 * HOUR, 61 * 60, 1),
    (25 * HOUR, 0, 1),  # AAL2 lasts 24 hours
    (29 * 24 * HOUR, 20 * 24 * HOUR, 1),  # AAL1 has no idle timeout
    (31 * 24 * HOUR, 0, 0),  # nor anything after 30 days
])
def test_reauthentication_windows(age, idle, level):
    factors = [Factor("pwd", T - age), Factor("webauthn", T - age, uv=True, hw=True)]
    assert policy.current_aal(factors, now=T, last_active=T - idle) == level


def test_a_stale_password_and_a_fresh_otp_are_not_aal2():
    factors = [Factor("pwd", T - 25 * HOUR), Factor("totp", T)]
    assert policy.current_aal(factors, now=T, last_active=T) == 1


@pytest.mark.parametrize("factors, amr", [
    ([PWD], ["pwd"]),
    ([PWD, OTP], ["pwd", "otp", "mfa"]),
    ([PWD, REC], ["pwd", "otp", "mfa"]),
    ([PASSKEY], ["swk", "user", "mfa"]),
    ([KEY], ["swk", "user"]),
    ([HW], ["hwk", "user", "mfa"]),
    ([PWD, KEY], ["pwd", "swk", "user", "mfa"]),
])
def test_amr_values_are_rfc8176(factors, amr):
    assert policy.amr_of(factors) == amr


@pytest.mark.parametrize("enrolled, reach", [
    (Enrolled(), 0),
    (Enrolled(password=True), 1),
    (Enrolled(password=True, totp=True), 2),
    (Enrolled(password=True, recovery=True), 2),
    (Enrolled(webauthn=True), 1),  # a security key alone, without a password
    (Enrolled(password=True, webauthn=True), 2),
    (Enrolled(webauthn=True, webauthn_uv=True), 2),  # passwordless passkey
    (Enrolled(webauthn=True, webauthn_uv=True, webauthn_hw=True), 3),
])
def test_reachable_aal(enrolled, reach):
    assert enrolled.reachable_aal() == reach


def test_step_up_asks_only_for_the_missing_factor():
    full = Enrolled(password=True, totp=True, recovery=True, webauthn=True, webauthn_uv=True)
    assert policy.missing_methods([PWD], 2, full) == ["webauthn", "totp", "recovery"]
    assert policy.missing_methods([OTP], 2, full) == ["webauthn", "pwd"]
    assert policy.missing_methods([], 2, full) == ["webauthn"]  # only a passkey does it in one step
    assert policy.missing_methods([PWD], 3, full) == []  # no hardware key enrolled
    hw = Enrolled(password=True, webauthn=True, webauthn_uv=True, webauthn_hw=True)
    assert policy.missing_methods([PWD], 3, hw) == ["webauthn"]


@pytest.mark.parametrize("values", [["urn:th:digitalid:ial0:aal1"], ["ial1:aal1"], ["urn:th:digitalid:ial1"],
                                    ["urn:th:digitalid:ial1:aal4"], ["urn:other:ial1:aal1"]])
def test_unknown_acr_values_are_ignored(values):
    assert all(policy.parse_acr(v) is None for v in values)
    assert decide_acr(AcrRequest(values=tuple(values)), ial=1, aal=1, reachable_aal=3) == AcrOutcome(acr=acr(1, 1))
    assert decide_acr(AcrRequest(values=tuple(values), essential=True), ial=1, aal=1,
                      reachable_aal=3) == AcrOutcome(unmet=True)


def test_all_nine_values_parse():
    assert len(ACR_VALUES) == 9
    assert [policy.parse_acr(v) for v in ACR_VALUES] == [(i, a) for i in (1, 2, 3) for a in (1, 2, 3)]


#          request                                          ial aal reach  outcome
CASES = [
    (AcrRequest(), 1, 1, 2, AcrOutcome(acr=acr(1, 1))),  # nothing asked: what was achieved
    (AcrRequest(), 1, 2, 2, AcrOutcome(acr=acr(1, 2))),
    (AcrRequest(values=(acr(1, 1),)), 1, 2, 2, AcrOutcome(acr=acr(1, 1))),  # first satisfied value
    (AcrRequest(values=(acr(1, 2), acr(1, 1))), 1, 1, 2, AcrOutcome(step_up=2, target=acr(1, 2))),
    (AcrRequest(values=(acr(1, 2), acr(1, 1))), 1, 1, 1, AcrOutcome(acr=acr(1, 1))),  # preference order
    (AcrRequest(values=(acr(1, 2),)), 1, 1, 1, AcrOutcome(acr=acr(1, 1))),  # voluntary: never overstated
    (AcrRequest(values=(acr(1, 2),), essential=True), 1, 1, 1, AcrOutcome(unmet=True)),
    (AcrRequest(values=(acr(1, 2),), essential=True), 1, 1, 2, AcrOutcome(step_up=2, target=acr(1, 2))),
    (AcrRequest(values=(acr(2, 1),), essential=True), 1, 3, 3, AcrOutcome(unmet=True)),  # IAL is not raised here
    (AcrRequest(values=(acr(1, 3),), essential=True), 1, 2, 3, AcrOutcome(step_up=3, target=acr(1, 3))),
    (AcrRequest(values=(acr(1, 2),), essential=True), 2, 2, 2, AcrOutcome(acr=acr(1, 2))),  # IAL2 satisfies ial1
    # the operator's floor: a request raises it, never lowers it
    (AcrRequest(floor=(acr(1, 2),)), 1, 1, 2, AcrOutcome(step_up=2, target=acr(1, 2))),
    (AcrRequest(floor=(acr(1, 2),)), 1, 1, 1, AcrOutcome(unmet=True)),
    (AcrRequest(values=(acr(1, 1),), floor=(acr(1, 2),)), 1, 1, 2, AcrOutcome(step_up=2, target=acr(1, 2))),
    (AcrRequest(values=(acr(1, 1),), floor=(acr(1, 2),)), 1, 2, 2, AcrOutcome(acr=acr(1, 2))),
    (AcrRequest(values=(acr(1, 3),), floor=(acr(1, 2),)), 1, 2, 2, AcrOutcome(acr=acr(1, 2))),
    (AcrRequest(values=(acr(1, 3),), floor=(acr(1, 2),)), 1, 2, 3, AcrOutcome(step_up=3, target=acr(1, 3))),
    # an unreachable voluntary value above the floor must not skip the floor
    (AcrRequest(values=(acr(1, 3),), floor=(acr(1, 2),)), 1, 1, 2, AcrOutcome(step_up=2, target=acr(1, 2))),
    (AcrRequest(values=(acr(1, 3),), floor=(acr(1, 2),)), 1, 1, 1, AcrOutcome(unmet=True)),
    (AcrRequest(values=(acr(1, 3),), essential=True, floor=(acr(1, 2),)), 1, 2, 2, AcrOutcome(unmet=True)),
]


@pytest.mark.parametrize("request_, ial, aal, reach, outcome", CASES)
def test_acr_decision_table(request_, ial, aal, reach, outcome):
    assert decide_acr(request_, ial=ial, aal=aal, reachable_aal=reach) == outcome


def test_a_long_break_ends_aal2_even_after_activity_resumed():
    factors = [Factor("pwd", T - 3 * HOUR), Factor("totp", T - 3 * HOUR)]
    gap = (T - 2.5 * HOUR, T - 1 * HOUR)  # 90 minutes without activity, then activity again
    assert policy.current_aal(factors, now=T, last_active=T - 60, breaks=[gap]) == 1
    short = (T - 2.5 * HOUR, T - 2 * HOUR)  # 30 minutes: ends AAL3 only
    assert policy.current_aal(factors, now=T, last_active=T - 60, breaks=[short]) == 2
    again = [*factors, Factor("pwd", T - 30), Factor("totp", T - 20)]
    assert policy.current_aal(again, now=T, last_active=T - 10, breaks=[gap]) == 2


@pytest.mark.parametrize("request_, ial, aal, reach, provable, outcome", [
    (AcrRequest(values=(acr(2, 1),), essential=True), 1, 1, 1, 2, AcrOutcome(proof=2, target=acr(2, 1))),
    (AcrRequest(values=(acr(2, 2),), essential=True), 1, 1, 2, 2, AcrOutcome(proof=2, target=acr(2, 2))),
    (AcrRequest(values=(acr(2, 2),), essential=True), 1, 1, 1, 2, AcrOutcome(unmet=True)),  # no second factor
    (AcrRequest(values=(acr(3, 2),), essential=True), 1, 2, 2, 2, AcrOutcome(unmet=True)),  # IAL3: a counter
    (AcrRequest(values=(acr(2, 1),), essential=True), 1, 1, 1, 0, AcrOutcome(unmet=True)),  # declined
    # a listed value already met is never traded for proofing toward a more preferred one
    (AcrRequest(values=(acr(2, 1), acr(1, 1))), 1, 1, 1, 2, AcrOutcome(acr=acr(1, 1))),
    (AcrRequest(values=(acr(2, 1), acr(1, 1))), 1, 1, 1, 0, AcrOutcome(acr=acr(1, 1))),
    (AcrRequest(values=(acr(2, 2), acr(1, 1))), 1, 1, 2, 2, AcrOutcome(acr=acr(1, 1))),
    (AcrRequest(values=(acr(2, 1), acr(1, 1)), essential=True), 1, 1, 1, 2, AcrOutcome(acr=acr(1, 1))),
    # ... but a step-up with an authenticator the person has is still offered (and may be declined)
    (AcrRequest(values=(acr(2, 2), acr(1, 2), acr(1, 1))), 1, 1, 2, 2, AcrOutcome(step_up=2, target=acr(1, 2))),
    # nothing met: proofing is offered for a voluntary value the person can reach
    (AcrRequest(values=(acr(2, 1), acr(1, 2))), 1, 1, 1, 2, AcrOutcome(proof=2, target=acr(2, 1))),
    (AcrRequest(values=(acr(2, 2), acr(1, 2))), 1, 1, 1, 2, AcrOutcome(acr=acr(1, 1))),  # voluntary: what was had
])
def test_acr_decision_with_proofing(request_, ial, aal, reach, provable, outcome):
    assert decide_acr(request_, ial=ial, aal=aal, reachable_aal=reach, provable_ial=provable) == outcome
