"""``/console/agencies``: agencies' APIs (resource servers), the scopes an agency's back-end may get
for itself (``client_credentials``) and the allowed token exchanges between agencies, for admins.

Every change goes through :mod:`idp.oidc.resource_servers`, which validates and writes the audit
event (with the admin as actor) in the same commit; the views only read forms and render.
"""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp.accounts import roles
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.oidc import resource_servers as service
from idp.oidc.agency_models import ExchangePermission
from idp.oidc.agency_models import MachineAccess
from idp.oidc.agency_models import ResourceServer
from idp.oidc.models import Client
from idp.oidc.resource_servers import RegistryError

bp = Blueprint("console_agencies", __name__, url_prefix="/console/agencies")

admin_only = roles.require_role("admin")
FIELD_MAX = 2048


def _text(name: str) -> str:
    value = request.form.get(name, "")
    return value.strip()[:FIELD_MAX] if isinstance(value, str) else ""


def _confidential_clients() -> list[Client]:
    clients = get_session().scalars(select(Client).where(Client.status == "active").order_by(Client.name, Client.id))
    return [c for c in clients if not c.is_public]


def _client(value: str) -> Client | None:
    return get_session().scalar(select(Client).where(Client.client_id == value[:64])) if value else None


def _render(*, error: str | None = None, status: int = 200, form: dict[str, str] | None = None) -> tuple[str, int]:
    db = get_session()
    machine = db.execute(select(MachineAccess, Client).join(Client, Client.id == MachineAccess.client_id)
                         .order_by(Client.name)).all()
    servers = service.list_servers(db)
    # (value, text) pairs for the form's selects; only confidential clients can hold credentials.
    client_choices = [(c.client_id, f"{c.name} ({c.client_id})") for c in _confidential_clients()]
    api_choices = [(str(s.id), f"{s.name} ({s.identifier})") for s in servers]
    return render_template("console/agencies/index.html", servers=servers,
                           machine=[(row, client) for row, client in machine if row.scopes],
                           exchanges=service.list_exchanges(db), client_choices=client_choices,
                           api_choices=api_choices, error=error, form=form or {}), status


@bp.route("/")
@admin_only
def index(*, ctx: AuthContext) -> tuple[str, int]:
    return _render()


@bp.post("/apis")
@admin_only
def add_api(*, ctx: AuthContext) -> Response | tuple[str, int]:
    form = {name: _text(name) for name in ("identifier", "api_name", "api_name_th", "api_scopes", "api_client")}
    client = _client(form["api_client"])
    if client is None:
        return _render(error=_("Choose the client the API uses to call introspection."), status=400, form=form)
    try:
        server = service.register(get_session(), identifier=form["identifier"], name=form["api_name"],
                                  name_th=form["api_name_th"], scopes=form["api_scopes"].split(), client=client,
                                  by=ctx.user.id)
    except RegistryError as exc:
        return _render(error=_("The API was not registered: %(reason)s", reason=str(exc)), status=400, form=form)
    flash(_("The API %(name)s was registered.", name=server.name))
    return redirect(url_for(".index"))


@bp.post("/apis/<int:server_id>/remove")
@admin_only
def remove_api(server_id: int, *, ctx: AuthContext) -> Response:
    db = get_session()
    server = db.get(ResourceServer, server_id)
    if server is None:
        abort(404)
    name = server.name
    service.remove(db, server, by=ctx.user.id)
    flash(_("The API %(name)s was removed: its tokens stopped working.", name=name))
    return redirect(url_for(".index"))


@bp.post("/machine")
@admin_only
def machine_scopes(*, ctx: AuthContext) -> Response | tuple[str, int]:
    form = {name: _text(name) for name in ("machine_client", "machine_scopes")}
    client = _client(form["machine_client"])
    if client is None:
        return _render(error=_("Choose the agency's client."), status=400, form=form)
    try:
        scopes = service.set_machine_scopes(get_session(), client, form["machine_scopes"].split(), by=ctx.user.id)
    except RegistryError as exc:
        return _render(error=_("Nothing was changed: %(reason)s", reason=str(exc)), status=400, form=form)
    if scopes:
        flash(_("%(name)s may now get tokens for itself with: %(scopes)s", name=client.name, scopes=" ".join(scopes)))
    else:
        flash(_("%(name)s may no longer get tokens for itself.", name=client.name))
    return redirect(url_for(".index"))


@bp.post("/exchanges")
@admin_only
def allow_exchange(*, ctx: AuthContext) -> Response | tuple[str, int]:
    form = {name: _text(name) for name in ("exchange_client", "exchange_api")}
    db = get_session()
    client = _client(form["exchange_client"])
    server = db.get(ResourceServer, int(form["exchange_api"])) if form["exchange_api"].isdigit() else None
    if client is None or server is None:
        return _render(error=_("Choose the agency's client and the API."), status=400, form=form)
    try:
        service.allow_exchange(db, client, server, by=ctx.user.id)
    except RegistryError as exc:
        return _render(error=_("Nothing was changed: %(reason)s", reason=str(exc)), status=400, form=form)
    flash(_("%(name)s may now exchange citizens' tokens for %(api)s.", name=client.name, api=server.name))
    return redirect(url_for(".index"))


@bp.post("/exchanges/<int:permission_id>/withdraw")
@admin_only
def withdraw_exchange(permission_id: int, *, ctx: AuthContext) -> Response:
    db = get_session()
    permission = db.get(ExchangePermission, permission_id)
    if permission is None:
        abort(404)
    service.disallow_exchange(db, permission, by=ctx.user.id)
    flash(_("The exchange was withdrawn: the tokens it gave stopped working."))
    return redirect(url_for(".index"))
