"""``/console/support/``: find an account by email, disable or enable it, reset its authenticators.

The search is a POST, so the email never lands in a URL (and so in access logs or browser history);
the account page is then addressed by its internal id. The rules live in
:mod:`idp.accounts.support`; these views parse the form, call it, and tell the person by email.
"""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import clock
from idp.accounts import roles
from idp.accounts import support
from idp.accounts.models import User
from idp.accounts.service import find_by_email
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.errors import render_error

bp = Blueprint("console_support", __name__, url_prefix="/console/support")

support_only = roles.require_role("support")

REFUSAL_STATUS = {"own_account": 403, "staff_account": 403, "unknown_reason": 400, "already_disabled": 409,
                  "already_active": 409, "no_password": 409}


def reason_text(code: str) -> str:
    return {
        "reported_compromised": _("The person reports the account or an authenticator is compromised"),
        "owner_request": _("The person asked for it"),
        "fraud_suspected": _("Fraud is suspected"),
        "lost_authenticator": _("The person lost their phone or security key"),
        "other": _("Other"),
    }.get(code, code)


def factor_text(factor: str) -> str:
    return {
        "pwd": _("password"),
        "totp": _("authenticator app codes"),
        "recovery": _("recovery codes"),
        "webauthn": _("passkeys and security keys"),
    }.get(factor, factor)


def refusal_text(code: str) -> str:
    return {
        "own_account": _("You cannot change your own account here."),
        "staff_account": _("This is a staff account: only an administrator can change it."),
        "unknown_reason": _("Choose a reason from the list."),
        "already_disabled": _("This account is already disabled."),
        "already_active": _("This account is already active."),
        "no_password": _("This account has no password: removing its passkeys and codes would leave no way to "
                         "sign in. The person must recover the account in person, with an identity officer."),
        "not_confirmed": _("Tick the box to confirm the reset."),
    }.get(code, _("The request could not be completed."))


@bp.route("/", methods=["GET", "POST"])
@support_only
def index(ctx: AuthContext) -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("console/support/index.html", email="", error=None)
    email = request.form.get("email", "").strip()[:320]
    if not email:
        return render_template("console/support/index.html", email="", error=_("Enter an email address.")), 400
    user = find_by_email(get_session(), email)
    if user is None:
        return render_template("console/support/index.html", email=email,
                               error=_("No account with that email.")), 404
    return redirect(url_for("console_support.account", user_id=user.id))


@bp.route("/accounts/<int:user_id>")
@support_only
def account(user_id: int, *, ctx: AuthContext) -> tuple[str, int]:
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        return render_error(404)
    return _account_page(db, ctx, user)


@bp.route("/accounts/<int:user_id>/disable", methods=["POST"])
@support_only
def disable(user_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        return render_error(404)
    now = clock.utc_now()
    try:
        support.disable(db, user, by=ctx.user.id, reason=request.form.get("reason", ""), now=now)
    except support.SupportError as exc:
        return _refused(db, ctx, user, exc.code)
    support.notify_disabled(user, when=now)
    flash(_("The account was disabled and signed out everywhere. The person was told by email."))
    return redirect(url_for("console_support.account", user_id=user.id))


@bp.route("/accounts/<int:user_id>/enable", methods=["POST"])
@support_only
def enable(user_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        return render_error(404)
    try:
        support.enable(db, user, by=ctx.user.id)
    except support.SupportError as exc:
        return _refused(db, ctx, user, exc.code)
    support.notify_enabled(user, when=clock.utc_now())
    flash(_("The account was enabled. The person was told by email."))
    return redirect(url_for("console_support.account", user_id=user.id))


@bp.route("/accounts/<int:user_id>/reset", methods=["POST"])
@support_only
def reset(user_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        return render_error(404)
    if request.form.get("confirm") != "yes":
        return _account_page(db, ctx, user, error=refusal_text("not_confirmed"), status=400)
    now = clock.utc_now()
    try:
        support.reset_authenticators(db, user, by=ctx.user.id, reason=request.form.get("reason", ""),
                                     config=current_app.config, now=now)
    except support.SupportError as exc:
        return _refused(db, ctx, user, exc.code)
    support.notify_reset(user, when=now)
    flash(_("The sign-in methods were reset and the account signed out everywhere. The person was told by email."))
    return redirect(url_for("console_support.account", user_id=user.id))


def _refused(db: Session, ctx: AuthContext, user: User, code: str) -> tuple[str, int]:
    db.rollback()
    return _account_page(db, ctx, user, error=refusal_text(code), status=REFUSAL_STATUS.get(code, 400))


def _account_page(db: Session, ctx: AuthContext, user: User, *, error: str | None = None,
                  status: int = 200) -> tuple[str, int]:
    """The account as support sees it; every showing is audited, a refused action's page included."""
    summary = support.summarise(db, user, config=current_app.config, now=clock.utc_now())
    support.record_view(db, user, by=ctx.user.id)
    return render_template(
        "console/support/account.html", account=summary, own=user.id == ctx.user.id, error=error,
        reason=request.form.get("reason", ""), disable_reasons=[(r, reason_text(r)) for r in support.DISABLE_REASONS],
        reset_reasons=[(r, reason_text(r)) for r in support.RESET_REASONS],
        suspended=[factor_text(f) for f in summary.suspended],
    ), status
