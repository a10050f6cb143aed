"""The words of proofing, in the reader's language: what applicants are told about their case,
and the text tables of the officers' pages (reason codes, decisions, refusals, the SLA).

Codes stay in the services and the database; only this module turns them into sentences.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import ngettext

from idp import wording


def face_error(code: str) -> str:
    """What the chip and selfie pages say when a step did not work (never which detail differed)."""
    return {
        "no_chip_file": _("Choose the file with your card's chip data."),
        "chip_malformed": _("The file is not a chip read from the Digital ID app. Read the chip again."),
        "chip_signature_invalid": _("We could not confirm that your card's chip is genuine. Read the chip again."),
        "chip_issuer_unknown": _("We could not confirm that your card's chip is genuine. Read the chip again."),
        "chip_card_expired": _("Your card has expired. Use a card that is still valid, or go to a service counter."),
        "chip_data_mismatch": _("The card's chip does not match the identity you verified. Use your own card."),
        "chip_not_configured": _("Chip reads are not available now. Continue without the chip."),
        "no_selfie_file": _("Choose a photo of your face."),
        "bad_image": _("The photo must be a JPEG or PNG file of at most 4 MB."),
        "face_not_confirmed": _("We could not confirm that the photo is of you. Take a new photo in good light, "
                                "looking at the camera, with nothing covering your face."),
        "face_service_unavailable": _("The face check is not available now. Try again later."),
    }.get(code, _("That did not work. Try again."))


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


def field_error(code: str, *, limit: int | None = None) -> str:
    """The message beside a field of the evidence form (``idp.proofing.evidence_form``), GOV.UK style:
    it says what to do, and a date error names the part that is wrong."""
    return {
        "missing_number": _("Enter your national ID number"),
        "bad_national_id": _("Check the 13-digit ID number: its last digit does not match the others."),
        "missing_passport_number": _("Enter your passport number"),
        "bad_passport_number": _("Check the passport number: 1 or 2 letters and 6 or 7 digits."),
        "missing_laser_code": _("Enter the laser code from the back of your card"),
        "bad_laser_code": _("Check the laser code on the back of the card: 2 letters and 10 digits."),
        "missing_given_name": _("Enter your given name in English, as on the card"),
        "missing_family_name": _("Enter your family name in English, as on the card"),
        "too_long": _("This can be at most 100 characters"),
        "date_missing": _("Enter your date of birth"),
        "date_incomplete_day": _("Date of birth must include a day"),
        "date_incomplete_month": _("Date of birth must include a month"),
        "date_incomplete_year": _("Date of birth must include a year"),
        "date_incomplete_day_month": _("Date of birth must include a day and a month"),
        "date_incomplete_day_year": _("Date of birth must include a day and a year"),
        "date_incomplete_month_year": _("Date of birth must include a month and a year"),
        "date_not_real": _("Date of birth must be a real date"),
        "date_day_range": _("Day must be a number from 1 to 31"),
        "date_month_range": _("Month must be a number from 1 to 12"),
        "date_year_digits": _("Year must include 4 numbers"),
        "date_day_of_month": _("That month has at most %(num)d days: check the day and the month", num=limit or 0),
        "date_leap_day": _("29 February is only in leap years: check the day, the month and the year"),
        "date_future": _("Date of birth must be in the past"),
        "date_too_old": _("Check the year of birth: it must be less than 120 years ago"),
    }.get(code, _("Check this detail"))


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
        # what an applicant is told of mismatches (idp.proofing.privacy.disclosed_reasons)
        "details_mismatch": _("The details you gave do not match the national registry."),
        "attempts_exhausted": _("You have used your attempts for today: an identity officer will check your "
                                "details."),
        # an officer's decisions, in the same neutral words the decision email uses
        "evidence_mismatch": _("The details you gave do not match the national registry."),
        "suspected_fraud": _("We could not confirm that the evidence belongs to you."),
        "illegible_evidence": _("The evidence could not be read."),
        "other": _("We could not confirm your identity from the evidence given."),
    }.get(code, _("We could not confirm your identity from the evidence given."))


# -- officers: the review queue, the case page and the counter -----------------------------------


def officer_reason(code: str) -> str:
    """A check's reason code in plain words, for officers (unknown codes are shown as they are)."""
    return {
        "laser_code_mismatch": _("Laser code differs from the registry"),
        "birthdate_mismatch": _("Date of birth differs from the registry"),
        "name_mismatch": _("Name differs from the registry"),
        "card_revoked": _("The registry says the card is revoked"),
        "passport_revoked": _("The registry says the passport is revoked"),
        "document_not_found": _("The registry has no such document"),
        "not_found": _("The registry has no such document"),
        "invalid_evidence": _("The evidence is malformed"),
        "mismatch": _("The registry reported a mismatch"),
        "registry_unavailable": _("The registry could not be reached"),
        "unavailable": _("The registry could not be reached"),
        "registry_error": _("The registry's answer could not be read"),
        "duplicate_identity": _("The ID number is already verified for another account"),
        "no_contact_of_record": _("The registry holds no contact address for the binding code"),
        "binding_failed": _("The applicant entered the binding code wrongly too many times"),
        "attempts_exhausted": _("The attempts allowed in 24 hours were spent, on this account or on this ID "
                                "number: the applicant was not told what the registry answered"),
        "face_mismatch": _("The selfie does not match the card holder's photo"),
        "liveness_failed": _("The selfie did not pass the liveness check"),
        "no_reference": _("The face service holds no reference photo for this card"),
        "bad_image": _("The selfie was not a usable image"),
        "face_service_unavailable": _("The face service could not be reached"),
        "face_service_error": _("The face service's answer could not be read"),
        "chip_malformed": _("The chip read was malformed"),
        "chip_signature_invalid": _("The chip's signature is not valid"),
        "chip_issuer_unknown": _("The chip was signed by an issuer that is not trusted"),
        "chip_card_expired": _("The card read from the chip has expired"),
        "chip_data_mismatch": _("The chip's data differs from the verified identity"),
        "chip_not_configured": _("Chip reads are not set up"),
    }.get(code, _("Other (%(code)s)", code=code))


