"""Placeholder: being built."""

from __future__ import annotations

from flask import Blueprint

from idp.accounts import roles
from idp.accounts.session import AuthContext

bp = Blueprint("console_staff", __name__, url_prefix="/console/staff")


@bp.route("/")
@roles.require_role("admin")
def index(ctx: AuthContext) -> str:
    return "staff"
