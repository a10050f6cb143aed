"""Placeholder: being built."""

from __future__ import annotations

from flask import Blueprint

from idp.accounts import roles
from idp.accounts.session import AuthContext

bp = Blueprint("console_clients", __name__, url_prefix="/console/clients")


@bp.route("/")
@roles.require_role("admin")
def index(ctx: AuthContext) -> str:
    return "clients"
