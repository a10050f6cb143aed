"""The audit log's vocabulary: every event name ``audit.record`` may write, in one place.

The values are what the ``audit_events.event`` column holds and what each event's hash covers, so
a value never changes once released (old rows, the chain, saved console searches and exports
would stop matching); a new decision gets a new member. Kept alphabetised.
"""

from __future__ import annotations

from enum import StrEnum
from enum import unique


@unique
class Event(StrEnum):
    """The name of an audited security decision (``AuditEvent.event``)."""

    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_ENABLED = "account_enabled"
    AUDIT_EXPORTED = "audit_exported"
    AUDIT_SEARCHED = "audit_searched"
    AUTHENTICATORS_RESET = "authenticators_reset"
    AUTHORIZATION_REFUSED = "authorization_refused"
    AUTHORIZED = "authorized"
    CLIENT_APPROVED = "client_approved"
    CLIENT_CREATED = "client_created"
    CLIENT_DELETED = "client_deleted"
    CLIENT_DISABLED = "client_disabled"
    CLIENT_ENABLED = "client_enabled"
    CLIENT_HELD_FOR_REVIEW = "client_held_for_review"
    CLIENT_REGISTERED = "client_registered"
    CLIENT_SECRET_ROTATED = "client_secret_rotated"
    CLIENT_SECTOR_JOINED = "client_sector_joined"
    CLIENT_UPDATED = "client_updated"
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DATA_EXPORTED = "data_exported"
    EMAIL_CODE_FAILED = "email_code_failed"
    EMAIL_VERIFIED = "email_verified"
    FACTOR_REMOVED = "factor_removed"
    FACTOR_SUSPENDED = "factor_suspended"
    INITIAL_TOKEN_ISSUED = "initial_token_issued"
    INITIAL_TOKEN_REVOKED = "initial_token_revoked"
    PROOFING_APPROVED = "proofing_approved"
    PROOFING_CASE_CLAIMED = "proofing_case_claimed"
    PROOFING_CASE_RELEASED = "proofing_case_released"
    PROOFING_CASE_VIEWED = "proofing_case_viewed"
    PROOFING_DATA_ERASED = "proofing_data_erased"
    PROOFING_PURGED = "proofing_purged"
    PROOFING_REJECTED = "proofing_rejected"
    PROOFING_STARTED = "proofing_started"
    PROOFING_TO_REVIEW = "proofing_to_review"
    PROOFING_WITHDRAWN = "proofing_withdrawn"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_GENERATED = "recovery_codes_generated"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    SIGNIN = "signin"
    SIGNIN_FAILED = "signin_failed"
    SIGNIN_REFUSED = "signin_refused"
    SIGNING_KEYS_ROTATED = "signing_keys_rotated"
    SIGNUP_EXISTING_ACCOUNT = "signup_existing_account"
    SIGNUP_REFUSED = "signup_refused"
    STEP_UP = "step_up"
    SUPPORT_ACCOUNT_VIEWED = "support_account_viewed"
    THROTTLE_LIFTED = "throttle_lifted"
    THROTTLED = "throttled"
    TOKEN_FAMILY_REVOKED = "token_family_revoked"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_REMOVED = "totp_removed"
    WEBAUTHN_CLONE_SUSPECTED = "webauthn_clone_suspected"
    WEBAUTHN_REGISTERED = "webauthn_registered"
