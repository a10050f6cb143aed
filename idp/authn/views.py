"""Blueprint ``authn``: the step-up page, WebAuthn ceremonies (JSON) and the Security page."""

from __future__ import annotations

from decimal import Decimal
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
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from idp import clock
from idp import journey
from idp import levels
from idp.accounts import session as auth_session
from idp.accounts.messages import place_label
from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.assurance.levels import AAL_LEVELS
from idp.assurance.levels import level_text
from idp.assurance.levels import parse_level
from idp.assurance.policy import Factor
from idp.authn import messages
from idp.authn import qr
from idp.authn import recovery
from idp.authn import security
from idp.authn import steps
from idp.authn import totp
from idp.authn import webauthn
from idp.authn.inventory import enrolled
from idp.authn.service import Attempt
from idp.authn.service import verify_factor
from idp.db import get_session
from idp.http import safe_next

bp = Blueprint("authn", __name__)

STATE_KEY = "webauthn_state"


def _target() -> int:
    raw = request.values.get("aal", "2")
    return int(raw) if raw in ("1", "2", "3") else 2


def _etda_target() -> Decimal | None:
    """The ETDA AAL the request named (``etda_aal=2.2``), if any: the page is done only at it."""
    return parse_level(request.values.get("etda_aal"), AAL_LEVELS)


