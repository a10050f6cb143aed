"""Messages shown to people for account errors, in their language."""

from __future__ import annotations

from flask_babel import gettext as _


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
