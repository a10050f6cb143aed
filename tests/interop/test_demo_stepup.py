"""Step-up against a live IdP: the demo e-Service's renew page needs ial1:aal2, its API answers RFC 9470.

A person signs in with a password (aal1), the licence API refuses that access token with the
``insufficient_user_authentication`` challenge, the renew page sends the person to the IdP's step-up
page, a TOTP code raises the session to aal2, and the page opens. A person without a second factor gets
``unmet_authentication_requirements`` and a link to the Security page.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
import requests
from flask import Flask

from tests.interop.conftest import LiveIdp
from tests.interop.conftest import demo_eservice

pytestmark = pytest.mark.interop

HEADERS = {"Accept-Language": "en"}
CHALLENGE = ('Bearer error="insufficient_user_authentication", '
             'error_description="A sign-in with a second factor is required.", '
             'acr_values="urn:th:digitalid:ial1:aal2", max_age=600')


@dataclass(frozen=True)
class EService:
    base: str
    app: Flask

    def access_token(self, browser: requests.Session) -> str:
        """The access token the e-Service keeps in its (signed, not encrypted) session cookie."""
        cookie = next(c.value for c in browser.cookies if c.name == "eservice_session")
        token: str = self.app.session_interface.get_signing_serializer(self.app).loads(cookie)["access_token"]
        return token


@pytest.fixture(scope="module")
def eservice(live_idp: LiveIdp) -> Iterator[EService]:
    with demo_eservice(live_idp, "Restaurant licence (step-up demo)") as (base, app):
        yield EService(base, app)


def _person(live_idp: LiveIdp, *, totp_secret: str | None) -> tuple[str, str]:
    email, password = f"stepup-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
    live_idp.cli("users", "create", "--email", email, "--password", password, "--name", "Malee Rakdee")
    if totp_secret:
        live_idp.cli("users", "totp-import", "--email", email, "--secret", totp_secret)
    return email, password


def _form(html: str, marker: str) -> tuple[str, dict[str, str]]:
    """The POST form containing ``marker``: its action and hidden fields."""
    for match in re.finditer(r'(?s)<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', html):
        if marker in match.group(2):
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2)))
            return match.group(1).replace("&amp;", "&"), {k: v.replace("&amp;", "&") for k, v in hidden.items()}
    raise AssertionError(f"no form with {marker!r} in:\n{html}")


def _sign_in(browser: requests.Session, idp: LiveIdp, page: Any, email: str, password: str) -> Any:
    """Password sign-in at the IdP, then consent when it is asked for."""
    action, fields = _form(page.text, 'autocomplete="current-password"')
    page = browser.post(idp.issuer + action, headers=HEADERS, timeout=10,
                        data={**fields, "email": email, "password": password})
    if 'name="decision"' in page.text:
        page = _consent(browser, idp, page)
    return page


def _consent(browser: requests.Session, idp: LiveIdp, page: Any) -> Any:
    action, fields = _form(page.text, 'name="decision"')
    return browser.post(idp.issuer + action, headers=HEADERS, timeout=10, data={**fields, "decision": "allow"})


def test_password_then_totp_step_up_opens_the_renew_page(live_idp: LiveIdp, eservice: EService) -> None:
    secret = pyotp.random_base32()
    email, password = _person(live_idp, totp_secret=secret)
    browser = requests.Session()

    # 1. An ordinary sign-in: password only, ial1:aal1.
    page = browser.get(f"{eservice.base}/login", headers=HEADERS, timeout=10)
    page = _sign_in(browser, live_idp, page, email, password)
    assert page.url == f"{eservice.base}/", page.text
    assert "urn:th:digitalid:ial1:aal1" in page.text

    # 2. The licence API checks the IdP's real access token and asks for more (RFC 9470 §3).
    weak = eservice.access_token(browser)
    api = requests.get(f"{eservice.base}/api/licence", headers={"Authorization": f"Bearer {weak}"}, timeout=10)
    assert api.status_code == 401
    assert api.headers["WWW-Authenticate"] == CHALLENGE

    # 3. The renew page sends the person to the IdP, which asks only for the missing factor.
    page = browser.get(f"{eservice.base}/permit/renew", headers=HEADERS, timeout=10)
    assert "/signin/more" in page.url, page.text
    assert 'autocomplete="current-password"' not in page.text  # no password again
    action, fields = _form(page.text, 'name="method" value="totp"')
    page = browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10,
                        data={**fields, "code": pyotp.TOTP(secret).now()})
    if 'name="decision"' in page.text:
        page = _consent(browser, live_idp, page)
    assert page.url == f"{eservice.base}/permit/renew", page.text
    assert page.status_code == 200
    assert "<code>urn:th:digitalid:ial1:aal2</code>" in page.text
    assert "<code>otp</code>" in page.text
    assert "FOOD-2568-000123" in page.text  # the licence API accepted the new access token

    # 4. The new access token carries the new acr, amr and auth_time.
    strong = eservice.access_token(browser)
    api = requests.get(f"{eservice.base}/api/licence", headers={"Authorization": f"Bearer {strong}"}, timeout=10)
    assert api.status_code == 200, api.headers.get("WWW-Authenticate")
    assert api.json()["acr"] == "urn:th:digitalid:ial1:aal2"
    assert "otp" in api.json()["amr"]

    # 5. Tokens for another audience or client are refused.
    forged = strong[:-4] + ("AAAA" if not strong.endswith("AAAA") else "BBBB")
    api = requests.get(f"{eservice.base}/api/licence", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert api.status_code == 401
    assert api.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_without_a_second_factor_the_person_is_sent_to_the_security_page(live_idp: LiveIdp,
                                                                         eservice: EService) -> None:
    email, password = _person(live_idp, totp_secret=None)
    browser = requests.Session()
    page = browser.get(f"{eservice.base}/permit/renew", headers=HEADERS, timeout=10)
    page = _sign_in(browser, live_idp, page, email, password)
    if "/signin/more" in page.url:  # the IdP may show its step-up page with only "Cancel" left
        action, fields = _form(page.text, 'name="cancel"') if 'name="cancel"' in page.text else (None, {})
        assert action is not None, page.text
        page = browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10, data={**fields, "cancel": "1"})
    assert page.url.startswith(f"{eservice.base}/callback?"), page.url
    assert "error=unmet_authentication_requirements" in page.url
    assert page.status_code == 400
    assert "This needs a second factor" in page.text
    assert f'<a href="{live_idp.issuer}/security">' in page.text
