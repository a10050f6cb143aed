"""The journey in a real browser: from an e-Service that needs AAL2, sign up, confirm the email with
the code, add a passkey on the way (Chromium's virtual authenticator), keep the recovery codes,
consent, and land back at the e-Service with ``ial1:aal2``."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Authenticator
from tests.browser.conftest import EService
from tests.browser.conftest import LiveIdp
from tests.factories import make_client
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import pkce_pair

pytestmark = pytest.mark.browser

AAL2 = "urn:th:digitalid:ial1:aal2"
ADDRESS = "malee@example.com"


def mailed_code(live: LiveIdp) -> str:
    for path in sorted(Path(live.app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found = re.search(r"\b(\d{6})\b", message.get_body(("plain",)).get_content())
        if message["To"] == ADDRESS and found:
            return found.group(1)
    raise AssertionError("no code mailed")


def test_sign_up_from_an_eservice_adds_a_passkey_and_returns_with_aal2(
        live_idp: LiveIdp, eservice: EService, page: Any, authenticator: Authenticator) -> None:
    registered = make_client(live_idp.app, name="Restaurant licence", redirect_uris=[eservice.redirect_uri])
    verifier, challenge = pkce_pair()
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": [AAL2]}}})
    page.goto(live_idp.url + authorize_url(registered.client.client_id, challenge, claims=claims,
                                           redirect_uri=eservice.redirect_uri))
    assert "Restaurant licence" in page.inner_text("aside.journey")

    page.click("main a[href^='/signup?']")
    page.fill("#name", "Malee")
    page.fill("#email", ADDRESS)
    page.fill("#password", "plenty long phrase")
    with page.expect_navigation():
        page.click("form[action='/signup'] button[type=submit]")
    assert "/signup/code" in page.url and "Restaurant licence" in page.inner_text("aside.journey")

    page.fill("#code", mailed_code(live_idp))
    with page.expect_navigation():
        page.click("form[action='/signup/code'] button[type=submit]")
    assert "/signin/more" in page.url  # a second factor is needed: adding one is offered

    with page.expect_navigation():
        page.click("a[href^='/security/passkeys/new?kind=passkey']")
    page.fill("#credential-name", "My phone")
    page.click("#webauthn-register")
    page.wait_for_url(re.compile(r".*/security/recovery-codes\?.*"))
    assert len(authenticator.credentials()) == 1
    with page.expect_navigation():
        page.click("form[action='/security/recovery-codes'] button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10
    with page.expect_navigation():
        page.click("main a.button")
    assert "Restaurant licence" in page.inner_text("h1")  # the consent page
    page.click("button[name=decision][value=allow]")
    page.wait_for_url(f"{eservice.redirect_uri}?**")

    [callback] = eservice.callbacks
    assert callback["state"] == "st-123" and "code" in callback, callback
    response = exchange(live_idp.app.test_client(), callback["code"], client_id=registered.client.client_id,
                        secret=registered.client_secret, verifier=verifier, redirect_uri=eservice.redirect_uri)
    assert response.status_code == 200, response.text
    payload = response.json["id_token"].split(".")[1]
    claims_out = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims_out["acr"] == AAL2 and {"pwd", "swk", "mfa"} <= set(claims_out["amr"])
