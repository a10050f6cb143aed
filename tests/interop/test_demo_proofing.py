"""Identity proofing against a live IdP: the demo e-Service's licence application needs ial2:aal2.

An IAL1 person with an authenticator app opens ``/licence/apply``. The IdP signs them in with a
password, asks for the TOTP code (the second factor comes first, issue 11), sends them to identity
proofing (the Thai ID card details of the demo registry's Somchai Jaidee, then the 6-digit code
mailed to the registry's contact address, read here from the live server's outbox), and sends them
back to the page with
``urn:th:digitalid:ial2:aal2`` and ``verified_claims`` (OpenID Connect for Identity Assurance 1.0)
in the ID token. A person whose card details do not match three times goes to officer review, and
the page explains, after ``unmet_authentication_requirements``, where to verify.
"""

from __future__ import annotations

import email
import re
import secrets
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from tests.interop.conftest import LiveIdp
from tests.interop.conftest import demo_eservice
from tests.interop.test_demo_stepup import HEADERS
from tests.interop.test_demo_stepup import _consent
from tests.interop.test_demo_stepup import _form
from tests.interop.test_demo_stepup import _sign_in

pytestmark = pytest.mark.interop

PROOFED_ACR = "urn:th:digitalid:ial2:aal2"
#: The demo registry's Somchai Jaidee (idp/data/registry.json): fictitious, like everyone in it.
SOMCHAI_CARD = {"number": "1999900001010", "laser_code": "JT0-1000001-01", "given_name": "Somchai",
                "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
                "birthdate": "1985-03-14"}
SOMCHAI_CONTACT = "somchai@example.com"
#: Somsri Rakthai's card, with a birthdate the registry does not hold: after three tries, the case goes to review.
MISMATCHED_CARD = {"number": "1999900001028", "laser_code": "ME1-2000002-02", "given_name": "Somsri",
                   "family_name": "Rakthai", "given_name_th": "", "family_name_th": "", "birthdate": "1990-01-01"}


@pytest.fixture(scope="module")
def eservice(live_idp: LiveIdp) -> Iterator[str]:
    """The demo e-Service, registered at the live IdP; its base URL."""
    with demo_eservice(live_idp, "Restaurant licence (proofing demo)") as (base, _):
        yield base


def _person(live_idp: LiveIdp, totp_secret: str) -> tuple[str, str]:
    """A fresh IAL1 account with a password and an authenticator app (it can reach AAL2)."""
    email_address, password = f"proofing-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
    live_idp.cli("users", "create", "--email", email_address, "--password", password, "--name", "Applicant")
    live_idp.cli("users", "totp-import", "--email", email_address, "--secret", totp_secret)
    return email_address, password


def _outbox(live_idp: LiveIdp) -> Path:
    """Where ``idp serve`` writes mail: MAIL_OUTBOX_DIR defaults to <instance path>/outbox."""
    return Path(live_idp.env.get("IDP_MAIL_OUTBOX_DIR") or Path(live_idp.env["IDP_INSTANCE_PATH"]) / "outbox")


def _messages_to(live_idp: LiveIdp, address: str) -> list[Message]:
    outbox = _outbox(live_idp)
    files = sorted(outbox.glob("*.eml")) if outbox.is_dir() else []  # named <time_ns>-<random>.eml
    found = [email.message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    return [m for m in found if m["To"] == address]


def _confirmation_code(messages: list[Message]) -> str:
    for message in reversed(messages):  # the newest code
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        if match := re.search(r"\b(\d{6})\b", text):
            return match.group(1)
    raise AssertionError(f"no 6-digit code in {len(messages)} message(s)")


def _start_proofing(browser: requests.Session, live_idp: LiveIdp, page: Any, card: dict[str, str]) -> Any:
    """From the IdP's proofing status page: open the card form and submit ``card``."""
    assert "/proofing" in page.url, page.text
    link = re.search(r'href="(/proofing/start\?[^"]+)"', page.text)
    assert link, page.text
    page = browser.get(live_idp.issuer + link.group(1).replace("&amp;", "&"), headers=HEADERS, timeout=10)
    action, fields = _form(page.text, 'name="laser_code"')
    return browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10, data={**fields, **card})


