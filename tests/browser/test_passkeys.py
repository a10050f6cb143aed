"""Passkeys in a real browser: Debian's Chromium, Playwright and Chromium's virtual authenticator.

What a person does: add a passkey on the Security page, sign out, sign in with it and no email
address, step up from a password to the passkey for an e-Service that asks for AAL2; and what they
see when their device does not verify them. Each test also checks what the IdP stored.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.audit.models import AuditEvent
from idp.authn import messages
from idp.authn.models import WebAuthnCredential
from tests.browser.conftest import Authenticator
from tests.browser.conftest import EService
from tests.browser.conftest import LiveIdp
from tests.browser.conftest import add_authenticator
from tests.browser.conftest import new_context
from tests.factories import PASSWORD
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import pkce_pair

pytestmark = pytest.mark.browser

EMAIL = "citizen@example.com"
AAL2 = "urn:th:digitalid:ial1:aal2"


# -- what a person does ------------------------------------------------------------------------------


def sign_in_with_password(page: Any, live: LiveIdp, *, expect_url: str | re.Pattern[str] | None = None) -> None:
    """Fill the sign-in form (opening it first unless the browser is already on it)."""
    if "/signin" not in page.url:
        page.goto(f"{live.url}/signin")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/signin'] button[type=submit]")
    if expect_url is not None:
        page.wait_for_url(expect_url)


def register_passkey(page: Any, live: LiveIdp, name: str) -> None:
    page.goto(f"{live.url}/security/passkeys/new?kind=passkey")
    page.fill("#credential-name", name)
    page.click("#webauthn-register")
    page.wait_for_url(f"{live.url}/security")


def sign_out(page: Any, live: LiveIdp) -> None:
    page.goto(f"{live.url}/")
    with page.expect_navigation():
        page.click("form[action='/signout'] button[type=submit]")
    assert_signed_out(page, live)


def assert_signed_out(page: Any, live: LiveIdp) -> None:
    """The home page offers to sign in, and shows no one's email address."""
    page.goto(f"{live.url}/")
    assert EMAIL not in page.inner_text("main")
    assert page.locator("form[action='/signout']").count() == 0
    assert page.locator("main a[href='/signin']").count() == 1


def assert_signed_in(page: Any, live: LiveIdp) -> None:
    """The home page names the person and offers to sign out."""
    if page.url != f"{live.url}/":
        page.goto(f"{live.url}/")
    assert EMAIL in page.inner_text("main")
    assert page.locator("form[action='/signout']").count() == 1


def wait_for_webauthn_failure(page: Any) -> str:
    """The error the page shows after a refused ceremony (webauthn.js sets ``webauthnResult``)."""
    page.wait_for_function("() => window.webauthnResult && window.webauthnResult.ok === false")
    box = page.locator("#webauthn-error")
    assert box.is_visible()
    text: str = box.inner_text()
    assert text.strip()
    return text


# -- what the IdP stored -----------------------------------------------------------------------------


def user_row(live: LiveIdp) -> User:
    with live.db() as db:
        user = db.scalar(select(User).where(User.email == EMAIL))
        assert user is not None
        return user


def credentials_of(live: LiveIdp, user_id: int) -> list[WebAuthnCredential]:
    with live.db() as db:
        return list(db.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id)))


def sessions_of(live: LiveIdp, user_id: int) -> list[AuthSession]:
    with live.db() as db:
        return list(db.scalars(select(AuthSession).where(AuthSession.user_id == user_id)
                               .order_by(AuthSession.created_at)))


