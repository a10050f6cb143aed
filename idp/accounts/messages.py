"""Messages shown to people for account errors, in their language."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from idp.authn.messages import wait_message
from idp.authn.throttle import ALLOWED
from idp.authn.throttle import Verdict
from idp.mail import send_mail


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


def recovery_error_message(code: str) -> str:
    messages = {
        "link_not_usable": _("This link has expired or was already used. Ask for a new one: each link works once, "
                             "for 15 minutes."),
        "reset_not_pending": _("Your password reset has expired or is finished. Ask for a new link to start again."),
        "factor_required": _("Confirm it is you with your second factor first."),
        "wrong_password": _("Your current password is not correct."),
        "choose_factor": _("Enter a code, or use your passkey or security key."),
    }
    return messages.get(code, _("That did not work. Try again."))


def place_label(place: str) -> str:
    """The address class a session was signed in from, in words (no geolocation)."""
    return {
        "loopback": _("This computer"),
        "private": _("A private network (home, office or mobile operator)"),
        "public": _("The internet"),
    }.get(place, _("Unknown place"))


def send_reset_link(email: str, link: str) -> None:
    send_mail(email, _("Reset your Digital ID password"),
              _("Someone asked to reset the password of the Digital ID account with this email address. "
                "To choose a new password, open this link:\n\n%(link)s\n\n"
                "It works once, for 15 minutes. If your account has a second factor (an authenticator app, "
                "a passkey or a security key), you will be asked for it, or for a recovery code.\n\n"
                "If you did not ask for this, ignore this email: your password has not changed.", link=link))


def notify_password_reset(email: str, *, factors_removed: bool, ial_lowered: bool) -> None:
    """To the owner, after a reset: what changed, and what to do if it was not them."""
    parts = [_("The password of your Digital ID was reset with a link sent to this address. You were signed out "
               "everywhere else, and e-Services must ask you to sign in again.")]
    if factors_removed:
        parts.append(_("You said you no longer have your second factors, so your authenticator apps, passkeys, "
                       "security keys and recovery codes were removed. Add new ones on the Security page."))
    if ial_lowered:
        parts.append(_("Because no second factor was shown, your identity is no longer verified. Verify it again "
                       "to use e-Services that need a verified identity."))
    parts.append(_("If this was not you, contact support at once."))
    send_mail(email, _("Your Digital ID password was reset"), "\n\n".join(parts))


def notify_password_changed(email: str, *, added: bool) -> None:
    subject = _("A password was added to your Digital ID") if added else _("Your Digital ID password was changed")
    body = (_("A password was added to your Digital ID account on the Security page.") if added
            else _("The password of your Digital ID account was changed on the Security page."))
    send_mail(email, subject, body + "\n\n" + _("You were signed out in your other browsers. If this was not you, "
                                                "contact support at once."))


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
