"""Blueprint ``recovery``: "Forgot your password?", the emailed link, the second factor, the new password.

The steps after the link are carried by the browser that opened it (the reset's id in the signed
session cookie) and judged on the server (``idp.accounts.recovery``); the link itself is spent on a
button press, not on the GET, so a mail scanner that follows links cannot use it up.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie
from flask import url_for
from werkzeug.wrappers import Response

from idp import journey
from idp.accounts import messages
from idp.accounts import recovery
from idp.accounts import session as auth_session
from idp.accounts.passwords import PasswordRejected
from idp.accounts.service import InvalidEmail
from idp.authn import messages as authn_messages
from idp.authn import webauthn
from idp.db import get_session
from idp.http import safe_next

bp = Blueprint("recovery", __name__, url_prefix="/password")

PENDING = "password_reset"  # cookie: the id of the reset this browser opened
NEXT = "password_reset_next"  # cookie: where the person was going when they asked
DONE = "password_reset_done"  # cookie: what the done page tells
WEBAUTHN_STATE = "password_reset_webauthn"


@bp.context_processor
def _waiting() -> dict[str, Any]:
    """Each page of a reset asked for on the way to an e-Service names it (``_journey.html`` reads
    ``next``), in the browser that asked."""
    return {"next": cookie.get(NEXT)}


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Response | str | tuple[str, int]:
    next_url = safe_next(request.values.get("next"), url_for("accounts.home"))
    email = request.values.get("email", "")[:320]
    if request.method == "GET":
        return render_template("recovery/forgot.html", email=email, next=next_url, error=None)
    db = get_session()
    try:
        asked = recovery.request_reset(db, email=email, ip=request.remote_addr or "", config=current_app.config)
    except InvalidEmail:
        return render_template("recovery/forgot.html", email=email, next=next_url,
                               error=messages.account_error_message("invalid_email")), 400
    if not asked.verdict.allowed:
        return render_template("recovery/forgot.html", email=email, next=next_url,
                               error=authn_messages.wait_message(asked.verdict)), 429
    if asked.user is not None and asked.token is not None:
        link = current_app.config["ISSUER"] + url_for("recovery.open_link", token=asked.token)
        messages.send_reset_link(asked.user.email, link)
    cookie[NEXT] = next_url
    return redirect(url_for("recovery.sent"))


@bp.route("/forgot/sent")
def sent() -> str:
    """The same page whether or not the address has an account."""
    return render_template("recovery/sent.html")


@bp.route("/reset/<token>", methods=["GET", "POST"])
def open_link(token: str) -> Response | str | tuple[str, int]:
    db = get_session()
    if request.method == "GET":
        if not recovery.link_usable(db, token[:100]):
            return render_template("recovery/link.html", usable=False), 400
        return render_template("recovery/link.html", usable=True, token=token)
    try:
        reset = recovery.redeem_link(db, token[:100])
    except recovery.LinkNotUsable:
        return render_template("recovery/link.html", usable=False), 400
    cookie[PENDING] = reset.id
    cookie.pop(WEBAUTHN_STATE, None)
    return redirect(url_for("recovery.reset"))


def _pending() -> recovery.Pending | None:
    return recovery.pending(get_session(), cookie.get(PENDING))


def _start_again() -> Response:
    flash(messages.recovery_error_message("reset_not_pending"))
    return redirect(url_for("recovery.forgot"))


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Response | str | tuple[str, int]:
    """The second factor when one is held, then the new password."""
    state = _pending()
    if state is None:
        return _start_again()
    if state.needs_factor:
        return _factor_step(state)
    if request.method == "GET" or request.form.get("step") != "password":
        return render_template("recovery/new_password.html", state=state, error=None)
    db = get_session()
    try:
        done = recovery.complete_reset(db, state, password=request.form.get("password", "")[:1024],
                                       config=current_app.config)
    except PasswordRejected as exc:
        return render_template("recovery/new_password.html", state=state,
                               error=messages.password_error_message(exc.code)), 400
    except recovery.LinkNotUsable:
        return _start_again()
    messages.notify_password_reset(done.user.email, factors_removed=done.factors_removed,
                                   ial_lowered=done.ial_before is not None)
    next_url = cookie.pop(NEXT, None)
    auth_session.sign_in(db, done.user, recovery.password_factor())  # AAL1, whatever was shown before
    journey.mark_fresh()  # the sign-in the e-Service's request (prompt=login) was waiting for
    cookie[DONE] = {"next": safe_next(next_url, url_for("accounts.home")), "removed": done.factors_removed,
                    "lowered": done.ial_before is not None}
    return redirect(url_for("recovery.done"))


def _factor_step(state: recovery.Pending) -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("recovery/factor.html", state=state, error=None)
    method = request.form.get("method", "")
    code = request.form.get("recovery_code" if method == "recovery" else "code", "")[:64]
    attempt = recovery.verify_code(get_session(), state, method=method, code=code, ip=request.remote_addr or "",
                                   config=current_app.config)
    if attempt is None:
        error, status = messages.recovery_error_message("choose_factor"), 400
    elif attempt.factor is None:
        error, status = authn_messages.refusal(method, attempt.verdict), 400 if attempt.verdict.allowed else 429
    else:
        return redirect(url_for("recovery.reset"))
    return render_template("recovery/factor.html", state=state, error=error), status


@bp.route("/reset/lost", methods=["GET", "POST"])
def lost() -> Response | str:
    """No second factor left: what follows (factors removed, the verified identity with them), then yes."""
    state = _pending()
    if state is None:
        return _start_again()
    if not state.needs_factor:
        return redirect(url_for("recovery.reset"))
    if request.method == "POST" and request.form.get("confirm") == "yes":
        recovery.declare_lost(get_session(), state)
        return redirect(url_for("recovery.reset"))
    return render_template("recovery/lost.html", state=state)


@bp.route("/reset/done")
def done() -> Response | str:
    shown = cookie.pop(DONE, None)
    if not isinstance(shown, dict):
        return redirect(url_for("authn.security_page"))
    return render_template("recovery/done.html", shown=shown, next=shown.get("next"))


# -- a passkey or security key as the second factor (JSON; CSRF token in the X-CSRFToken header) --------


def _json_error(code: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=code, message=authn_messages.webauthn_error(code)), status


@bp.route("/reset/passkey/options", methods=["POST"])
def passkey_options() -> Response | tuple[Response, int]:
    state = _pending()
    if state is None or not state.needs_factor or not state.enrolled.webauthn:
        return _json_error("expired")
    try:
        options, ceremony = webauthn.authentication_options(get_session(), state.user, config=current_app.config,
                                                            user_verification="preferred")
    except webauthn.WebAuthnError as exc:
        return _json_error(exc.code)
    cookie[WEBAUTHN_STATE] = {**ceremony, "reset": state.reset.id}
    return Response(options, mimetype="application/json")


@bp.route("/reset/passkey", methods=["POST"])
def passkey() -> Response | tuple[Response, int]:
    db = get_session()
    state = _pending()
    ceremony = cookie.pop(WEBAUTHN_STATE, None)
    body: Any = request.get_json(silent=True)
    if state is None or not isinstance(ceremony, dict) or ceremony.get("reset") != state.reset.id \
            or not isinstance(body, dict) or "credential" not in body:
        return _json_error("expired")
    try:
        _cred, factor = webauthn.verify_authentication(db, ceremony, body["credential"], config=current_app.config)
    except webauthn.WebAuthnError as exc:
        if exc.code == "cloned":
            authn_messages.notify_clone(db, exc.user_id)
        return _json_error(exc.code)
    recovery.record_factor(db, state, factor)
    return jsonify(redirect=url_for("recovery.reset"))
