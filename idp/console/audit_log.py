"""Placeholder: being built."""

from __future__ import annotations

from flask import Blueprint

from idp.accounts import roles
from idp.accounts.session import AuthContext

bp = Blueprint("console_audit", __name__, url_prefix="/console/audit")


@bp.route("/")
@roles.require_role("auditor")
def index(ctx: AuthContext) -> str:
    return "audit_log"
