"""What people are told about their authenticators: refusals on the page and notices by email."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from idp.accounts.models import User
from idp.assurance import policy
from idp.authn.throttle import Verdict
from idp.mail import send_mail


def wait_message(verdict: Verdict) -> str:
    """When to try again: never says whether the account exists."""
    if verdict.suspended:
        return _("This way of signing in is suspended after too many failed attempts. "
                 "Use another way to sign in, such as a recovery code or a passkey, or contact support.")
    if verdict.retry_after >= 60:
        minutes = -(-verdict.retry_after // 60)
        return ngettext("Too many failed attempts. Try again in %(num)d minute.",
                        "Too many failed attempts. Try again in %(num)d minutes.", minutes)
    return ngettext("Too many failed attempts. Try again in %(num)d second.",
                    "Too many failed attempts. Try again in %(num)d seconds.", max(1, verdict.retry_after))


def refusal(method: str, verdict: Verdict) -> str:
    if not verdict.allowed:
        return wait_message(verdict)
    return {
        policy.TOTP: _("That code is not correct, or it was already used. Enter the current code from your app."),
        policy.RECOVERY: _("That recovery code is not correct, or it was already used."),
        policy.PASSWORD: _("The password is not correct."),
    }.get(method, _("That did not work. Try again."))


def webauthn_error(code: str) -> str:
    return {
        "expired": _("The request timed out. Try again."),
        "replayed": _("The request timed out. Try again."),
        "unknown_credential": _("This passkey or security key is not registered here."),
        "not_owner": _("This passkey or security key belongs to another account."),
        "uv_required": _("Your device did not verify you (PIN or biometrics). Try again and unlock it."),
        "cloned": _("This passkey or security key may have been copied, so it was blocked. Use another way "
                    "to sign in and check the Security page."),
        "duplicate": _("This passkey or security key is already registered."),
        "step_up_required": _("Confirm it is you first: reload the page and sign in again."),
    }.get(code, _("The passkey or security key could not be verified. Try again."))


def notify(user: User, subject: str, body: str) -> None:
    send_mail(user.email, subject, body + "\n\n" + _("If this was not you, sign in and check the Security "
                                                     "page at once, or contact support."))


def notify_added(user: User, name: str) -> None:
    notify(user, _("An authenticator was added to your Digital ID"),
           _("The authenticator “%(name)s” was added to your account.", name=name))


def notify_removed(user: User, name: str) -> None:
    notify(user, _("An authenticator was removed from your Digital ID"),
           _("The authenticator “%(name)s” was removed from your account.", name=name))


def notify_recovery_codes(user: User) -> None:
    notify(user, _("New recovery codes for your Digital ID"),
           _("New recovery codes were made for your account. The old ones no longer work."))


def describe_amr(amr: list[str]) -> list[str]:
    """How a sign-in was made, in words (the Security page's list of recent sign-ins)."""
    labels = {
        "pwd": _("password"),
        "otp": _("one-time code"),
        "swk": _("passkey or security key"),
        "hwk": _("certified security key"),
    }
    return [labels[v] for v in amr if v in labels]


def notify_clone(db: Session, user_id: int | None) -> None:
    user = db.get(User, user_id) if user_id is not None else None
    if user is not None:
        notify(user, _("A passkey or security key of your Digital ID was blocked"),
               _("A sign-in used one of your passkeys or security keys with a counter that went backwards, "
                 "a sign that the key may have been copied. The key was blocked; remove it and add a new one."))