def decision(code: str) -> str:
    """A decision reason as officers see it in the forms."""
    return {
        "documents_consistent": _("The documents are consistent"),
        "identity_confirmed_by_video": _("Identity confirmed by video call"),
        "evidence_mismatch": _("The evidence does not match"),
        "suspected_fraud": _("Suspected fraud"),
        "duplicate_identity": _("The ID number belongs to another account"),
        "illegible_evidence": _("The evidence cannot be read"),
        "other": _("Other (explain in the note)"),
        "in_person_verified": _("Verified in person at a counter"),
    }.get(code, code)


def applicant_reason(code: str) -> str:
    """Why a case was rejected, as told to the applicant: plain words, never the officer's note.

    A suspicion of fraud is not spelled out: the same neutral words as for a mismatch.
    """
    return {
        "evidence_mismatch": _("The details you gave do not match the national registry."),
        "suspected_fraud": _("We could not confirm that the evidence belongs to you."),
        "duplicate_identity": _("This ID card is already linked to another account."),
        "illegible_evidence": _("The evidence could not be read."),
    }.get(code, _("We could not confirm your identity from the evidence given."))


def channel(code: str) -> str:
    return {"remote": _("remote"), "counter": _("at a counter")}.get(code, code)


def evidence_label(name: str) -> str:
    """The label of one row of the officer's evidence-against-record table."""
    return {
        "number": _("National ID number"),
        "laser_code": _("Laser code"),
        "given_name": _("Given name (English)"),
        "family_name": _("Family name (English)"),
        "given_name_th": _("Given name (Thai)"),
        "family_name_th": _("Family name (Thai)"),
        "birthdate": _("Date of birth"),
    }.get(name, name)


