"""What the citizen sees when sign-in fails: a page in plain words, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from authlib.common.errors import AuthlibBaseError
from flask import render_template
from joserfc.errors import JoseError

#: Plain words for the error codes a sign-in may end with: RFC 6749 §4.1.2.1, OIDC Core
#: §3.1.2.6, and Authlib's own ``mismatching_state``. Other codes get a generic sentence.
ERROR_MESSAGES = {
    "access_denied": "You cancelled sign-in or did not agree to share your details.",
    "login_required": "You need to sign in at the Digital ID service first.",
    "consent_required": "The Digital ID service needs your consent before sharing details.",
    "interaction_required": "The Digital ID service needs you to do something before continuing.",
    # OpenID Connect Unmet Authentication Requirements 1.0: the essential acr could not be met,
    # because the person has no second factor or cancelled the step-up.
    "unmet_authentication_requirements": "This needs a second factor: an authenticator app, a passkey or a "
                                         "security key. Add one on your Digital ID Security page, then try again:",
    "temporarily_unavailable": "The Digital ID service is busy. Please try again shortly.",
    "mismatching_state": "This sign-in expired or began in another browser. Please start again.",
}

#: Where on the IdP (relative to its issuer) the person can fix the cause of an error.
ERROR_LINKS = {"unmet_authentication_requirements": "security"}


@dataclass(frozen=True)
class Explanation:
    """What to tell the person about an error code. ``{link}`` in a message marks where the link
    goes (otherwise it follows the message); ``link`` is relative to the IdP's issuer."""

    message: str
    link: str | None = None
    message_th: str | None = None
    note: str | None = None


#: The same error can mean something else on a page that needs more. The callback knows which page
#: started the sign-in (``next`` in the session). For the licence application, "unmet" means above all
#: that the person has not verified their identity; the IdP also answers it to someone with no second factor.
PAGE_ERRORS: dict[str, dict[str, Explanation]] = {
    "/licence/apply": {
        "unmet_authentication_requirements": Explanation(
            "This needs a verified identity (IAL2). Verify your identity at {link} and try again.",
            link="proofing",
            message_th="บริการนี้ต้องใช้ตัวตนที่ยืนยันแล้ว (IAL2) กรุณายืนยันตัวตนที่ {link} แล้วลองอีกครั้ง",
            note="It also needs a second factor (an authenticator app, a passkey or a security key). "
                 "If you have none, add one on your Digital ID Security page first.",
        ),
    },
}


def explain(error: str, page: str | None = None) -> Explanation:
    """Plain words for ``error``, as seen from ``page`` (the page that started the sign-in)."""
    if found := PAGE_ERRORS.get(page or "", {}).get(error):
        return found
    return Explanation(ERROR_MESSAGES.get(error, "Please try again."), link=ERROR_LINKS.get(error))

#: Exceptions that :func:`render_error` turns into pages.
HANDLED = (AuthlibBaseError, JoseError, requests.RequestException)


class EServiceError(Exception):
    """A failure shown as a page; it carries its status code, like Werkzeug's HTTP errors.

    :param detail: a technical hint (an error code) for the person who reports the problem.
    :param link: a URL where the person can fix the problem: where ``{link}`` is in the message,
        or after it.
    :param message_th: the message in Thai, shown below the English one (``{link}`` works there too).
    :param note: one more sentence, shown after the message.
    """

    def __init__(self, title: str, message: str, *, status: int = 400, detail: str | None = None,
                 link: str | None = None, message_th: str | None = None, note: str | None = None):
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status
        self.detail = detail
        self.link = link
        self.message_th = message_th
        self.note = note


def render_error(error: Exception) -> tuple[str, int]:
    """Translate library exceptions here, at the boundary, so views need no try blocks."""
    if isinstance(error, (AuthlibBaseError, JoseError)):  # bad state, token response or ID token
        message = ERROR_MESSAGES.get(error.error or "", "Please sign in again.")
        error = EServiceError("Sign-in could not be completed", message, detail=error.error)
    elif isinstance(error, requests.RequestException):
        error = EServiceError("The Digital ID service cannot be reached",
                              "Please try again in a few minutes.", status=502)
    elif not isinstance(error, EServiceError):
        raise error
    return render_template("error.html", error=error), error.status
