"""The ETDA level policy of this IdP and where a person stands under it.

The policy file is read and checked once, when the app is created (:func:`init_app`, called from
``idp.config.load``), so a file that does not pass stops ``idp init`` and ``idp serve`` with its
reason rather than failing a sign-in later. The rules themselves are pure
(:mod:`idp.assurance.etda`); this module only gathers what they read: the verified identity's
checks, the session's factors, the enrolled authenticators and what remote proofing can do.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Flask
from flask import current_app
from sqlalchemy.orm import Session

from idp import clock
from idp.accounts.models import User
from idp.accounts.session import AuthContext
from idp.assurance.etda import EvidenceCheck
from idp.assurance.etda import LevelPolicy
from idp.assurance.etda import PolicyError
from idp.assurance.etda import load_policy
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Etda
from idp.proofing import levels as proofing_levels

EXTENSION = "idp.etda_policy"


def init_app(app: Flask) -> None:
    """Load ``ETDA_LEVELS_FILE`` (the shipped default when unset); raises ``ConfigError`` when unusable."""
    from idp.config import ConfigError

    try:
        app.extensions[EXTENSION] = load_policy(app.config.get("ETDA_LEVELS_FILE"))
    except PolicyError as exc:
        raise ConfigError(f"ETDA_LEVELS_FILE: {exc}") from exc
    known = {str(c) for c in EvidenceCheck}
    unknown = [c for c in remote_checks(app.config) if c not in known]
    if unknown:
        raise ConfigError(f"PROOFING_REMOTE_CHECKS: unknown check {unknown[0]!r} (known: {', '.join(sorted(known))})")


def policy() -> LevelPolicy:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def remote_checks(config: Mapping[str, Any]) -> list[str]:
    """The checks this deployment's remote proofing performs: ``PROOFING_REMOTE_CHECKS`` when set,
    else what is configured: the registry check, face and liveness with a face verifier
    (``PROOFING_FACE_VERIFIER``), the chip with card issuer keys (``PROOFING_CHIP_ISSUERS_JWKS``)."""
    value = config.get("PROOFING_REMOTE_CHECKS")
    if value is None:
        derived = [EvidenceCheck.REGISTRY_DATA]
        if config.get("PROOFING_FACE_VERIFIER"):
            derived += [EvidenceCheck.FACE, EvidenceCheck.LIVENESS]
        if config.get("PROOFING_CHIP_ISSUERS_JWKS"):
            derived.append(EvidenceCheck.CHIP)
        value = derived
    return [str(v) for v in value]


def account_ial(db: Session, user: User) -> Decimal | None:
    return proofing_levels.etda_ial(db, user, policy())


def session_aal(ctx: AuthContext, now: float | None = None) -> Decimal | None:
    return policy().session_aal(ctx.factors, now=clock.timestamp() if now is None else now,
                                last_active=ctx.last_active, breaks=ctx.breaks)


def standing(db: Session, ctx: AuthContext, enrolled: Enrolled, *, now: float | None = None) -> Etda:
    """The person's ETDA levels and what they could reach in this visit."""
    rules = policy()
    return Etda(ial=account_ial(db, ctx.user), aal=session_aal(ctx, now), reachable_aal=rules.reachable_aal(enrolled),
                provable_ial=rules.provable_ial(remote_checks(current_app.config)))