def english(live: LiveIdp, text: Callable[[], str]) -> str:
    """A message of the IdP as an English-speaking browser gets it."""
    with live.app.test_request_context(headers={"Accept-Language": "en"}):
        return text()


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a signed JWT (its signature is tested in tests/http)."""
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


# -- the tests ---------------------------------------------------------------------------------------


def test_register_a_passkey(live_idp: LiveIdp, page: Any, authenticator: Authenticator) -> None:
    """A password-only account adds its first passkey at AAL1; the Security page lists it."""
    make_user(live_idp.app)
    sign_in_with_password(page, live_idp, expect_url=f"{live_idp.url}/")
    assert_signed_in(page, live_idp)

    register_passkey(page, live_idp, "My phone")

    notice = page.locator("p.notice").inner_text()
    assert notice.startswith("Added") and "My phone" in notice
    listed = page.locator("ul.authenticators li", has_text="My phone")
    assert listed.count() == 1
    assert "passkey" in listed.inner_text()

    user = user_row(live_idp)
    [cred] = credentials_of(live_idp, user.id)
    assert cred.name == "My phone"
    assert cred.discoverable is True and cred.user_verifying is True
    # The IdP asks for direct attestation; with no trusted roots configured it is not AAL3 hardware.
    assert cred.attestation_format in ("packed", "none")
    assert cred.hardware_bound is False

    [virtual] = authenticator.credentials()
    assert virtual["isResidentCredential"] is True
    assert virtual["rpId"] == "localhost"
    assert b64url_decode(virtual["credentialId"]) == cred.credential_id
    assert user.webauthn_handle is not None
    assert base64.b64decode(virtual["userHandle"]) == user.webauthn_handle.encode("ascii")
    assert cred.sign_count == virtual["signCount"]


def test_username_less_sign_in_with_the_passkey(live_idp: LiveIdp, page: Any, authenticator: Authenticator) -> None:
    make_user(live_idp.app)
    sign_in_with_password(page, live_idp, expect_url=f"{live_idp.url}/")
    register_passkey(page, live_idp, "My phone")
    user = user_row(live_idp)
    [before] = credentials_of(live_idp, user.id)
    assert before.last_used_at is None
    sign_out(page, live_idp)
    [password_session] = sessions_of(live_idp, user.id)
    assert password_session.ended_at is not None

    page.goto(f"{live_idp.url}/signin")
    page.click("#passkey-signin")  # no email, no password
    page.wait_for_url(f"{live_idp.url}/")
    assert_signed_in(page, live_idp)

    [after] = credentials_of(live_idp, user.id)
    assert after.sign_count > before.sign_count
    assert after.sign_count == authenticator.credentials()[0]["signCount"]
    assert after.last_used_at is not None
    sessions = sessions_of(live_idp, user.id)
    assert len(sessions) == 2
    passkey_session = sessions[-1]
    assert passkey_session.ended_at is None
    assert passkey_session.acr == AAL2  # a user-verifying passkey is AAL2 on its own
    assert "pwd" not in passkey_session.amr
    assert {"swk", "user", "mfa"} <= set(passkey_session.amr)

    assert_signed_in(page, live_idp)  # the session survives a new page load


def test_passkey_from_the_email_fields_autofill_returns_to_the_eservice(
        live_idp: LiveIdp, eservice: EService, browser: Any) -> None:
    """Conditional UI: the sign-in page asks for a passkey as it loads (``autocomplete="username webauthn"``).

    Chromium's virtual authenticator answers that request at once, as if the person had picked
    the passkey in the email field's autofill; the browser must end up back at the e-Service.
    """
    make_user(live_idp.app)
    context = new_context(browser, conditional_ui=True)
    try:
        page = context.new_page()
        add_authenticator(page)
        page.goto(f"{live_idp.url}/signin")  # no passkey yet: the pending request must not get in the way
        assert page.get_attribute("#email", "autocomplete") == "username webauthn"
        sign_in_with_password(page, live_idp, expect_url=f"{live_idp.url}/")
        register_passkey(page, live_idp, "My phone")
        sign_out(page, live_idp)
        registered = make_client(live_idp.app, trusted=True, redirect_uris=[eservice.redirect_uri])

        page.goto(live_idp.url + authorize_url(registered.client.client_id, pkce_pair()[1],
                                               redirect_uri=eservice.redirect_uri))
        page.wait_for_url(f"{eservice.redirect_uri}?**")
    finally:
        context.close()
    [callback] = eservice.callbacks
    assert callback["state"] == "st-123" and "code" in callback, callback
    user = user_row(live_idp)
    password_session, passkey_session = sessions_of(live_idp, user.id)
    assert password_session.ended_at is not None
    assert passkey_session.ended_at is None and "pwd" not in passkey_session.amr
    assert {"swk", "mfa"} <= set(passkey_session.amr)


def test_step_up_from_password_to_passkey_for_an_aal2_eservice(
        live_idp: LiveIdp, eservice: EService, page: Any, authenticator: Authenticator, tmp_path: Path) -> None:
    """An e-Service asks for AAL2; the person signs in with a password, then is asked for the passkey only."""
    make_user(live_idp.app)
    sign_in_with_password(page, live_idp, expect_url=f"{live_idp.url}/")
    register_passkey(page, live_idp, "My phone")
    sign_out(page, live_idp)
    user = user_row(live_idp)
    sessions_before = {s.id for s in sessions_of(live_idp, user.id)}
    registered = make_client(live_idp.app, trusted=True, redirect_uris=[eservice.redirect_uri])
    client_id = registered.client.client_id

    verifier, challenge = pkce_pair()
    page.goto(live_idp.url + authorize_url(client_id, challenge, acr_values=AAL2,
                                           redirect_uri=eservice.redirect_uri))
    page.wait_for_url(re.compile(re.escape(f"{live_idp.url}/signin?")))
    sign_in_with_password(page, live_idp, expect_url=re.compile(re.escape(f"{live_idp.url}/signin/more?")))

    # Only the missing factor is asked for: the passkey, not the password again.
    assert "two-step sign-in" in page.inner_text("main")
    assert page.locator("#passkey-stepup").is_visible()
    assert page.locator("input[type=password]").count() == 0
    assert eservice.callbacks == []
    page.screenshot(path=str(tmp_path / "step-up.png"), full_page=True)
    assert (tmp_path / "step-up.png").stat().st_size > 0

    page.click("#passkey-stepup")
    page.wait_for_url(f"{eservice.redirect_uri}?**")
    assert "Back at the e-Service" in page.inner_text("body")
    [callback] = eservice.callbacks
    assert callback["state"] == "st-123"
    assert callback["iss"] == live_idp.url
    assert "code" in callback, callback

    response = exchange(live_idp.app.test_client(), callback["code"], client_id=client_id,
                        secret=registered.client_secret, verifier=verifier, redirect_uri=eservice.redirect_uri)
    assert response.status_code == 200, response.text
    claims = jwt_claims(response.json["id_token"])
    assert claims["iss"] == live_idp.url
    assert client_id in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
    assert claims["nonce"] == "n-456"
    assert claims["acr"] == AAL2
    assert "pwd" in claims["amr"] and "mfa" in claims["amr"]
    assert {"swk", "hwk"} & set(claims["amr"])

    # One new session, the password sign-in, stepped up in place with the passkey.
    [stepped_up] = [s for s in sessions_of(live_idp, user.id) if s.id not in sessions_before]
    assert stepped_up.ended_at is None
    assert stepped_up.acr == AAL2 and {"pwd", "swk", "mfa"} <= set(stepped_up.amr)
    with live_idp.db() as db:
        events = list(db.scalars(select(AuditEvent).where(AuditEvent.user_id == user.id,
                                                          AuditEvent.event.in_(("signin", "step_up")))
                                 .order_by(AuditEvent.id)))
    assert [(e.event, e.details.get("aal")) for e in events[-2:]] == [("signin", 1), ("step_up", 2)]


def test_passkey_sign_in_refused_without_user_verification(
        live_idp: LiveIdp, page: Any, authenticator: Authenticator) -> None:
    """A passkey alone must verify the user (PIN or biometrics); presence is not enough."""
    make_user(live_idp.app)
    sign_in_with_password(page, live_idp, expect_url=f"{live_idp.url}/")
    register_passkey(page, live_idp, "My phone")
    sign_out(page, live_idp)
    user = user_row(live_idp)
    [before] = credentials_of(live_idp, user.id)
    sessions_before = {s.id for s in sessions_of(live_idp, user.id)}

    authenticator.set_user_verified(False)  # the device is there, but its owner is not verified

    # 1. The IdP asks for user verification, so the browser refuses by itself: nothing is sent.
    posted: list[str] = []
    page.on("request", lambda request: posted.append(urlsplit(request.url).path) if request.method == "POST" else None)
    page.goto(f"{live_idp.url}/signin")
    page.click("#passkey-signin")
    message = wait_for_webauthn_failure(page)
    assert message == page.get_attribute("#webauthn-error", "data-fallback")
    assert page.url.startswith(f"{live_idp.url}/signin")
    assert posted == ["/webauthn/authenticate/options"]

    # 2. A client that lowers the request gets an assertion without UV: the IdP itself refuses it.
    asked: list[str] = []

    def lower_uv(route: Any) -> None:
        response = route.fetch()
        options = response.json()
        asked.append(options["userVerification"])
        route.fulfill(response=response, json={**options, "userVerification": "discouraged"})

    page.route(f"{live_idp.url}/webauthn/authenticate/options", lower_uv)
    page.goto(f"{live_idp.url}/signin")
    page.click("#passkey-signin")
    message = wait_for_webauthn_failure(page)
    assert asked == ["required"]
    assert message == english(live_idp, lambda: messages.webauthn_error("uv_required"))
    assert page.url.startswith(f"{live_idp.url}/signin")

    assert_signed_out(page, live_idp)
    assert {s.id for s in sessions_of(live_idp, user.id)} == sessions_before  # no session was started
    [after] = credentials_of(live_idp, user.id)
    assert after.sign_count == before.sign_count and after.last_used_at is None
    with live_idp.db() as db:
        refusals = list(db.scalars(select(AuditEvent).where(AuditEvent.event == "signin_failed")))
    assert [(e.details.get("reason"), e.user_id) for e in refusals] == [("uv_required", user.id)]
