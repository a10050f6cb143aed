"""Blueprint ``accounts``: sign-in, sign-up, email verification, sign-out, language, home."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from werkzeug.wrappers import Response

from idp import audit
from idp import journey
from idp.accounts import email_codes
from idp.accounts import service
from idp.accounts import session as auth_session
from idp.accounts.messages import account_error_message
from idp.accounts.messages import email_code_message
from idp.accounts.messages import password_error_message
from idp.accounts.models import User
from idp.accounts.passwords import PasswordRejected
from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.assurance.policy import Factor
from idp.authn import throttle
from idp.authn.messages import wait_message
from idp.authn.service import verify_factor
from idp.db import get_session
from idp.mail import send_mail
from idp.oidc import consent
from idp.oidc import resource_servers

bp = Blueprint("accounts", __name__)

VERIFY_MAX_AGE = 3 * 24 * 3600
SIGNUP_KEY = "signup"  # the browser's handle on its sign-up, until the email address is confirmed


def _verifier() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="idp-verify-email")


@bp.route("/")
def home() -> str:
    ctx = auth_session.current(get_session())
    return render_template("accounts/home.html", ctx=ctx)


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Response | str | tuple[str, int]:
    next_url = journey.next_url()
    email = request.form.get("email", request.args.get("login_hint", ""))[:320]
    if request.method == "GET":
        return render_template("accounts/signin.html", email=email, next=next_url, error=None)
    db = get_session()
    attempt = verify_factor(db, policy.PASSWORD, presented=request.form.get("password", ""), email=email,
                            ip=request.remote_addr or "", config=current_app.config)
    if attempt.factor is not None and attempt.user is not None:
        auth_session.sign_in(db, attempt.user, attempt.factor)
        return journey.resume(next_url)
    if attempt.blocked:
        return render_template("accounts/signin.html", email=email, next=next_url,
                               error=wait_message(attempt.verdict)), 429
    error = _("The email or password is not correct.")
    return render_template("accounts/signin.html", email=email, next=next_url, error=error), 200


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response | str | tuple[str, int]:
    """Sign-up: the same answer whether or not the email has an account (no enumeration)."""
    next_url = journey.next_url()
    form = {k: request.form.get(k, "")[:1024] for k in ("email", "name", "password")}
    if request.method == "GET":
        return render_template("accounts/signup.html", form=form, next=next_url, error=None)
    db = get_session()
    verdict = throttle.reserve(db, count=throttle.signup_keys(request.remote_addr or "", config=current_app.config),
                               config=current_app.config)
    if not verdict.allowed:
        audit.record(db, audit.Event.SIGNUP_REFUSED, reason="throttled")
        return render_template("accounts/signup.html", form=form, next=next_url, error=wait_message(verdict)), 429
    try:
        outcome = service.sign_up(db, email=form["email"], password=form["password"], name=form["name"])
    except PasswordRejected as exc:
        return render_template("accounts/signup.html", form=form, next=next_url,
                               error=password_error_message(exc.code)), 400
    except service.AccountError as exc:
        return render_template("accounts/signup.html", form=form, next=next_url,
                               error=account_error_message(exc.code)), 400
    if outcome.created is not None:
        issued = email_codes.issue(db, user=outcome.created, next_url=next_url, config=current_app.config)
        _send_verification(outcome.created, issued.code or "")
    else:
        assert outcome.existing is not None
        audit.record(db, audit.Event.SIGNUP_EXISTING_ACCOUNT, user_id=outcome.existing.id)
        _send_signup_notice(outcome.existing.email)
        issued = email_codes.issue(db, user=None, next_url=next_url, config=current_app.config)
    cookie[SIGNUP_KEY] = issued.handle
    return redirect(url_for("accounts.signup_code", next=next_url))


@bp.route("/signup/code", methods=["GET", "POST"])
def signup_code() -> Response | str | tuple[str, int]:
    """The six-digit code from the email, in the browser that signed up: then the person is signed in
    and the journey goes on (an existing address's owner was sent a notice, and no code works)."""
    next_url = journey.next_url()
    if request.method == "GET":
        return render_template("accounts/signup_code.html", next=next_url, error=None)
    db = get_session()
    result = email_codes.redeem(db, cookie.get(SIGNUP_KEY), request.form.get("code", "")[:32],
                                ip=request.remote_addr or "", config=current_app.config)
    if result.user is None:
        status = 429 if result.reason == "throttled" else 400
        return render_template("accounts/signup_code.html", next=next_url,
                               error=email_code_message(result.reason, result.attempts_left, result.verdict)), status
    _sign_in_signed_up(result)
    return journey.resume(next_url)


@bp.route("/signup/code/new", methods=["POST"])
def signup_new_code() -> Response | tuple[str, int]:
    """Another code for the sign-up in this browser (at most three), counted like a sign-up."""
    db = get_session()
    next_url = journey.next_url()
    verdict = throttle.reserve(db, count=throttle.signup_keys(request.remote_addr or "", config=current_app.config),
                               config=current_app.config)
    issued = email_codes.resend(db, cookie.get(SIGNUP_KEY), config=current_app.config) if verdict.allowed else None
    if not verdict.allowed:
        return render_template("accounts/signup_code.html", next=next_url, error=wait_message(verdict)), 429
    if issued is None:
        return render_template("accounts/signup_code.html", next=next_url,
                               error=email_code_message("no_more_codes")), 400
    if issued.user is not None and issued.code is not None:
        _send_verification(issued.user, issued.code)
    flash(_("We have sent a new code. Earlier codes no longer work."))
    return redirect(url_for("accounts.signup_code", next=next_url))


def _sign_in_signed_up(result: email_codes.Redeemed) -> None:
    """The address is confirmed in the browser that signed up: sign in with the password chosen there."""
    assert result.user is not None
    cookie.pop(SIGNUP_KEY, None)
    auth_session.sign_in(get_session(), result.user, Factor(policy.PASSWORD, result.signed_up_at))


def _send_verification(user: User, code: str) -> None:
    token = _verifier().dumps({"uid": user.id, "email": user.email})
    link = current_app.config["ISSUER"] + url_for("accounts.verify_email", token=token)
    send_mail(user.email, _("Confirm your email address"),
              _("Your code is %(code)s\n\nEnter it on the page where you are creating your account. "
                "It works for 15 minutes.\n\nOr open this link to confirm your email address:\n\n%(link)s"
                "\n\nThe link works for 3 days. If you did not create an account, ignore this email.",
                code=code, link=link))


def _send_signup_notice(email: str) -> None:
    """To the owner of an address someone tried to sign up with: what happened, and how to sign in."""
    link = current_app.config["ISSUER"] + url_for("accounts.signin")
    send_mail(email, _("Someone tried to create an account with your email address"),
              _("Someone tried to create a new digital ID account with this email address, which already "
                "has an account. If it was you, sign in here:\n\n%(link)s\n\nIf it was not you, you can "
                "ignore this message: nothing has changed in your account.", link=link))


@bp.route("/verify-email/<token>")
def verify_email(token: str) -> Response | tuple[str, int] | str:
    """The link in the email confirms the address anywhere; in the browser that signed up (within
    the code's 15 minutes) it also signs the person in and goes on with the journey."""
    db = get_session()
    try:
        data = _verifier().loads(token, max_age=VERIFY_MAX_AGE)
        user_id = int(data["uid"])
        ok = service.mark_email_verified(db, user_id, str(data["email"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        return render_template("accounts/verified.html", ok=False), 400
    result = email_codes.redeem_link(db, cookie.get(SIGNUP_KEY), user_id=user_id)
    if result.user is None:
        return render_template("accounts/verified.html", ok=True, next=None)
    _sign_in_signed_up(result)
    journey.mark_fresh()
    return render_template("accounts/verified.html", ok=True, next=result.next_url or url_for("accounts.home"))


@bp.route("/connected-services", methods=["GET", "POST"])
@journey.signed_in
def connected_services(*, ctx: AuthContext) -> Response | str:
    """The e-Services the person allowed, each with a way to withdraw that consent."""
    db = get_session()
    rows = consent.list_consents(db, user_id=ctx.user.id)
    if request.method == "POST":
        chosen = [(row, client) for row, client in rows if str(client.id) == request.form.get("client", "")]
        if chosen and request.form.get("confirm") != "yes":  # say what withdrawing does, then ask once more
            return render_template("accounts/withdraw_confirm.html", row=chosen[0][0], client=chosen[0][1],
                                   describe=consent.describe)
        if chosen:
            consent.withdraw_consent(db, user_id=ctx.user.id, client_id=chosen[0][1].id)
        return redirect(url_for("accounts.connected_services"))
    return render_template("accounts/connected.html", rows=rows, describe=consent.describe,
                           uses=resource_servers.data_uses(db, user_id=ctx.user.id))


@bp.route("/signout", methods=["POST"])
def signout() -> Response:
    auth_session.end_current(get_session())
    return redirect(url_for("accounts.home"))


@bp.route("/lang", methods=["POST"])
def set_language() -> Response:
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        cookie["lang"] = lang
        cookie.pop("ui_locales", None)
    return redirect(journey.next_url())
