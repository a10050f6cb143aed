"""``/console/staff``: who holds which staff role, granting and revoking, for admins.

Grants and revocations go through :mod:`idp.accounts.roles` (audited with the admin as actor).
The last admin's admin role cannot be revoked, so the service can never be locked out of its own
console. An unknown email gets "no account with that email" and nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp.accounts import roles
from idp.accounts.models import Role
from idp.accounts.models import User
from idp.accounts.service import find_by_email
from idp.accounts.session import AuthContext
from idp.console.home import role_name
from idp.db import get_session

bp = Blueprint("console_staff", __name__, url_prefix="/console/staff")

admin_only = roles.require_role("admin")


@dataclass(frozen=True)
class StaffMember:
    user_id: int
    email: str
    name: str
    roles: list[str]


def list_staff(db: Session) -> list[StaffMember]:
    """Everyone holding at least one role, by email; roles in :data:`roles.ROLES` order."""
    held: dict[int, set[str]] = defaultdict(set)
    for user_id, role in db.execute(select(Role.user_id, Role.role)):
        held[user_id].add(role)
    if not held:
        return []
    users = db.scalars(select(User).where(User.id.in_(held)).order_by(User.email))
    return [StaffMember(u.id, u.email, u.name or "", [r for r in roles.ROLES if r in held[u.id]]) for u in users]


def _render(*, error: str | None = None, status: int = 200, email: str = "", role: str = "") -> tuple[str, int]:
    return render_template("console/staff/index.html", staff=list_staff(get_session()), roles=roles.ROLES,
                           error=error, email=email, role=role), status


@bp.route("/")
@admin_only
def index(*, ctx: AuthContext) -> tuple[str, int]:
    return _render()


@bp.post("/grant")
@admin_only
def grant(*, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    email, role = request.form.get("email", "").strip()[:320], request.form.get("role", "")
    if role not in roles.ROLES:
        return _render(error=_("Choose one of the roles."), status=400, email=email)
    user = find_by_email(db, email) if email else None
    if user is None:
        return _render(error=_("There is no account with that email."), status=400, email=email, role=role)
    if roles.grant(db, user, role, by=ctx.user.id):
        flash(_("%(email)s is now %(role)s.", email=user.email, role=role_name(role)))
    else:
        flash(_("%(email)s was already %(role)s.", email=user.email, role=role_name(role)))
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/revoke")
@admin_only
def revoke(user_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    user = db.get(User, user_id)
    role = request.form.get("role", "")
    if user is None:
        abort(404)
    if role not in roles.ROLES:
        return _render(error=_("Choose one of the roles."), status=400)
    try:
        done = roles.revoke(db, user, role, by=ctx.user.id)
    except roles.LastAdmin:
        return _render(error=_("This is the last administrator: grant the role to someone else first, "
                               "so that nobody is locked out of the console."), status=400)
    if done:
        flash(_("%(email)s is no longer %(role)s.", email=user.email, role=role_name(role)))
    return redirect(url_for(".index"))
