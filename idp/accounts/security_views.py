"""Blueprint ``account_security``: the Security page's password form and its "sign out" buttons.

The page itself (``authn.security_page``) lists the sessions; these views change things and go
back to it.
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
from flask_babel import ngettext
from werkzeug.wrappers import Response

from idp import clock
from idp import journey
from idp.accounts import messages
from idp.accounts import recovery
from idp.accounts import sessions
from idp.accounts.passwords import PasswordRejected
from idp.accounts.session import AuthContext
from idp.authn import messages as authn_messages
from idp.authn.security import may_manage
from idp.db import get_session

bp = Blueprint("account_security", __name__, url_prefix="/security")


@bp.route("/password", methods=["GET", "POST"])
@journey.signed_in
def password(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    """Change the password (the current one, or AAL2 in the last 15 minutes); or add a first one."""
    db = get_session()
    if not may_manage(db, ctx):  # authenticators change at AAL2 once the account can reach it
        return redirect(url_for("authn.step_up", aal=2, next=url_for("account_security.password")))
    ask_current = ctx.user.password_hash is not None and not recovery.recently_aal2(ctx)
    if request.method == "GET":
        return render_template("account_security/password.html", ctx=ctx, ask_current=ask_current, error=None)
    try:
        changed = recovery.change_password(db, ctx, current=request.form.get("current_password", "")[:1024],
                                           new=request.form.get("new_password", "")[:1024],
                                           ip=request.remote_addr or "", config=current_app.config)
    except PasswordRejected as exc:
        error, status = messages.password_error_message(exc.code), 400
    except recovery.WrongPassword as exc:
        error = (messages.recovery_error_message("wrong_password") if exc.verdict.allowed
                 else authn_messages.wait_message(exc.verdict))
        status = 400 if exc.verdict.allowed else 429
    else:
        messages.notify_password_changed(ctx.user.email, added=changed.added)
        flash(_("Your password was added.") if changed.added else _("Your password was changed."))
        return redirect(url_for("authn.security_page"))
    return render_template("account_security/password.html", ctx=ctx, ask_current=ask_current, error=error), status


@bp.route("/sessions/end", methods=["POST"])
@journey.signed_in
def end_session(*, ctx: AuthContext) -> Response:
    """Sign out one other browser: its next request finds itself signed out."""
    ended = sessions.end_one(get_session(), ctx.user, request.form.get("session", "")[:64], current_sid=ctx.sid,
                             now=clock.utc_now(), config=current_app.config)
    flash(_("That browser was signed out.") if ended else _("That session had already ended."))
    return redirect(url_for("authn.security_page"))


@bp.route("/sessions/end-others", methods=["POST"])
@journey.signed_in
def end_other_sessions(*, ctx: AuthContext) -> Response:
    db = get_session()
    ended = sessions.end_others(db, ctx.user, keep=ctx.sid, now=clock.utc_now(), reason="security_page")
    db.commit()
    flash(ngettext("%(num)d other browser was signed out.", "%(num)d other browsers were signed out.",
                   ended.sessions))
    return redirect(url_for("authn.security_page"))
