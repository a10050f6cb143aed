"""Words for the disclosure log and the consent receipts, and the receipt email."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.disclosure.models import ConsentReceipt
from idp.mail import send_mail


def claim_words(name: str) -> str:
    """A claim name in plain words; an unknown one as it is."""
    words = {
        "sub": _("Your identifier at this e-Service"),
        "name": _("Name"),
        "given_name": _("Given name"),
        "family_name": _("Family name"),
        "email": _("Email address"),
        "email_verified": _("Whether your email address is verified"),
        "phone_number": _("Phone number"),
        "address": _("Postal address"),
        "birthdate": _("Date of birth"),
        "locale": _("Language"),
        "updated_at": _("When your details last changed"),
        "national_id": _("National ID number"),
        "verified_claims": _("Verified identity (name and date of birth)"),
    }
    return words.get(name, name)


def via_words(via: str) -> str:
    return {
        "authorization_code": _("Sign-in (ID token)"),
        "refresh_token": _("Renewed sign-in (ID token)"),
        "userinfo": _("Requested by the e-Service (userinfo)"),
        "token_exchange": _("Passed to another e-Service (token exchange)"),
        "introspection": _("Token check (introspection)"),
    }.get(via, via)


def date_error(name: str, code: str) -> str:
    if code == "before_start":
        return _("The end date must be the same as or after the start date.")
    if name == "from":
        if code == "incomplete":
            return _("The start date must include a day, month and year.")
        return _("The start date must be a real date, for example 1 12 2026.")
    if code == "incomplete":
        return _("The end date must include a day, month and year.")
    return _("The end date must be a real date, for example 31 12 2026.")


def state_words(state: str) -> str:
    return _("Consent given") if state == "given" else _("Consent withdrawn")


def send_receipt(email: str, row: ConsentReceipt, *, link: str) -> None:
    """The receipt by email, in the reader's language; the signed JWS is in the body, to keep."""
    when = row.issued_at.strftime("%Y-%m-%d %H:%M UTC")
    body = "\n\n".join([
        _("Here is the receipt of your consent, as you asked.") + "\n"
        + _("e-Service: %(name)s", name=row.service_name) + "\n"
        + _("What happened: %(state)s", state=state_words(row.state)) + "\n"
        + _("When: %(when)s", when=when) + "\n"
        + _("Receipt number: %(id)s", id=row.receipt_id),
        _("The receipt is signed by the Digital ID. You can also download it from Your personal data, "
          "after signing in:\n\n%(link)s", link=link),
        _("The signed receipt (a JWS; anyone can check it with the Digital ID's published keys, for example "
          "with the command idp receipts verify):"),
        row.jws,
        _("If you did not ask for this email, sign in and check the Security page."),
    ])
    send_mail(email, _("Your consent receipt for %(name)s", name=row.service_name), body)