@bp.route("/signin/more", methods=["GET", "POST"])
@journey.signed_in
def step_up(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    """Ask only for the factor that is missing for the level the request needs."""
    db = get_session()
    next_url = journey.next_url()
    target = _target()
    etda_target = _etda_target()
    # ``with=webauthn``: the level must include a passkey or security key (the admin console's rule).
    key_needed = request.values.get("with") == policy.WEBAUTHN
    if _done(ctx, target, etda_target) and (not key_needed or ctx.used_webauthn(target)):
        return journey.resume(next_url)
    have = enrolled(db, ctx.user)
    error = None
    status = 200
    if request.method == "POST":
        if request.form.get("cancel"):
            return redirect(journey.declined(next_url))
        method = request.form.get("method", "")
        attempt = _check_factor(ctx, method)
        if attempt is not None and attempt.factor is not None:
            new = auth_session.add_factor(db, ctx, attempt.factor)
            if _done(new, target, etda_target) and not key_needed:
                return journey.resume(next_url)
            ctx = new
        elif attempt is not None:
            error, status = messages.refusal(method, attempt.verdict), 400 if attempt.verdict.allowed else 429
        else:
            error, status = _("Choose a way to confirm it is you."), 400
    rules = levels.policy()
    options = steps.options_for(ctx, target, have, etda_target=etda_target, rules=rules)
    if key_needed:
        options = [policy.WEBAUTHN] if have.webauthn else []
    # Nothing the person has can give the level an e-Service needs: offer to add a passkey or an app
    # here, on the way (staff pages keep asking for an authenticator added on the Security page).
    enrol = (not options and not key_needed and journey.in_journey()
             and steps.may_enrol(target, have, etda_target=etda_target, rules=rules))
    return render_template("authn/step_up.html", ctx=ctx, target=target, options=options, next=next_url,
                           error=error, uv=steps.webauthn_uv_needed(ctx, target), key_needed=key_needed,
                           enrol=enrol, etda_target=level_text(etda_target) if etda_target else None), status


def _done(ctx: AuthContext, target: int, etda_target: Decimal | None) -> bool:
    if ctx.aal() < target:
        return False
    if etda_target is None:
        return True
    reached = levels.session_aal(ctx)
    return reached is not None and reached >= etda_target


def _check_factor(ctx: AuthContext, method: str) -> Attempt | None:
    fields = {policy.TOTP: "code", policy.RECOVERY: "recovery_code", policy.PASSWORD: "password"}
    if method not in fields:
        return None
    return verify_factor(get_session(), method, presented=request.form.get(fields[method], ""), user=ctx.user,
                         ip=request.remote_addr or "", config=current_app.config)


# -- WebAuthn ceremonies (JSON; CSRF token in the X-CSRFToken header) --------------------------------


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _json_error(code: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=code, message=messages.webauthn_error(code)), status


@bp.route("/webauthn/authenticate/options", methods=["POST"])
def authenticate_options() -> Response | tuple[Response, int]:
    """Options for a username-less passkey sign-in, or (``step_up``) for this person's keys."""
    db = get_session()
    body = _json_body()
    ctx = auth_session.current(db)
    try:
        if body.get("step_up") and ctx is not None:
            target = int(body.get("aal", 2)) if str(body.get("aal")) in ("2", "3") else 2
            uv = "required" if steps.webauthn_uv_needed(ctx, target) else "preferred"
            options, state = webauthn.authentication_options(db, ctx.user, config=current_app.config,
                                                             user_verification=uv)
            state["step_up"] = target
        else:
            options, state = webauthn.authentication_options(db, None, config=current_app.config)
    except webauthn.WebAuthnError as exc:
        return _json_error(exc.code)
    cookie[STATE_KEY] = state
    return Response(options, mimetype="application/json")


@bp.route("/webauthn/authenticate", methods=["POST"])
def authenticate() -> Response | tuple[Response, int]:
    db = get_session()
    body = _json_body()
    state = cookie.pop(STATE_KEY, None)
    if not isinstance(state, dict) or "challenge" not in state or "credential" not in body:
        return _json_error("expired")
    next_url = safe_next(body.get("next") if isinstance(body.get("next"), str) else None, url_for("accounts.home"))
    attempt = verify_factor(db, policy.WEBAUTHN, presented=body["credential"], webauthn_state=state,
                            ip=request.remote_addr or "", config=current_app.config)
    if attempt.factor is None or attempt.user is None:
        if attempt.error == "cloned":
            messages.notify_clone(db, attempt.user_id)
        return _json_error(attempt.error or "invalid")
    ctx = auth_session.current(db)
    if state.get("step_up") and ctx is not None and ctx.user.id == attempt.user.id:
        auth_session.add_factor(db, ctx, attempt.factor)
    else:
        auth_session.sign_in(db, attempt.user, attempt.factor)
    return jsonify(redirect=journey.resume(next_url).location)


@bp.route("/webauthn/register/options", methods=["POST"])
def register_options() -> Response | tuple[Response, int]:
    db = get_session()
    ctx = auth_session.current(db)
    if ctx is None or not security.may_manage(db, ctx):
        return _json_error("step_up_required", 403)
    body = _json_body()
    kind = str(body.get("kind")) if body.get("kind") in webauthn.KINDS else "passkey"
    options, state = webauthn.registration_options(db, ctx.user, kind=kind, config=current_app.config)
    cookie[STATE_KEY] = state
    return Response(options, mimetype="application/json")


@bp.route("/webauthn/register", methods=["POST"])
def register() -> Response | tuple[Response, int]:
    db = get_session()
    ctx = auth_session.current(db)
    state = cookie.pop(STATE_KEY, None)
    body = _json_body()
    if ctx is None or not security.may_manage(db, ctx):
        return _json_error("step_up_required", 403)
    if not isinstance(state, dict) or "challenge" not in state or "credential" not in body:
        return _json_error("expired")
    name = security.clean_name(body.get("name"), default=_("Passkey") if state.get("kind") == "passkey"
                               else _("Security key"))
    try:
        cred = webauthn.verify_registration(db, ctx.user, state, body["credential"], name=name,
                                            config=current_app.config)
    except webauthn.WebAuthnError as exc:
        return _json_error(exc.code)
    messages.notify_added(ctx.user, cred.name)
    next_url = body.get("next") if isinstance(body.get("next"), str) else None
    if journey.is_authorization(next_url):
        # On the way to an e-Service: the ceremony proved the key (and, for a passkey, the person).
        uv = cred.user_verifying
        factor = Factor(policy.WEBAUTHN, clock.timestamp(), uv=uv, hw=uv and cred.hardware_bound)
        auth_session.add_factor(db, ctx, factor)
        journey.mark_fresh()
        return jsonify(redirect=url_for("authn.recovery_codes", next=next_url))
    flash(_("Added “%(name)s”.", name=cred.name))
    return jsonify(redirect=url_for("authn.security_page"))


# -- The Security page ------------------------------------------------------------------------------


@bp.route("/security")
@journey.signed_in
def security_page(*, ctx: AuthContext) -> Response | str:
    db = get_session()
    return render_template("authn/security.html", ctx=ctx, view=security.overview(db, ctx, config=current_app.config),
                           may_manage=security.may_manage(db, ctx), describe_amr=messages.describe_amr,
                           place_label=place_label)


@bp.route("/security/totp", methods=["GET", "POST"])
@journey.signed_in(strong=True)
def enrol_totp(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    db = get_session()
    secret = cookie.get("totp_enrol")
    if not isinstance(secret, str) or (request.method == "GET" and request.args.get("new")):
        secret = cookie["totp_enrol"] = totp.new_secret()
    error = None
    name = security.clean_name(request.form.get("name"), default=_("Authenticator app"))
    if request.method == "POST":
        try:
            cred = totp.enrol(db, ctx.user, secret, request.form.get("code", "")[:32], name=name,
                              config=current_app.config)
        except totp.TotpError:
            error = _("That code is not correct. Enter the code your app shows now.")
        else:
            cookie.pop("totp_enrol", None)
            messages.notify_added(ctx.user, cred.name)
            if journey.in_journey():
                # On the way to an e-Service: the code just checked proves the app, so it counts now.
                auth_session.add_factor(db, ctx, Factor(policy.TOTP, clock.timestamp()))
                journey.mark_fresh()
                return redirect(url_for("authn.recovery_codes", next=journey.next_url()))
            flash(_("Added “%(name)s”.", name=cred.name))
            return redirect(url_for("authn.security_page"))
    uri = totp.provisioning_uri(secret, account=ctx.user.email, issuer=current_app.config["SERVICE_NAME"])
    drawing = Markup(qr.svg(uri))  # noqa: S704 (segno draws modules; nothing of ours is text in it)
    return render_template("authn/totp_enrol.html", qr=drawing, secret=security.group_secret(secret),
                           name=name, error=error, **_enrolment_links()), 400 if error else 200


def _enrolment_links() -> dict[str, str | None]:
    """Where an enrolment page goes back to: the step-up page on the way to an e-Service, else Security."""
    if journey.in_journey():
        return {"next": journey.next_url(), "cancel": url_for("authn.step_up", aal=policy.ENROLLABLE_AAL,
                                                                 next=journey.next_url())}
    return {"next": None, "cancel": url_for("authn.security_page")}


@bp.route("/security/recovery-codes", methods=["GET", "POST"])
@journey.signed_in(strong=True)
def recovery_codes(*, ctx: AuthContext) -> Response | str:
    """Ten new recovery codes, shown once (POST). Offered (GET) right after a second factor was added
    on the way to an e-Service, which the page then continues to."""
    db = get_session()
    links = _enrolment_links()
    if request.method == "GET":
        return render_template("authn/recovery_codes_offer.html", left=recovery.remaining(db, ctx.user.id),
                               **links)
    codes = recovery.generate(db, ctx.user)
    messages.notify_recovery_codes(ctx.user)
    return render_template("authn/recovery_codes.html", codes=codes, next=links["next"],
                           done=links["next"] or links["cancel"])


@bp.route("/security/passkeys/new")
@journey.signed_in(strong=True)
def new_passkey(*, ctx: AuthContext) -> Response | str:
    kind = request.args.get("kind") if request.args.get("kind") in webauthn.KINDS else "passkey"
    return render_template("authn/webauthn_enrol.html", kind=kind, **_enrolment_links())


@bp.route("/security/rename", methods=["POST"])
@journey.signed_in(strong=True)
def rename(*, ctx: AuthContext) -> Response:
    security.rename(get_session(), ctx.user, request.form.get("kind", ""), request.form.get("id", ""),
                    security.clean_name(request.form.get("name"), default=""))
    return redirect(url_for("authn.security_page"))


@bp.route("/security/remove", methods=["POST"])
@journey.signed_in(strong=True)
def remove(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    db = get_session()
    kind, ident = request.form.get("kind", ""), request.form.get("id", "")
    check = security.removal(db, ctx.user, kind, ident)
    if check.refused:
        flash(check.reason)
        return redirect(url_for("authn.security_page"))
    if check.needs_confirmation and request.form.get("confirm") != "yes":
        return render_template("authn/remove_confirm.html", kind=kind, id=ident, name=check.name, reason=check.reason)
    security.remove(db, ctx.user, kind, ident)
    messages.notify_removed(ctx.user, check.name)
    flash(_("Removed “%(name)s”.", name=check.name))
    return redirect(url_for("authn.security_page"))
