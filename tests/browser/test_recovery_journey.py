"""A forgotten password in a real browser, in Thai and in English, end to end: the demo e-Service sends
the person to sign in; they choose their language with the switch in the header (their browser speaks
the other one), take "Forgot your password?", open the link from the outbox, give the code of their
authenticator app, choose a new password, and are signed in and back at the e-Service. The same link,
opened again, no longer works. Each step is photographed (``screenshots/``)."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from idp.accounts.passwords import verify_password
from idp.authn import totp
from idp.db import get_session
from tests.browser.conftest import BROWSER_LOCALES
from tests.browser.conftest import DemoEService
from tests.browser.conftest import LiveIdp
from tests.browser.conftest import Screenshots
from tests.browser.conftest import browsing
from tests.browser.test_journey import consent
from tests.browser.test_journey import stored_user
from tests.browser.test_journey import waiting_for
from tests.factories import make_user

pytestmark = pytest.mark.browser

ADDRESS = "citizen@example.com"
NEW_PASSWORD = "a brand new passphrase"
SECRET = pyotp.random_base32()


def make_account_with_app(live: LiveIdp) -> None:
    """An account with a password and an authenticator app (so the reset asks for its code)."""
    user = make_user(live.app, ADDRESS, name="Somsri Rakthai")
    with live.app.app_context():
        db = get_session()
        totp.import_secret(db, db.merge(user), SECRET, name="My phone", config=live.app.config)


def mailed_link(live: LiveIdp, address: str, subject: str) -> str:
    head, _, body = live.mail_to(address)[-1].partition("\n\n")
    assert f"\nSubject: {subject}\n" in f"\n{head}\n", head
    found = re.search(re.escape(live.url) + r"/password/reset/\S+", body)
    assert found, body
    return found.group(0)


def test_forgotten_password_from_the_sign_in_page_back_to_the_eservice_and_the_link_works_once(
        browser: Any, live_idp: LiveIdp, demo_eservice: DemoEService, lang: str, screenshots: Screenshots) -> None:
    make_account_with_app(live_idp)
    other = BROWSER_LOCALES["en" if lang == "th" else "th"]
    with browsing(browser, live_idp, lang, screenshots, locale=other) as journey:
        page = journey.page
        page.goto(f"{demo_eservice.url}/login")
        page.wait_for_url(re.compile(re.escape(f"{live_idp.url}/signin?")))
        page.select_option("#lang", lang)  # the language switch in the header
        journey.submit("form.lang")
        journey.step("sign-in")

        with page.expect_navigation():
            page.click(f"main a[href^='/password/forgot']:text-is('{journey.words('Forgot your password?')}')")
        page.fill("#email", ADDRESS)
        journey.step("forgot-your-password")
        journey.submit("form[action='/password/forgot']")
        assert page.url == f"{live_idp.url}/password/forgot/sent"
        waiting_for(journey, demo_eservice)  # each page names the e-Service the person is on the way to
        journey.step("check-your-email")

        link = mailed_link(live_idp, ADDRESS, journey.words("Reset your Digital ID password"))
        page.goto(link)  # the person opens the link in the email
        waiting_for(journey, demo_eservice)
        journey.step("reset-link")
        journey.submit("main form[action^='/password/reset/']")
        assert page.url == f"{live_idp.url}/password/reset"
        waiting_for(journey, demo_eservice)
        journey.step("second-factor")
        page.fill("#code", pyotp.TOTP(SECRET).now())
        journey.submit("form:has(input[name=method][value=totp])")

        waiting_for(journey, demo_eservice)
        journey.step("new-password")
        page.fill("#password", NEW_PASSWORD)
        journey.submit("form:has(input[name=step][value=password])")
        assert page.url == f"{live_idp.url}/password/reset/done"
        waiting_for(journey, demo_eservice)
        journey.step("password-changed")
        with page.expect_navigation():
            page.click("main a.button")  # continue to the e-Service
        consent(journey, demo_eservice)
        assert page.url == f"{demo_eservice.url}/"
        assert "Welcome, Somsri Rakthai" in page.inner_text("main")
        journey.step("back-at-the-eservice")

        # The link works once.
        answer = page.goto(link)
        assert answer.status == 400
        assert page.inner_text("h1") == journey.words("This link does not work")
        assert page.locator("main form[action^='/password/reset/']").count() == 0
        journey.step("link-used-again")

    assert verify_password(NEW_PASSWORD, expected_hash=stored_user(live_idp, ADDRESS).password_hash)
