"""The step-up plan: which factor to ask for next, or which authenticator to add.

Checking the factor itself is ``idp.authn.service.verify_factor``; this module only decides
what the step-up page offers.
"""

from __future__ import annotations

from decimal import Decimal

from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.assurance.etda import LevelPolicy
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Factor


def options_for(ctx: AuthContext | None, target: int, enrolled: Enrolled, *, etda_target: Decimal | None = None,
                rules: LevelPolicy | None = None) -> list[str]:
    """The factors to offer on the step-up page: what completes ``target`` in one step, or
    else what makes progress (a password, after which the second factor is asked).

    With an ETDA target (``etda_target``, judged by the level policy ``rules``) only the factors
    that reach it are offered: for AAL 2.2 a key, not the authenticator app that gives 2.1.
    """
    fresh = ctx.fresh_for(target) if ctx else []
    options = policy.missing_methods(fresh, target, enrolled)
    if etda_target is not None and rules is not None:
        options = [m for m in options if _reaches(rules, fresh, m, enrolled, etda_target)]
    if options:
        return options
    if enrolled.password and not any(f.method == policy.PASSWORD for f in fresh) and target <= 2:
        return [policy.PASSWORD]
    return []


def webauthn_uv_needed(ctx: AuthContext | None, target: int) -> bool:
    """A key alone must verify the user, unless a fresh password already stands beside it."""
    fresh = ctx.fresh_for(target) if ctx else []
    return target >= 3 or not any(f.method == policy.PASSWORD for f in fresh)


def _reaches(rules: LevelPolicy, fresh: list[Factor], method: str, enrolled: Enrolled, wanted: Decimal) -> bool:
    """Whether one more factor by ``method`` (the strongest of that kind the person has) reaches ``wanted``."""
    uv = method == policy.WEBAUTHN and enrolled.webauthn_uv
    hw = uv and enrolled.webauthn_hw
    reached = rules.aal_for([*fresh, Factor(method, 0.0, uv=uv, hw=hw)])
    return reached is not None and reached >= wanted


def may_enrol(target: int, enrolled: Enrolled, *, etda_target: Decimal | None = None,
              rules: LevelPolicy | None = None) -> bool:
    """Adding a passkey or an authenticator app on the way can give ``target``, and nothing the
    person already has can (``policy.ENROLLABLE_AAL``: AAL3 is never promised that way). With an
    ETDA target, adding a passkey must reach it (:meth:`LevelPolicy.enrollable_aal`)."""
    if etda_target is not None and rules is not None:
        have = rules.reachable_aal(enrolled)
        gives = rules.enrollable_aal()
        if (have is None or have < etda_target) and gives is not None and etda_target <= gives:
            return target <= policy.ENROLLABLE_AAL
    return enrolled.reachable_aal() < target <= policy.ENROLLABLE_AAL
