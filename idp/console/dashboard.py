"""Placeholder: being built."""

from __future__ import annotations

from flask import Blueprint

from idp.accounts import roles
from idp.accounts.session import AuthContext

bp = Blueprint("console_dashboard", __name__, url_prefix="/console/dashboard")


@bp.route("/")
@roles.require_role("admin", "auditor")
def index(ctx: AuthContext) -> str:
    return "dashboard"
