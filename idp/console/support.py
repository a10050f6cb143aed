"""Placeholder: being built."""

from __future__ import annotations

from flask import Blueprint

from idp.accounts import roles
from idp.accounts.session import AuthContext

bp = Blueprint("console_support", __name__, url_prefix="/console/support")


@bp.route("/")
@roles.require_role("support")
def index(ctx: AuthContext) -> str:
    return "support"
