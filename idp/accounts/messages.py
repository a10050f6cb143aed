"""Messages shown to people for account errors, in their language."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from idp.authn.messages import wait_message
from idp.authn.throttle import ALLOWED
from idp.authn.throttle import Verdict


def password_error_message(code: str) -> str:
    messages = {
        "too_short": _("Choose a password of at least 8 characters."),
        "too_long": _("Choose a password of at most 256 characters."),
        "common": _("This password is too common or has appeared in a data breach. Choose another."),
        "matches_email": _("Choose a password that is not your email address."),
    }
    return messages.get(code, _("Choose another password."))


def account_error_message(code: str) -> str:
    messages = {
        "email_taken": _("An account with this email address already exists. Sign in instead."),
        "invalid_email": _("Enter a valid email address."),
    }
    return messages.get(code, _("The account could not be created."))


def email_code_message(reason: str, attempts_left: int = 0, verdict: Verdict = ALLOWED) -> str:
    """Why the code from the email did not confirm the address (the same for every address)."""
    if reason == "throttled":
        return wait_message(verdict)
    if reason == "wrong":
        return ngettext("That code is not correct. You can try %(num)d more time.",
                        "That code is not correct. You can try %(num)d more times.", attempts_left)
    messages = {
        "malformed": _("Enter the 6-digit code from the email."),
        "too_many": _("Too many wrong codes. Ask for a new code."),
        "expired": _("This code has expired. Ask for a new code."),
        "used": _("This code was already used. Sign in to continue."),
        "none": _("No email confirmation is waiting in this browser. Create your account again, or sign in."),
        "no_more_codes": _("No more codes can be sent for this sign-up. Create your account again."),
    }
    return messages.get(reason, _("That did not work. Try again."))
