"""Staff roles and the guard every staff page goes through.

A person without the role gets a plain 403, never a hint of what the page would show; a person
with it must also be at AAL2 (SP 800-63B-4: privileged access needs multi-factor).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts import session as auth_session
from idp.accounts.models import Role
from idp.accounts.models import User
from idp.db import get_session
from idp.errors import render_error

ROLES = ("admin", "proofing_officer", "auditor", "support")


class UnknownRole(ValueError):
    pass


class LastAdmin(ValueError):
    """Revoking this would leave nobody holding the admin role (nobody could run the console)."""


def roles_of(db: Session, user_id: int) -> set[str]:
    return set(db.scalars(select(Role.role).where(Role.user_id == user_id)))


def grant(db: Session, user: User, role: str, *, by: int | None = None) -> bool:
    """Give ``role``; ``False`` when the person already had it. Audited."""
    if role not in ROLES:
        raise UnknownRole(role)
    if role in roles_of(db, user.id):
        return False
    db.add(Role(user_id=user.id, role=role, granted_by=by))
    audit.record(db, audit.Event.ROLE_GRANTED, user_id=user.id, commit=False, role=role, by=by)
    db.commit()
    return True


def revoke(db: Session, user: User, role: str, *, by: int | None = None) -> bool:
    """Take ``role`` away; ``False`` when the person did not have it. Audited.

    :raises LastAdmin: ``user`` is the only admin
    """
    if role not in ROLES:
        raise UnknownRole(role)
    if role == "admin":
        # Lock the admin rows (PostgreSQL; SQLite serialises writers anyway), so two admins revoking
        # each other at the same moment cannot both pass this check.
        admins = db.scalars(select(Role.user_id).where(Role.role == "admin").with_for_update()).all()
        if list(admins) == [user.id]:
            db.rollback()
            raise LastAdmin(role)
    result = db.execute(delete(Role).where(Role.user_id == user.id, Role.role == role))
    if not result.rowcount:  # type: ignore[attr-defined]
        db.rollback()
        return False
    audit.record(db, audit.Event.ROLE_REVOKED, user_id=user.id, commit=False, role=role, by=by)
    db.commit()
    return True


def require_role(*allowed: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a staff view: signed in, holding one of ``allowed``, at AAL2; the view gets ``ctx``.

    Someone let in only as ``admin`` must also have used a passkey or security key in this
    session: the role that can change e-Services and roles gets phishing-resistant sign-in.
    """
    unknown = set(allowed) - set(ROLES)
    if not allowed or unknown:
        raise UnknownRole(", ".join(sorted(unknown)))

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            db = get_session()
            ctx = auth_session.current(db)
            here = request.full_path if request.query_string else request.path
            if ctx is None:
                return redirect(url_for("accounts.signin", next=here))
            g.staff_roles = held = roles_of(db, ctx.user.id)  # the console's navigation reads it again
            granted = set(allowed) & held
            if not granted:
                return render_error(403)
            if ctx.aal() < 2:
                return redirect(url_for("authn.step_up", aal=2, next=here))
            if granted == {"admin"} and not ctx.used_webauthn(2):
                return redirect(url_for("authn.step_up", aal=2, next=here) + "&with=webauthn")
            return view(*args, ctx=ctx, **kwargs)

        guarded.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]  # read by the role-matrix test
        return guarded

    return decorate
