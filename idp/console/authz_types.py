"""``/console/transaction-types``: the authorization-details types e-Services may send, for admins.

RFC 9396 leaves the types to the authorization server; here an admin registers each one with its
JSON Schema and the words the consent page shows (:mod:`idp.rar`). The form has the parts of a
definition file (``idp authz-types add --file``); every problem is listed at the top and beside
its field, the schema is checked as a JSON Schema itself, and every change is audited.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts import roles
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.oidc.discovery import forget_discovery
from idp.rar import service
from idp.rar.definitions import DefinitionError
from idp.rar.definitions import Problem
from idp.rar.definitions import parse_definition
from idp.rar.models import AuthorizationDetailsType

bp = Blueprint("console_authz_types", __name__, url_prefix="/console/transaction-types")

admin_only = roles.require_role("admin")
PARTS = ("type", "schema", "display", "clients")


def _form_of(row: AuthorizationDetailsType | None) -> dict[str, Any]:
    if row is None:
        return {"type": "", "schema": "", "display": "", "clients": "", "active": True}
    return {"type": row.name, "schema": json.dumps(row.json_schema, indent=2, ensure_ascii=False),
            "display": json.dumps(row.display, indent=2, ensure_ascii=False),
            "clients": "\n".join(row.client_ids or []), "active": row.active}


def _definition(form: dict[str, Any]) -> dict[str, Any]:
    """The form as a definition file; a part that is not JSON is reported as such."""
    problems = []
    parsed: dict[str, Any] = {"type": form["type"], "active": form["active"]}
    for part in ("schema", "display"):
        try:
            parsed[part] = json.loads(form[part]) if form[part].strip() else None
        except (ValueError, RecursionError):
            problems.append(Problem(part, _("This is not valid JSON.")))
    lines = [line.strip() for line in form["clients"].splitlines() if line.strip()]
    parsed["clients"] = lines or None
    if problems:
        raise DefinitionError(problems)
    return parsed


def _render(form: dict[str, Any], *, row: AuthorizationDetailsType | None = None,
            problems: list[Problem] | None = None, status: int = 200) -> tuple[str, int]:
    errors: dict[str, str] = {}
    for problem in problems or []:
        target = problem.part if problem.part in PARTS else "type"
        errors[target] = f"{errors[target]} {problem.message}" if target in errors else problem.message
    return render_template("console/authz_types/form.html", form=form, row=row, errors=errors), status


def _save(form: dict[str, Any], row: AuthorizationDetailsType | None, by: int) -> Response | tuple[str, int]:
    db = get_session()
    try:
        definition = parse_definition(_definition(form))
        if row is not None and definition.name != row.name:
            raise DefinitionError([Problem("type", _("The name of a registered type cannot change."))])
        if row is None and service.get_type(db, definition.name) is not None:
            raise DefinitionError([Problem("type", _("A type of that name is already registered."))])
    except DefinitionError as exc:
        return _render(form, row=row, problems=exc.problems, status=400)
    saved, created = service.save_type(db, definition, by=by)
    forget_discovery()
    flash(_("The type %(name)s was registered.", name=saved.name) if created
          else _("The type %(name)s was changed.", name=saved.name))
    return redirect(url_for(".index"))


def _posted() -> dict[str, Any]:
    return {part: request.form.get(part, "")[:30_000] for part in PARTS} | {"active": "active" in request.form}


@bp.route("/")
@admin_only
def index(*, ctx: AuthContext) -> str:
    return render_template("console/authz_types/index.html", types=service.list_types(get_session()))


@bp.route("/new", methods=["GET", "POST"])
@admin_only
def new(*, ctx: AuthContext) -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render(_form_of(None))
    return _save(_posted(), None, ctx.user.id)


@bp.route("/<int:type_id>/edit", methods=["GET", "POST"])
@admin_only
def edit(type_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    row = get_session().get(AuthorizationDetailsType, type_id)
    if row is None:
        abort(404)
    if request.method == "GET":
        return _render(_form_of(row), row=row)
    return _save(_posted() | {"type": row.name}, row, ctx.user.id)
