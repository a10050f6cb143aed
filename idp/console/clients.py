"""``/console/clients``: e-Services (OIDC clients) and the agencies' registration tokens, for admins.

Every change goes through :mod:`idp.oidc.clients` or :mod:`idp.oidc.registration`, which validate
and write the audit event in the same commit; the views only parse forms and render. A secret or an
initial access token is shown exactly once, on a page marked ``Cache-Control: no-store`` so neither
the browser's history nor a proxy keeps a copy (only its hash is stored).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import case
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp import wording
from idp.accounts import roles
from idp.accounts.session import AuthContext
from idp.assurance.levels import ACR_VALUES
from idp.assurance.levels import ETDA_ACR_VALUES
from idp.console import client_forms
from idp.console.client_forms import ClientForm
from idp.console.client_forms import TokenForm
from idp.db import get_session
from idp.db import utc_now
from idp.oidc import client_check
from idp.oidc import clients as service
from idp.oidc import registration
from idp.oidc.clients import ClientMetadataError
from idp.oidc.models import Client
from idp.oidc.models import InitialAccessToken

bp = Blueprint("console_clients", __name__, url_prefix="/console/clients")

admin_only = roles.require_role("admin")
STATUS_ORDER = case({"pending": 0, "active": 1}, value=Client.status, else_=2)


# -- words for codes ---------------------------------------------------------------------------------


def status_text(status: str) -> str:
    return {"active": _("active"), "pending": _("waiting for approval"),
            "disabled": _("disabled")}.get(status, status)


def acr_text(value: str) -> str:
    """``urn:th:digitalid:ial2:aal2`` → "Verified identity (IAL2); Two-step sign-in (AAL2)" (an
    unknown value as it is): the words citizens read, with the codes staff work with."""
    return wording.acr_words(value, staff=True)


def assurance_text(values: list[str]) -> str:
    """An e-Service's minimum (any one of ``values`` is enough), or that it has none."""
    return f" {_('or')} ".join(acr_text(v) for v in values) if values else _("none set")


def _helpers() -> dict[str, Any]:
    return {"status_text": status_text, "acr_text": acr_text, "reason_text": registration.describe_reason,
            "assurance_text": assurance_text,
            "acr_values": ACR_VALUES, "etda_acr_values": ETDA_ACR_VALUES, "choices": client_forms.Choices()}


def _no_store(html: str, status: int = 200) -> Response:
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _client_or_404(client_id: str) -> Client:
    client = get_session().scalar(select(Client).where(Client.client_id == client_id[:64]))
    if client is None:
        abort(404)
    return client


# -- e-Services ---------------------------------------------------------------------------------------


@bp.route("/")
@admin_only
def index(*, ctx: AuthContext) -> str:
    clients = list(get_session().scalars(select(Client).order_by(STATUS_ORDER, Client.name, Client.id)))
    pending = [c for c in clients if c.status == "pending"]
    return render_template("console/clients/index.html", clients=clients, pending=pending, **_helpers())


def _render_form(form: ClientForm, *, client: Client | None = None, error: str | None = None,
                 status: int = 200) -> tuple[str, int]:
    return render_template("console/clients/form.html", form=form, client=client, error=error,
                           **_helpers()), status


def _metadata_error(exc: ClientMetadataError) -> str:
    return _("The e-Service was not saved: %(reason)s", reason=exc.description)


@bp.route("/new", methods=["GET", "POST"])
@admin_only
def new(*, ctx: AuthContext) -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render_form(ClientForm())
    form = ClientForm.from_form(request.form)
    db = get_session()
    try:
        metadata = service.validate_metadata(form.metadata(), national_id_allowed=form.national_id)
        created = service.store_client(db, metadata, trusted=form.trusted, join_sector=form.join_sector,
                                       by=ctx.user.id)
    except ClientMetadataError as exc:
        return _render_form(form, error=_metadata_error(exc), status=400)
    if created.client_secret:
        return _no_store(render_template("console/clients/secret.html", client=created.client,
                                         secret=created.client_secret, created=True))
    flash(_("The e-Service %(name)s was registered.", name=created.client.name))
    return redirect(url_for(".show", client_id=created.client.client_id))


@bp.route("/<client_id>/edit", methods=["GET", "POST"])
@admin_only
def edit(client_id: str, *, ctx: AuthContext) -> Response | tuple[str, int]:
    client = _client_or_404(client_id)
    if request.method == "GET":
        return _render_form(ClientForm.from_metadata(client.client_metadata, trusted=client.trusted), client=client)
    form = ClientForm.from_form(request.form)
    try:
        secret = service.update_client(get_session(), client, form.metadata(), trusted=form.trusted,
                                       national_id_allowed=form.national_id, join_sector=form.join_sector,
                                       by=ctx.user.id)
    except ClientMetadataError as exc:
        return _render_form(form, client=client, error=_metadata_error(exc), status=400)
    if secret:
        return _no_store(render_template("console/clients/secret.html", client=client, secret=secret))
    flash(_("The e-Service %(name)s was saved.", name=client.name))
    return redirect(url_for(".show", client_id=client.client_id))


