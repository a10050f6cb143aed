"""Blueprint ``accounts``: sign-in, sign-up, email verification, sign-out, language, home."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
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
from idp import clock
from idp.accounts import service
from idp.accounts import session as auth_session
from idp.accounts.messages import account_error_message
from idp.accounts.messages import password_error_message
from idp.accounts.models import User
from idp.accounts.passwords import PasswordRejected
from idp.assurance import policy
from idp.assurance.policy import Factor
from idp.authn import steps
from idp.authn import throttle
from idp.authn.messages import wait_message
from idp.db import get_session
from idp.db import parse_row_id
from idp.http import safe_next
from idp.mail import send_mail
from idp.oidc import consent

bp = Blueprint("accounts", __name__)

VERIFY_MAX_AGE = 3 * 24 * 3600


def _verifier() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="idp-verify-email")


def _signed_in(next_url: str) -> Response:
    pending = cookie.pop("fresh_auth_pending", None)
    if pending:
        cookie["fresh_auth"] = pending
    return redirect(safe_next(next_url, url_for("accounts.home")))


@bp.route("/")
def home() -> str:
    ctx = auth_session.current(get_session())
    return render_template("accounts/home.html", ctx=ctx)


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Response | str | tuple[str, int]:
    next_url = safe_next(request.values.get("next"), url_for("accounts.home"))
    email = request.form.get("email", request.args.get("login_hint", ""))[:320]
    if request.method == "POST":
        db = get_session()
        password = request.form.get("password", "")[:1024]
        found: list[User] = []

        def check() -> Factor | None:
            user = service.authenticate_password(db, email=email, password=password)
            if user is None:
                return None
            found.append(user)
            return Factor(policy.PASSWORD, clock.timestamp())

        known = service.find_by_email(db, email) if email else None
        keys = throttle.password_keys(email, request.remote_addr or "", config=current_app.config)
        attempt = steps.throttled(db, keys, check, config=current_app.config, method=policy.PASSWORD,
                                  user_id=known.id if known else None)
        if attempt.factor is not None:
            auth_session.sign_in(db, found[0], attempt.factor)
            return _signed_in(next_url)
        if attempt.blocked:
            return render_template("accounts/signin.html", email=email, next=next_url,
                                   error=wait_message(attempt.verdict)), 429
        error = _("The email or password is not correct.")
        return render_template("accounts/signin.html", email=email, next=next_url, error=error), 200
    return render_template("accounts/signin.html", email=email, next=next_url, error=None)


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response | str | tuple[str, int]:
    """Sign-up: the same answer whether or not the email has an account (no enumeration)."""
    next_url = safe_next(request.values.get("next"), url_for("accounts.home"))
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
        _send_verification(outcome.created.id, outcome.created.email)
    elif outcome.existing is not None:
        audit.record(db, audit.Event.SIGNUP_EXISTING_ACCOUNT, user_id=outcome.existing.id)
        _send_signup_notice(outcome.existing.email)
    return redirect(url_for("accounts.signup_sent", next=next_url))


@bp.route("/signup/sent")
def signup_sent() -> str:
    next_url = safe_next(request.args.get("next"), url_for("accounts.home"))
    return render_template("accounts/signup_sent.html", next=next_url)


def _send_verification(user_id: int, email: str) -> None:
    token = _verifier().dumps({"uid": user_id, "email": email})
    link = current_app.config["ISSUER"] + url_for("accounts.verify_email", token=token)
    send_mail(email, _("Confirm your email address"),
              _("Open this link to confirm your email address:\n\n%(link)s\n\nIt works for 3 days.", link=link))


def _send_signup_notice(email: str) -> None:
    """To the owner of an address someone tried to sign up with: what happened, and how to sign in."""
    link = current_app.config["ISSUER"] + url_for("accounts.signin")
    send_mail(email, _("Someone tried to create an account with your email address"),
              _("Someone tried to create a new digital ID account with this email address, which already "
                "has an account. If it was you, sign in here:\n\n%(link)s\n\nIf it was not you, you can "
                "ignore this message: nothing has changed in your account.", link=link))


@bp.route("/verify-email/<token>")
def verify_email(token: str) -> tuple[str, int] | str:
    try:
        data = _verifier().loads(token, max_age=VERIFY_MAX_AGE)
        ok = service.mark_email_verified(get_session(), int(data["uid"]), str(data["email"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        return render_template("accounts/verified.html", ok=False), 400
    return render_template("accounts/verified.html", ok=True)


@bp.route("/connected-services", methods=["GET", "POST"])
def connected_services() -> Response | str:
    """The e-Services the person allowed, each with a way to withdraw that consent."""
    db = get_session()
    ctx = auth_session.current(db)
    if ctx is None:
        return redirect(url_for("accounts.signin", next=url_for("accounts.connected_services")))
    if request.method == "POST":
        client_id = parse_row_id(request.form.get("client"))
        if client_id is not None:
            consent.withdraw_consent(db, user_id=ctx.user.id, client_id=client_id)
        return redirect(url_for("accounts.connected_services"))
    rows = consent.list_consents(db, user_id=ctx.user.id)
    return render_template("accounts/connected.html", rows=rows, describe=consent.describe)


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
    return redirect(safe_next(request.form.get("next"), url_for("accounts.home")))
