"""The authorization decision, without HTTP or a database."""

import datetime as dt

import pytest

from idp.accounts.models import User
from idp.accounts.session import AuthContext
from idp.assurance.policy import AcrRequest
from idp.assurance.policy import Factor
from idp.oidc.authorize import OidcParams
from idp.oidc.authorize import decide

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
USER = User(id=1, subject_seed="seed", email="a@example.com", ial=1)


def params(**kw):
    base = {"prompts": frozenset(), "max_age": None, "login_hint": None, "hint_sub": None}
    base.update(kw)
    return OidcParams(**base)


def ctx(age_seconds=10):
    return AuthContext(user=USER, sid="s", factors=(Factor("pwd", NOW.timestamp() - age_seconds),))


def run(p, c, *, trusted=False, fresh=False, consented=True, scope="openid email"):
    return decide(p, c, trusted=trusted, scope=scope, fresh=fresh, now=NOW, subject=lambda u: "sub-1",
                  consented=lambda items: consented)


def test_no_session_needs_login_and_consent():
    d = run(params(), None)
    assert d.login and d.consent and d.items == ["email"]


@pytest.mark.parametrize("p", [params(prompts=frozenset({"login"})), params(max_age=5),
                               params(hint_sub="someone-else"), params(prompts=frozenset({"select_account"}))])
def test_reasons_to_sign_in_again(p):
    assert run(p, ctx(age_seconds=60)).login


@pytest.mark.parametrize("p", [params(prompts=frozenset({"login"})), params(max_age=0)])
def test_a_fresh_sign_in_satisfies_prompt_login_and_max_age(p):
    assert not run(p, ctx(age_seconds=60), fresh=True).login


def test_max_age_not_yet_reached_and_matching_hint():
    assert not run(params(max_age=3600, hint_sub="sub-1"), ctx(age_seconds=60)).login


def test_consent_remembered_trusted_or_forced():
    assert not run(params(), ctx()).consent
    assert run(params(), ctx(), consented=False).consent
    assert not run(params(), ctx(), consented=False, trusted=True).consent
    assert run(params(prompts=frozenset({"consent"})), ctx()).consent


def test_individually_requested_claims_are_consent_items():
    p = params(claims={"userinfo": {"phone_number": None, "sub": None}})
    assert run(p, ctx(), scope="openid").items == ["claim:phone_number"]


# -- what a journey adds to decide_acr (issue 11) -------------------------------------------------------

AAL2 = "urn:th:digitalid:ial1:aal2"
IAL2_AAL2 = "urn:th:digitalid:ial2:aal2"


def acr(wanted, *, p=None, reachable=1, declined=False, enrollable=2):
    return decide(p or params(), ctx(), trusted=True, scope="openid", fresh=False, now=NOW,
                  subject=lambda u: "sub-1", consented=lambda items: True, wanted=wanted, reachable_aal=reachable,
                  declined=declined, enrollable_aal=enrollable).acr


@pytest.mark.parametrize("wanted", [AcrRequest(values=(AAL2,), essential=True), AcrRequest(floor=(AAL2,))])
def test_a_mandatory_level_only_a_new_factor_reaches_is_a_step_up_to_add_one(wanted):
    assert acr(wanted).step_up == 2 and not acr(wanted).unmet
    assert acr(wanted, enrollable=0).unmet  # nothing can be added (the view passes 0 for none)
    assert acr(wanted, p=params(prompts=frozenset({"none"}))).unmet
    assert acr(wanted, declined=True).unmet


def test_voluntary_values_never_lead_to_adding_a_factor():
    outcome = acr(AcrRequest(values=(AAL2,)))
    assert outcome.acr == "urn:th:digitalid:ial1:aal1" and outcome.step_up is None


@pytest.mark.parametrize("value", ["urn:th:digitalid:ial1:aal3", "urn:th:digitalid:ial3:aal1"])
def test_what_a_journey_cannot_give_stays_unmet(value):
    assert acr(AcrRequest(values=(value,), essential=True)).unmet


@pytest.mark.parametrize("reachable", [1, 2])
def test_the_second_factor_comes_before_proofing(reachable):
    outcome = acr(AcrRequest(values=(IAL2_AAL2,), essential=True), reachable=reachable)
    assert (outcome.step_up, outcome.proof, outcome.target) == (2, 2, IAL2_AAL2)