def _render_show(client: Client, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    grace_hours = int(current_app.config["CLIENT_SECRET_GRACE_SECONDS"]) // 3600
    return render_template("console/clients/show.html", client=client, error=error, grace_hours=grace_hours,
                           uses_secret=service.uses_secret(client.client_metadata), now=utc_now(),
                           **_helpers()), status


@bp.route("/<client_id>")
@admin_only
def show(client_id: str, *, ctx: AuthContext) -> tuple[str, int]:
    return _render_show(_client_or_404(client_id))


@bp.route("/<client_id>/check")
@admin_only
def check(client_id: str, *, ctx: AuthContext) -> tuple[str, int]:
    """The registration's problems before its first sign-in (:mod:`idp.oidc.client_check`)."""
    client = _client_or_404(client_id)
    findings = client_check.check_registered(client)
    return render_template("console/clients/check.html", client=client, findings=findings,
                           errors=[f for f in findings if f.severity == client_check.Severity.ERROR]), 200


@bp.post("/<client_id>/rotate")
@admin_only
def rotate(client_id: str, *, ctx: AuthContext) -> Response | tuple[str, int]:
    client = _client_or_404(client_id)
    try:
        grace = client_forms.parse_grace_hours(
            request.form.get("grace_hours"), default_seconds=current_app.config["CLIENT_SECRET_GRACE_SECONDS"])
    except ValueError:
        return _render_show(client, error=_("Give the grace period as a whole number of hours, at most 2160."),
                            status=400)
    try:
        secret = service.rotate_secret(get_session(), client, grace_seconds=grace, by=ctx.user.id)
    except ClientMetadataError:
        return _render_show(client, error=_("This e-Service does not use a client secret."), status=400)
    old_until = client.previous_secret_expires_at if grace else None
    return _no_store(render_template("console/clients/secret.html", client=client, secret=secret,
                                     rotated=True, old_until=old_until))


# From → (to, the status the client must have now).
STATUS_ACTIONS = {"disable": ("disabled", ("active", "pending")), "enable": ("active", ("disabled",)),
                  "approve": ("active", ("pending",))}


@bp.post("/<client_id>/<any(disable, enable, approve):action>")
@admin_only
def change_status(client_id: str, action: str, *, ctx: AuthContext) -> Response | tuple[str, int]:
    client = _client_or_404(client_id)
    target, allowed_from = STATUS_ACTIONS[action]
    if client.status not in allowed_from:
        return _render_show(client, status=400, error=_("This e-Service is %(status)s: nothing was changed.",
                                                        status=status_text(client.status)))
    service.set_status(get_session(), client, target, by=ctx.user.id)
    flash({"disable": _("The e-Service %(name)s is disabled: its tokens stopped working.", name=client.name),
           "enable": _("The e-Service %(name)s is enabled again.", name=client.name),
           "approve": _("The e-Service %(name)s is approved and works now.", name=client.name)}[action])
    return redirect(url_for(".show", client_id=client.client_id))


# -- agencies' registration tokens (RFC 7591 initial access tokens) -----------------------------------


def _render_tokens(*, error: str | None = None, status: int = 200, form: TokenForm | None = None) -> tuple[str, int]:
    rows = list(get_session().scalars(select(InitialAccessToken)
                                      .order_by(InitialAccessToken.created_at.desc(), InitialAccessToken.id.desc())))
    form = form or TokenForm(days=str(current_app.config["INITIAL_ACCESS_TOKEN_DAYS"]))
    return render_template("console/clients/tokens.html", tokens=rows, error=error, now=utc_now(), form=form,
                           **_helpers()), status


@bp.route("/tokens", methods=["GET", "POST"])
@admin_only
def tokens(*, ctx: AuthContext) -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render_tokens()
    form = TokenForm.from_form(request.form)
    try:
        policy = form.policy(default_days=current_app.config["INITIAL_ACCESS_TOKEN_DAYS"])
    except ValueError:
        return _render_tokens(form=form, status=400, error=_(
            "Give the agency's name, IAL and AAL from 1 to 3, and a lifetime from 1 to 366 days."))
    issued = registration.issue_initial_token(get_session(), agency=policy.agency,
                                              allowed_scopes=policy.allowed_scopes, max_ial=policy.max_ial,
                                              max_aal=policy.max_aal, days=policy.days, by=ctx.user.id)
    return _no_store(render_template("console/clients/token_issued.html", row=issued.row, token=issued.token))


@bp.post("/tokens/<int:token_id>/revoke")
@admin_only
def revoke_token(token_id: int, *, ctx: AuthContext) -> Response:
    db = get_session()
    row = db.get(InitialAccessToken, token_id)
    if row is None:
        abort(404)
    if registration.revoke_initial_token(db, row, by=ctx.user.id):
        flash(_("The registration token for %(agency)s is revoked.", agency=row.agency))
    return redirect(url_for(".tokens"))
