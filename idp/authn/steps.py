"""Sign-in steps shared by the pages: throttled factor checks and the step-up plan.

Views stay thin: each asks here whether an attempt may go ahead, records the outcome
(throttle counters, audit events) and learns which factor to ask for next.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp import audit
from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Factor
from idp.authn import throttle
from idp.authn.throttle import Verdict


@dataclass(frozen=True)
class Attempt:
    """The result of one throttled attempt: a factor, or a refusal with its verdict."""

    factor: Factor | None
    verdict: Verdict

    @property
    def blocked(self) -> bool:
        return not self.verdict.allowed


def throttled(db: Session, keys: list[str], check: Callable[[], Factor | None], *, config: Mapping[str, Any],
              method: str, user_id: int | None) -> Attempt:
    """Run ``check`` unless a key is blocked; count a failure, or clear the account key on success.

    The attempt is counted against the account before ``check`` runs (``throttle.reserve``), so
    parallel guesses for one account cannot all slip through one reading of the count.
    """
    accounts = [k for k in keys if throttle.is_account_key(k)]
    verdict = throttle.reserve(db, count=accounts, check_only=keys, config=config)
    if not verdict.allowed:
        audit.record(db, audit.Event.SIGNIN_REFUSED, user_id=user_id, factor=method,
                     reason="suspended" if verdict.suspended else "throttled")
        return Attempt(None, verdict)
    factor = check()
    if factor is None:
        audit.record(db, audit.Event.SIGNIN_FAILED, user_id=user_id, factor=method, commit=False)
        return Attempt(None, throttle.failure(db, keys, config=config, factor=method, user_id=user_id,
                                              reserved=accounts))
    throttle.success(db, accounts)  # gives the reservation back, with any earlier failures
    return Attempt(factor, verdict)


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