def describe_span(delta: dt.timedelta) -> str:
    """A duration in at most two units: "2 days 3 hours", "5 hours 10 minutes", "1 minute"."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if not days and (mins or not parts):
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", mins))
    return " ".join(parts[:2])


def time_left(due: dt.datetime | None, now: dt.datetime) -> str:
    """What the SLA says now ("2 days left", "overdue by 1 day")."""
    if due is None:
        return _("no deadline")
    if due < now:
        return _("overdue by %(span)s", span=describe_span(now - due))
    return _("%(span)s left", span=describe_span(due - now))


def refusal(code: str, **values: object) -> str:
    """Why an officer's action (claim, release, decision, counter code) was refused."""
    return {
        "own_case_claim": _("You cannot handle your own case."),
        "already_claimed": _("This case is already claimed or no longer under review."),
        "not_claimer_release": _("You can release only a case you claimed."),
        "own_case": _("You cannot decide your own case."),
        "not_in_review": _("This case is no longer under review."),
        "not_claimer": _("Only the officer who claimed this case can decide it."),
        "bad_reason": _("Choose a decision and a reason from the list."),
        "note_too_long": _("The note can be at most %(num)d characters.", num=values.get("num", 0)),
        "other_needs_note": _("Explain the reason “other” in the note."),
        "counter_case": _("An in-person case is approved only by the applicant's binding at the counter."),
        "duplicate_identity": _("This ID number is already verified for another account: the case cannot be "
                                "approved. Reject it with the reason “The ID number belongs to another account”."),
        "changed": _("This case changed meanwhile: it is no longer yours to decide."),
        "evidence_gone": _("The case cannot be approved: its evidence is no longer available."),
    }[code]


def counter_field_error(code: str) -> str:
    """What the officer must correct on the counter form."""
    return {
        "no_account": _("No active account has this email address."),
        "own_identity": _("You cannot verify your own identity."),
        "already_ial3": _("This account is already verified at IAL3."),
        "bad_national_id": _("Check the 13-digit ID number: its last digit does not match."),
        "bad_laser_code": _("Check the laser code: 2 letters and 10 digits."),
        "bad_birthdate": _("Enter the date of birth."),
        "missing_name": _("Enter the given name and family name in English as on the card."),
        "bad_card": _("Check the card details."),
        "not_inspected": _("Inspect the card (read its chip where you can) and tick the box."),
        "not_compared": _("Compare the person with the photo and tick the box."),
        "number_taken": _("This ID number is already verified for another account."),
        "other_number": _("This account is verified with a different ID number."),
    }[code]


def counter_chip_error(code: str) -> str:
    """Why the counter reader's chip read was not accepted (the officer sees the reason)."""
    return {
        "chip_malformed": _("The reader's file is not a chip read. Read the chip again."),
        "chip_signature_invalid": _("The chip's signature is not valid: the card may not be genuine."),
        "chip_issuer_unknown": _("The chip is signed by an issuer this service does not trust."),
        "chip_card_expired": _("The card has expired."),
        "chip_data_mismatch": _("The chip's data differs from the card details typed above."),
        "chip_not_configured": _("Chip reads are not set up on this service: leave the chip file out."),
    }.get(code, _("The chip read was not accepted."))


def counter_bind_error(code: str) -> str:
    """Why the applicant's counter code did not bind the case."""
    return {
        "no_case": _("No in-person check is waiting for you. Ask the officer."),
        "officer_is_applicant": _("The officer who checked the card cannot be the applicant."),
        "expired": _("The code has expired. Ask the officer to check your card again."),
        "too_many": _("Too many wrong codes. Ask the officer to check your card again."),
        "wrong_code": _("That code is not correct. Check it with the officer."),
        "duplicate_identity": _("This ID card is already linked to another account. Speak to the officer."),
    }[code]


def decision_mail(status: str, level: int, reason: str | None) -> tuple[str, str]:
    """The subject and body telling the applicant an officer's decision; a rejection says why,
    never the officer's note."""
    if status == "approved":
        return (_("Your identity is verified"),
                _("Your identity verification was approved. Your Digital ID now shows: %(level)s.",
                  level=wording.ial_words(level)))
    return (_("Your identity verification was not approved"),
            _("An identity officer reviewed your case and could not approve it.\n\n"
              "Reason: %(reason)s\n\n"
              "You can start again with your national ID card, or verify in person at a service counter.",
              reason=applicant_reason(reason or "")))
