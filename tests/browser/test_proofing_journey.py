"""The licence application in a real browser, in Thai and in English: the demo e-Service's
``/licence/apply`` needs a verified identity (``ial2:aal2``) and ``verified_claims``. A new citizen
signs up on the way, adds an authenticator app, then proves their identity with the ID card of the
demo registry's Somchai Jaidee (docs/registry-api.md): first with a typo in the laser code, which
brings the form back filled in, saying the details do not match without naming which; then
corrected, with the code the registry's contact address receives; and lands back on the
application with the verified name. Each step is photographed (``screenshots/``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.proofing.models import ProofingAttempt
from tests.browser.conftest import DemoEService
from tests.browser.conftest import Journey
from tests.browser.conftest import LiveIdp
from tests.browser.test_journey import add_authenticator_app
from tests.browser.test_journey import consent
from tests.browser.test_journey import id_token_row
from tests.browser.test_journey import keep_recovery_codes
from tests.browser.test_journey import mailed_code
from tests.browser.test_journey import sign_up_on_the_way
from tests.browser.test_journey import stored_user
from tests.browser.test_journey import waiting_for

pytestmark = pytest.mark.browser

PROOFED = "urn:th:digitalid:ial2:aal2"
ADDRESS = "somchai.jaidee@example.net"  # the account's address; the registry holds another
CONTACT_OF_RECORD = "somchai@example.com"
#: The demo registry's Somchai Jaidee; the birth year as the card shows it in each language's era.
CARD = {"number": "1-9999-00001-01-0", "laser_code": "JT0-1000001-01", "given_name_th": "สมชาย",
        "family_name_th": "ใจดี", "given_name": "Somchai", "family_name": "Jaidee"}
BORN = {"th": ("14", "3", "2528"), "en": ("14", "3", "1985")}
TYPO = "JT0-1000001-02"  # one digit off: laser_code_mismatch


def fill_card(journey: Journey, **changed: str) -> None:
    page = journey.page
    for name, value in {**CARD, **changed}.items():
        page.fill(f"#{name}", value)
    for part, value in zip(("day", "month", "year"), BORN[journey.lang], strict=True):
        page.fill(f"#birthdate-{part}", value)


def test_licence_application_proves_the_identity_after_one_typo_and_returns_with_ial2(
        journey: Journey, live_idp: LiveIdp, demo_eservice: DemoEService) -> None:
    page = journey.page
    sign_up_on_the_way(journey, demo_eservice, "/licence/apply", address=ADDRESS, name="Somchai Jaidee")
    add_authenticator_app(journey, demo_eservice)  # the second factor comes first, then proofing
    keep_recovery_codes(journey, demo_eservice)

    assert "/proofing?" in page.url
    waiting_for(journey, demo_eservice)
    journey.step("verify-your-identity")
    with page.expect_navigation():
        page.click("main a[href^='/proofing/start?']")
    fill_card(journey, laser_code=TYPO)
    journey.step("card-with-a-typo")
    journey.submit("form[action='/proofing/start']")

    # The form comes back filled in; it says the details do not match, never which one.
    assert "/proofing/start" in page.url
    waiting_for(journey, demo_eservice)
    assert page.inner_text("#mismatch-title") == journey.words("The details do not match the national registry")
    assert page.input_value("#laser_code") == TYPO
    assert page.input_value("#number") == CARD["number"] and page.input_value("#given_name") == "Somchai"
    assert [page.input_value(f"#birthdate-{part}") for part in ("day", "month", "year")] == list(BORN[journey.lang])
    assert page.locator("[aria-invalid=true], .field-error, .input-error").count() == 0
    assert page.locator("#mismatch li a").evaluate_all("links => links.map(a => a.hash)") == [
        "#number", "#laser_code", "#given_name_th", "#birthdate-day"]
    journey.step("details-do-not-match")

    page.fill("#laser_code", CARD["laser_code"])
    journey.submit("form[action='/proofing/start']")
    assert "/proofing/confirm?" in page.url
    waiting_for(journey, demo_eservice)
    journey.step("confirmation-code")
    page.fill("#code", mailed_code(live_idp, CONTACT_OF_RECORD, journey.words("Your identity confirmation code")))
    journey.submit("form[action='/proofing/confirm']")

    consent(journey, demo_eservice)
    assert page.url == f"{demo_eservice.url}/licence/apply"
    assert "Verified identity confirmed: Somchai Jaidee" in page.inner_text("main")
    assert id_token_row(page, "acr").split()[0] == PROOFED
    journey.step("back-at-the-eservice")

    user = stored_user(live_idp, ADDRESS)
    assert user.ial == 2
    with live_idp.db() as db:
        attempts = list(db.scalars(select(ProofingAttempt).where(ProofingAttempt.user_id == user.id)))
    assert [a.reasons for a in attempts] == [["laser_code_mismatch"]]  # the officer would see which
