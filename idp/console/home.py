"""``/console/``: the sections this staff member's roles open, and nothing else."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import g
from flask import render_template
from flask_babel import gettext as _

from idp.accounts import roles
from idp.accounts.session import AuthContext

bp = Blueprint("console", __name__, url_prefix="/console")

# (endpoint, roles that open it); the template gives each its words.
SECTIONS = (
    ("console_clients.index", ("admin",)),
    ("console_agencies.index", ("admin",)),
    ("console_staff.index", ("admin",)),
    ("console_authz_types.index", ("admin",)),
    ("console_dashboard.index", ("admin", "auditor")),
    ("console_audit.index", ("auditor",)),
    ("console_support.index", ("support",)),
    ("officer.queue", ("proofing_officer",)),
)


def sections_for(held: set[str]) -> list[str]:
    return [endpoint for endpoint, allowed in SECTIONS if held & set(allowed)]


def section_name(endpoint: str) -> str:
    names = {
        "console_clients.index": _("e-Services"),
        "console_agencies.index": _("Agency APIs"),
        "console_staff.index": _("Staff roles"),
        "console_authz_types.index": _("Transaction types"),
        "console_dashboard.index": _("Dashboard"),
        "console_audit.index": _("Audit log"),
        "console_support.index": _("Account support"),
        "officer.queue": _("Review queue"),
    }
    return names.get(endpoint, endpoint)


def role_name(role: str) -> str:
    names = {"admin": _("administrator"), "proofing_officer": _("proofing officer"),
             "auditor": _("auditor"), "support": _("support")}
    return names.get(role, role)


@bp.app_context_processor
def _console_helpers() -> dict[str, Any]:
    def console_sections() -> list[str]:
        held = g.get("staff_roles")  # set by the role guard of the page being rendered
        return sections_for(held) if held else []

    return {"console_sections": console_sections, "console_section_name": section_name}


@bp.app_template_filter("role_name")
def _role_name_filter(role: str) -> str:
    return role_name(role)


@bp.route("/")
@roles.require_role(*roles.ROLES)
def index(ctx: AuthContext) -> str:
    held: set[str] = g.staff_roles
    return render_template("console/home.html", sections=sections_for(held), held=sorted(held))
