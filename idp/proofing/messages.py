"""What applicants are told about their proofing case, in their language."""

from __future__ import annotations

from flask_babel import gettext as _


def error(code: str) -> str:
    return {
        "bad_national_id": _("Check the 13-digit ID number: its last digit does not match the others."),
        "bad_laser_code": _("Check the laser code on the back of the card: 2 letters and 10 digits."),
        "bad_birthdate": _("Enter your date of birth."),
        "missing_name": _("Enter your given name and family name as on the card."),
        "unsupported_evidence": _("Use a Thai national ID card or a Thai passport."),
        "bad_passport_number": _("Check the passport number: 1 or 2 letters and 6 or 7 digits."),
        "case_open": _("You already have a case in progress."),
        "wrong_code": _("That code is not correct. Check the email and try again."),
        "code_expired": _("The code has expired. Start again."),
        "binding_failed": _("Too many wrong codes: an officer will review your case."),
    }.get(code, _("That did not work. Try again."))


def reason(code: str) -> str:
    """A reason code from the checks, in plain words (never personal data)."""
    return {
        "laser_code_mismatch": _("The laser code does not match the registry."),
        "birthdate_mismatch": _("The date of birth does not match the registry."),
        "name_mismatch": _("The name does not match the registry."),
        "document_not_found": _("The registry has no card with this number."),
        "invalid_evidence": _("The card details could not be read. Check them and try again."),
        "passport_revoked": _("The registry says this passport is no longer valid."),
        "card_revoked": _("The registry says this card is no longer valid."),
        "registry_unavailable": _("The national registry could not be reached. Your case is saved: try again later."),
        "registry_error": _("The national registry gave an answer we could not read. Try again later."),
        "duplicate_identity": _("This ID card is already linked to another account."),
        "no_contact_of_record": _("The registry has no contact address to send a confirmation code to."),
        "binding_failed": _("The confirmation code was entered wrongly too many times."),
        # an officer's decisions, in the same neutral words the decision email uses
        "evidence_mismatch": _("The details you gave do not match the national registry."),
        "suspected_fraud": _("We could not confirm that the evidence belongs to you."),
        "illegible_evidence": _("The evidence could not be read."),
        "other": _("We could not confirm your identity from the evidence given."),
    }.get(code, _("We could not confirm your identity from the evidence given."))
