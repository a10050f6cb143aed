"""Sessions ended from the Security page, in real browsers, in Thai and in English: the person is
signed in on a laptop and elsewhere (separate browser profiles, each with its own User-Agent); on the
laptop's Security page they sign out every other browser, or just their phone, and the next page
that browser loads finds itself signed out. Each step of every browser is photographed, numbered in
the order it happened (``screenshots/``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Journey
from tests.browser.conftest import LiveIdp
from tests.browser.conftest import Screenshots
from tests.browser.conftest import browsing
from tests.factories import PASSWORD
from tests.factories import make_user

pytestmark = pytest.mark.browser

ADDRESS = "citizen@example.com"
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Mobile Safari/537.36")
TABLET = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


@contextlib.contextmanager
def signed_in(browser: Any, live: LiveIdp, lang: str, shots: Screenshots, name: str,
              user_agent: str | None = None) -> Iterator[Journey]:
    """A browser profile that has signed in with the password; its pictures are prefixed ``name``."""
    with browsing(browser, live, lang, shots, user_agent=user_agent) as journey:
        page = journey.page
        page.goto(f"{live.url}/signin")
        page.fill("#email", ADDRESS)
        page.fill("#password", PASSWORD)
        journey.submit("form[action='/signin']")
        assert_signed_in(journey)
        journey.step(f"{name}-signed-in")
        yield journey


def assert_signed_in(journey: Journey) -> None:
    assert journey.page.url == f"{journey.live.url}/"
    assert ADDRESS in journey.page.inner_text("main")
    assert journey.page.locator("form[action='/signout']").count() == 1


def assert_signed_out(journey: Journey) -> None:
    """The next page load (the home page, again) is signed out; the Security page asks to sign in."""
    page = journey.page
    page.reload()
    assert ADDRESS not in page.inner_text("main")
    assert page.locator("form[action='/signout']").count() == 0
    page.goto(f"{journey.live.url}/security")
    assert page.url.startswith(f"{journey.live.url}/signin?")


def open_security_page(journey: Journey, rows: int) -> None:
    journey.page.goto(f"{journey.live.url}/security")
    assert journey.page.locator("table.sessions tbody tr").count() == rows


def browser_row(journey: Journey, browser: str, system: str) -> Any:
    """The Security page's row for ``browser on system``, as the person reads it."""
    label = journey.words("%(browser)s on %(system)s", browser=browser, system=system)
    return journey.page.locator("table.sessions tbody tr", has_text=label)


def test_sign_out_all_other_browsers_from_the_security_page(
        browser: Any, live_idp: LiveIdp, lang: str, screenshots: Screenshots) -> None:
    make_user(live_idp.app, ADDRESS)
    with signed_in(browser, live_idp, lang, screenshots, "laptop") as laptop, \
            signed_in(browser, live_idp, lang, screenshots, "phone", user_agent=PHONE) as phone:
        open_security_page(laptop, rows=2)
        assert browser_row(laptop, "Chrome", "Android").count() == 1
        laptop.step("laptop-security-page")
        laptop.submit("main form[action='/security/sessions/end-others']")
        notice = laptop.words("%(num)d other browser was signed out.", "%(num)d other browsers were signed out.",
                              num=1)
        assert notice in laptop.page.inner_text("main p.notice")
        open_security_page(laptop, rows=1)
        laptop.step("laptop-others-signed-out")

        assert_signed_out(phone)
        phone.step("phone-signed-out")
        laptop.page.goto(f"{live_idp.url}/")
        assert_signed_in(laptop)


def test_sign_out_one_browser_from_the_security_page(
        browser: Any, live_idp: LiveIdp, lang: str, screenshots: Screenshots) -> None:
    make_user(live_idp.app, ADDRESS)
    with signed_in(browser, live_idp, lang, screenshots, "laptop") as laptop, \
            signed_in(browser, live_idp, lang, screenshots, "phone", user_agent=PHONE) as phone, \
            signed_in(browser, live_idp, lang, screenshots, "tablet", user_agent=TABLET) as tablet:
        open_security_page(laptop, rows=3)
        laptop.step("laptop-security-page")
        with laptop.page.expect_navigation():
            browser_row(laptop, "Chrome", "Android").locator(
                "form[action='/security/sessions/end'] button[type=submit]").click()
        assert laptop.words("That browser was signed out.") in laptop.page.inner_text("main p.notice")
        open_security_page(laptop, rows=2)
        assert browser_row(laptop, "Chrome", "Android").count() == 0
        assert browser_row(laptop, "Firefox", "Windows").count() == 1
        laptop.step("laptop-phone-signed-out")

        assert_signed_out(phone)
        phone.step("phone-signed-out")
        tablet.page.reload()
        assert_signed_in(tablet)
        tablet.step("tablet-still-signed-in")