def _second_factor(browser: requests.Session, live_idp: LiveIdp, page: Any, secret: str) -> Any:
    """On the step-up page: the code the authenticator app shows."""
    assert "/signin/more" in page.url, page.text
    action, fields = _form(page.text, 'name="method" value="totp"')
    return browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10,
                        data={**fields, "code": pyotp.TOTP(secret).now()})


def test_password_totp_and_proofing_open_the_licence_page_with_verified_claims(live_idp: LiveIdp,
                                                                                 eservice: str) -> None:
    secret = pyotp.random_base32()
    email_address, password = _person(live_idp, secret)
    browser = requests.Session()
    mails_before = len(_messages_to(live_idp, SOMCHAI_CONTACT))

    # 1. The licence page asks for ial2:aal2 and verified_claims; the IdP asks for the password first.
    page = browser.get(f"{eservice}/licence/apply", headers=HEADERS, timeout=10)
    page = _sign_in(browser, live_idp, page, email_address, password)

    # 2. Then only for the second factor: a journey adds the factor before proofing (issue 11).
    page = _second_factor(browser, live_idp, page, secret)

    # 3. An IAL1 person is sent to identity proofing: Somchai's card details, checked against the registry.
    page = _start_proofing(browser, live_idp, page, SOMCHAI_CARD)
    assert "/proofing/confirm" in page.url, page.text

    # 4. The code went to the registry's contact address, not to the account's; then back to the request.
    mails = _messages_to(live_idp, SOMCHAI_CONTACT)
    assert len(mails) == mails_before + 1, f"no new mail in {_outbox(live_idp)}"
    action, fields = _form(page.text, 'name="code"')
    page = browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10,
                        data={**fields, "code": _confirmation_code(mails)})
    if 'name="decision"' in page.text:
        page = _consent(browser, live_idp, page)

    # 5. Back at the licence page, in the same visit, with the verified names.
    assert page.url == f"{eservice}/licence/apply", page.text
    assert page.status_code == 200
    assert f"<code>{PROOFED_ACR}</code>" in page.text
    assert "Verified identity confirmed: <strong>Somchai Jaidee</strong>" in page.text
    for value in ('<span lang="th">สมชาย</span>', '<span lang="th">ใจดี</span>', "<span>Somchai</span>",
                  "<span>Jaidee</span>", "<span>1985-03-14</span>", "<code>nist_800_63A</code>", "<code>IAL2</code>",
                  "<code>vri</code>", "National ID card"):
        assert value in page.text, value

    cookie = next(c.value for c in browser.cookies if c.name == "eservice_session")
    print(f"eservice_session cookie: {len(cookie)} bytes")
    assert len(cookie) <= 4093, "the session cookie (ID token with verified_claims) no longer fits in a browser"

    # 6. Again, later in the same session: the page opens without another trip to the IdP.
    again = browser.get(f"{eservice}/licence/apply", headers=HEADERS, timeout=10, allow_redirects=False)
    assert again.status_code == 200


def test_a_case_sent_to_review_ends_with_the_proofing_message(live_idp: LiveIdp, eservice: str) -> None:
    secret = pyotp.random_base32()
    email_address, password = _person(live_idp, secret)
    browser = requests.Session()
    page = browser.get(f"{eservice}/licence/apply", headers=HEADERS, timeout=10)
    page = _sign_in(browser, live_idp, page, email_address, password)
    page = _second_factor(browser, live_idp, page, secret)
    page = _start_proofing(browser, live_idp, page, MISMATCHED_CARD)
    for _ in range(2):  # the form again, to correct, without saying what failed; the third goes to an officer
        assert page.status_code == 400 and "do not match the national registry" in page.text, page.text
        action, fields = _form(page.text, 'name="laser_code"')
        page = browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10, data={**fields, **MISMATCHED_CARD})
    assert "/proofing" in page.url and "/proofing/confirm" not in page.url, page.text  # with an officer now
    back = re.search(r'<a href="([^"]+)">Back to the e-Service</a>', page.text)
    assert back, page.text
    page = browser.get(live_idp.issuer + back.group(1).replace("&amp;", "&"), headers=HEADERS, timeout=10)
    assert page.url.startswith(f"{eservice}/callback?"), page.url
    assert "error=unmet_authentication_requirements" in page.url
    assert page.status_code == 400
    assert (f'This needs a verified identity (IAL2). Verify your identity at <a href="{live_idp.issuer}/proofing">'
            in page.text)
