"""The step-up plan: which factor to ask for next, or which authenticator to add.

Checking the factor itself is ``idp.authn.service.verify_factor``; this module only decides
what the step-up page offers.
"""

from __future__ import annotations

from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.assurance.policy import Enrolled


def options_for(ctx: AuthContext | None, target: int, enrolled: Enrolled) -> list[str]:
    """The factors to offer on the step-up page: what completes ``target`` in one step, or
    else what makes progress (a password, after which the second factor is asked)."""
    fresh = ctx.fresh_for(target) if ctx else []
    options = policy.missing_methods(fresh, target, enrolled)
    if options:
        return options
    if enrolled.password and not any(f.method == policy.PASSWORD for f in fresh) and target <= 2:
        return [policy.PASSWORD]
    return []


def webauthn_uv_needed(ctx: AuthContext | None, target: int) -> bool:
    """A key alone must verify the user, unless a fresh password already stands beside it."""
    fresh = ctx.fresh_for(target) if ctx else []
    return target >= 3 or not any(f.method == policy.PASSWORD for f in fresh)


def may_enrol(target: int, enrolled: Enrolled) -> bool:
    """Adding a passkey or an authenticator app on the way can give ``target``, and nothing the
    person already has can (``policy.ENROLLABLE_AAL``: AAL3 is never promised that way)."""
    return enrolled.reachable_aal() < target <= policy.ENROLLABLE_AAL
