"""Audit event names in words, for people reading the console in Thai or English.

The stored names (:class:`idp.audit.events.Event`) stay as they are: searches, exports and the
hash chain use them. The console shows these words beside them. Every member has an entry
(tests/unit/test_audit_vocabulary.py): a new event gets its words here when it gets its name.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from idp.audit.events import Event

LABELS: dict[Event, LazyString] = {
    Event.ACCOUNT_DISABLED: _l("Account disabled"),
    Event.ACCOUNT_ENABLED: _l("Account enabled"),
    Event.AUDIT_EXPORTED: _l("Audit log exported"),
    Event.AUDIT_SEARCHED: _l("Audit log searched"),
    Event.AUTHENTICATORS_RESET: _l("Sign-in methods reset by support"),
    Event.AUTHORIZATION_REFUSED: _l("Authorization refused"),
    Event.AUTHORIZED: _l("Authorization given to an e-Service"),
    Event.AUTHZ_DETAILS_TYPE_REGISTERED: _l("Transaction type registered"),
    Event.AUTHZ_DETAILS_TYPE_UPDATED: _l("Transaction type changed"),
    Event.BACKCHANNEL_LOGOUT_DELIVERED: _l("e-Service told of a sign-out (back-channel logout)"),
    Event.BACKCHANNEL_LOGOUT_FAILED: _l("Back-channel logout to an e-Service failed"),
    Event.CLIENT_APPROVED: _l("e-Service approved"),
    Event.CLIENT_CREATED: _l("e-Service created"),
    Event.CLIENT_DELETED: _l("e-Service deleted"),
    Event.CLIENT_DISABLED: _l("e-Service disabled"),
    Event.CLIENT_ENABLED: _l("e-Service enabled"),
    Event.CLIENT_HELD_FOR_REVIEW: _l("e-Service registration held for review"),
    Event.CLIENT_REGISTERED: _l("e-Service registered by its agency"),
    Event.CLIENT_SECRET_ROTATED: _l("e-Service's client secret rotated"),
    Event.CLIENT_SECTOR_JOINED: _l("e-Service joined another agency's sector"),
    Event.CLIENT_UPDATED: _l("e-Service changed"),
    Event.CONSENT_GIVEN: _l("Consent given"),
    Event.CONSENT_WITHDRAWN: _l("Consent withdrawn"),
    Event.DATA_EXPORTED: _l("Personal data downloaded by its owner"),
    Event.DPOP_REFUSED: _l("DPoP refused: wrong key or a replayed proof"),
    Event.EMAIL_CODE_FAILED: _l("Wrong email confirmation code"),
    Event.EMAIL_VERIFIED: _l("Email address confirmed"),
    Event.FACTOR_REMOVED: _l("Sign-in method removed"),
    Event.FACTOR_SUSPENDED: _l("Sign-in method suspended after failed attempts"),
    Event.IAL_LOWERED: _l("Identity level lowered"),
    Event.INITIAL_TOKEN_ISSUED: _l("Registration token issued to an agency"),
    Event.INITIAL_TOKEN_REVOKED: _l("Registration token revoked"),
    Event.MACHINE_SCOPES_SET: _l("Scopes an agency's back-end may get for itself changed"),
    Event.PASSWORD_CHANGED: _l("Password changed"),
    Event.PASSWORD_RESET_COMPLETED: _l("Forgotten password replaced"),
    Event.PASSWORD_RESET_FACTOR_LOST: _l("Password reset: the person has lost every second factor"),
    Event.PASSWORD_RESET_FACTOR_VERIFIED: _l("Password reset: second factor confirmed"),
    Event.PASSWORD_RESET_LINK_OPENED: _l("Password reset link opened"),
    Event.PASSWORD_RESET_REFUSED: _l("Password reset refused"),
    Event.PASSWORD_RESET_REQUESTED: _l("Password reset asked for"),
    Event.PROOFING_APPROVED: _l("Identity verification approved"),
    Event.PROOFING_ATTEMPT_FAILED: _l("Identity details did not match the registry (an attempt)"),
    Event.PROOFING_ATTEMPTS_EXHAUSTED: _l("No attempts left: case sent to an officer"),
    Event.PROOFING_CASE_CLAIMED: _l("Verification case claimed by an officer"),
    Event.PROOFING_CASE_RELEASED: _l("Verification case released by an officer"),
    Event.PROOFING_CASE_VIEWED: _l("Verification case viewed by an officer"),
    Event.PROOFING_CHIP_READ: _l("ID card chip read for identity verification"),
    Event.PROOFING_DATA_ERASED: _l("Verification data erased at the person's request"),
    Event.PROOFING_FACE_CHECKED: _l("Face checked for identity verification"),
    Event.PROOFING_PURGED: _l("Verification evidence deleted after retention"),
    Event.PROOFING_REJECTED: _l("Identity verification rejected"),
    Event.PROOFING_STARTED: _l("Identity verification started"),
    Event.PROOFING_TO_REVIEW: _l("Verification case sent to an officer"),
    Event.PROOFING_WITHDRAWN: _l("Identity verification withdrawn"),
    Event.PUSHED_REQUEST_REFUSED: _l("Pushed sign-in request refused"),
    Event.RECOVERY_CODE_USED: _l("Recovery code used"),
    Event.RECOVERY_CODES_GENERATED: _l("Recovery codes made"),
    Event.RESOURCE_SERVER_REGISTERED: _l("Agency API registered as a resource server"),
    Event.RESOURCE_SERVER_REMOVED: _l("Agency API removed"),
    Event.ROLE_GRANTED: _l("Staff role granted"),
    Event.ROLE_REVOKED: _l("Staff role revoked"),
    Event.SESSION_ENDED: _l("A session signed out from the Security page"),
    Event.SESSIONS_ENDED: _l("Other sessions signed out"),
    Event.SIGNIN: _l("Signed in"),
    Event.SIGNIN_FAILED: _l("Sign-in failed"),
    Event.SIGNIN_REFUSED: _l("Sign-in refused"),
    Event.SIGNING_KEYS_ROTATED: _l("Token signing keys rotated"),
    Event.SIGNUP_EXISTING_ACCOUNT: _l("Sign-up with an email that already has an account"),
    Event.SIGNUP_REFUSED: _l("Sign-up refused"),
    Event.STEP_UP: _l("Stronger sign-in completed"),
    Event.SUPPORT_ACCOUNT_VIEWED: _l("Account viewed by support"),
    Event.THROTTLE_LIFTED: _l("Attempt limit lifted"),
    Event.THROTTLED: _l("Too many attempts: slowed down"),
    Event.TOKEN_EXCHANGE_ALLOWED: _l("Token exchange allowed between two agencies"),
    Event.TOKEN_EXCHANGE_DISALLOWED: _l("Token exchange between two agencies withdrawn"),
    Event.TOKEN_EXCHANGE_REFUSED: _l("Token exchange refused"),
    Event.TOKEN_EXCHANGED: _l("A citizen's token exchanged for another agency's API"),
    Event.TOKEN_FAMILY_REVOKED: _l("Refresh tokens revoked"),
    Event.TOTP_ENROLLED: _l("Authenticator app added"),
    Event.TOTP_REMOVED: _l("Authenticator app removed"),
    Event.WEBAUTHN_CLONE_SUSPECTED: _l("Passkey or security key may have been copied"),
    Event.WEBAUTHN_REGISTERED: _l("Passkey or security key added"),
}


def label(name: str) -> str:
    """The words for a stored event name; a name outside the vocabulary (older rows) as it is."""
    try:
        return str(LABELS[Event(name)])
    except (ValueError, KeyError):
        return name
