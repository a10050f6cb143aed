"""The journey in a real browser, in Thai and in English: from the demo e-Service's renew page, which
needs a second factor (``ial1:aal2``), sign up, confirm the email with the six-digit code from the
outbox, add an authenticator app (or, in the other test, a passkey in Chromium's virtual
authenticator) on the way, keep the recovery codes, consent, and land back on the renew page with
``urn:th:digitalid:ial1:aal2`` in the ID token. Each step is photographed (``screenshots/``)."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.models import User
from tests.browser.conftest import DemoEService
from tests.browser.conftest import Journey
from tests.browser.conftest import LiveIdp
from tests.browser.conftest import add_authenticator

pytestmark = pytest.mark.browser

AAL2 = "urn:th:digitalid:ial1:aal2"
ADDRESS = "malee@example.com"
PASSWORD = "plenty long phrase"


# -- what a person does ------------------------------------------------------------------------------


def mailed_code(live: LiveIdp, address: str, subject: str) -> str:
    """The six-digit code in the newest message to ``address``, whose subject must be ``subject``
    (so it was written in the person's language)."""
    text = live.mail_to(address)[-1]
    head, _, body = text.partition("\n\n")
    assert f"\nSubject: {subject}\n" in f"\n{head}\n", head
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def waiting_for(journey: Journey, demo: DemoEService) -> str:
    """The e-Service each page of the journey names (the aside): the demo's name in the page's language."""
    service = demo.name_th if journey.lang == "th" else demo.name
    assert service in journey.page.inner_text("aside.journey"), journey.page.url
    return service


def sign_up_on_the_way(journey: Journey, demo: DemoEService, path: str, *, address: str = ADDRESS,
                       name: str = "Malee Srisuk") -> None:
    """From the e-Service's ``path`` to the IdP, create an account there and confirm its email with the code.

    Each page names the waiting e-Service, in the person's language.
    """
    page = journey.page
    page.goto(demo.url + path)
    page.wait_for_url(re.compile(re.escape(journey.live.url + "/signin?")))
    waiting_for(journey, demo)
    journey.step("sign-in")

    with page.expect_navigation():
        page.click("main a[href^='/signup?']")
    waiting_for(journey, demo)
    page.fill("#name", name)
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    journey.step("sign-up")
    journey.submit("form[action='/signup']")
    assert "/signup/code?" in page.url
    waiting_for(journey, demo)
    journey.step("email-code")

    page.fill("#code", mailed_code(journey.live, address, journey.words("Confirm your email address")))
    journey.submit("form[action='/signup/code']")
    # The e-Service needs a second factor and the new account has none: adding one is offered.
    assert "/signin/more?" in page.url
    waiting_for(journey, demo)
    assert page.locator("section.enrol").is_visible()
    journey.step("add-a-second-factor")


def add_authenticator_app(journey: Journey, demo: DemoEService) -> None:
    """Take "use an authenticator app instead", type the key shown into the app, enter its code."""
    page = journey.page
    with page.expect_navigation():
        page.click("section.enrol a[href^='/security/totp?']")
    waiting_for(journey, demo)
    secret = page.inner_text("#totp-secret").replace(" ", "")
    journey.step("authenticator-app")
    page.fill("#code", pyotp.TOTP(secret).now())
    journey.submit("form[action='/security/totp']")


def add_passkey(journey: Journey, demo: DemoEService) -> None:
    page = journey.page
    with page.expect_navigation():
        page.click("section.enrol a[href^='/security/passkeys/new?kind=passkey']")
    waiting_for(journey, demo)
    page.fill("#credential-name", "My phone")
    journey.step("passkey")
    page.click("#webauthn-register")


def keep_recovery_codes(journey: Journey, demo: DemoEService) -> None:
    """The recovery codes are offered after the first second factor: show them, then go on."""
    page = journey.page
    page.wait_for_url(re.compile(r".*/security/recovery-codes\?.*"))
    waiting_for(journey, demo)
    journey.step("recovery-codes-offered")
    journey.submit("form[action='/security/recovery-codes']")
    assert page.locator("#recovery-codes li").count() == 10
    waiting_for(journey, demo)
    journey.step("recovery-codes")
    with page.expect_navigation():
        page.click("main a.button")


def consent(journey: Journey, demo: DemoEService) -> None:
    """The consent page names the e-Service; allowing it goes back there."""
    page = journey.page
    assert waiting_for(journey, demo) in page.inner_text("h1")
    journey.step("consent")
    with page.expect_navigation():
        page.click("button[name=decision][value=allow]")
    page.wait_for_url(re.compile(re.escape(demo.url) + r"/.*"))


def id_token_row(page: Any, claim: str) -> str:
    """What the demo e-Service's page shows of ``claim`` from the ID token ("How you signed in")."""
    row = page.locator("tr", has=page.locator(f"th code:text-is('{claim}')")).first
    return str(row.locator("td").inner_text())


def assert_back_on_the_renew_page(journey: Journey, demo: DemoEService, *, amr: str) -> None:
    page = journey.page
    assert page.url == f"{demo.url}/permit/renew"
    assert "Strong sign-in confirmed" in page.inner_text("main")
    assert id_token_row(page, "acr").split()[0] == AAL2
    assert {"pwd", amr, "mfa"} <= set(re.split(r"[,\s]+", id_token_row(page, "amr").strip()))
    journey.step("back-at-the-eservice")


def stored_user(live: LiveIdp, address: str) -> User:
    with live.db() as db:
        user = db.scalar(select(User).where(User.email == address))
        assert user is not None
        return user


# -- the tests ---------------------------------------------------------------------------------------


def test_sign_up_from_the_demo_eservice_adds_an_authenticator_app_and_returns_with_aal2(
        journey: Journey, live_idp: LiveIdp, demo_eservice: DemoEService) -> None:
    sign_up_on_the_way(journey, demo_eservice, "/permit/renew")
    add_authenticator_app(journey, demo_eservice)
    keep_recovery_codes(journey, demo_eservice)
    consent(journey, demo_eservice)
    assert_back_on_the_renew_page(journey, demo_eservice, amr="otp")
    user = stored_user(live_idp, ADDRESS)
    assert user.email_verified


def test_sign_up_from_the_demo_eservice_adds_a_passkey_and_returns_with_aal2(
        journey: Journey, live_idp: LiveIdp, demo_eservice: DemoEService) -> None:
    authenticator = add_authenticator(journey.page)
    sign_up_on_the_way(journey, demo_eservice, "/permit/renew")
    add_passkey(journey, demo_eservice)
    keep_recovery_codes(journey, demo_eservice)
    assert len(authenticator.credentials()) == 1
    consent(journey, demo_eservice)
    assert_back_on_the_renew_page(journey, demo_eservice, amr="swk")
