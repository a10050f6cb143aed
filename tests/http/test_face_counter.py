"""The officer's reader at the counter submits the card's chip read: a genuine read that agrees
with the card details adds the ``chip`` check to the in-person identity; any other is refused."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from idp.db import get_session
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from tests.factories import make_user
from tests.http.test_officer import APPLICANT
from tests.http.test_officer import OFFICER
from tests.http.test_officer import applicant_at_counter
from tests.http.test_officer import bind
from tests.http.test_officer import counter_form
from tests.http.test_officer import events
from tests.http.test_officer import make_officer
from tests.http.test_officer import signed_in
from tests.http.test_officer import token
from tests.http.test_officer import with_totp
from tests.support.chips import ISSUERS_JWKS
from tests.support.chips import chip_document

SOMCHAI = "1999900001010"


@pytest.fixture
def officer(app, clock):
    app.config["PROOFING_CHIP_ISSUERS_JWKS"] = str(ISSUERS_JWKS)
    make_user(app, APPLICANT)
    with_totp(app, APPLICANT)
    make_officer(app)
    return signed_in(app, clock, OFFICER)


def at_counter(officer, document):
    data = {"csrf_token": token(officer), **counter_form(SOMCHAI)}
    if document is not None:
        data["chip"] = (io.BytesIO(document), "chip.json")
    return officer.post("/officer/counter", data=data, content_type="multipart/form-data")


def test_a_genuine_chip_read_at_the_counter_adds_the_chip_check(app, clock, officer):
    page = officer.get("/officer/counter")
    assert '<label for="chip">' in page.text and 'enctype="multipart/form-data"' in page.text
    response = at_counter(officer, chip_document())
    assert response.status_code == 200 and "data-counter-code" in response.text
    code = response.text.split("data-counter-code>")[1][:6]
    with app.app_context():
        case = get_session().scalar(select(ProofingCase).where(ProofingCase.channel == "counter"))
        assert (case.checks["chip"], case.checks["chip_issuer"]) == ("valid", "demo-card-issuer")
    assert bind(applicant_at_counter(app, clock), code).status_code == 200
    with app.app_context():
        identity = get_session().scalar(select(VerifiedIdentity))
        assert identity.ial == 3
        assert identity.evidence[0]["checks"] == ["chip", "in_person"]
        assert {"check_method": "vcrypt"} in identity.evidence[0]["check_details"]
    assert events(app, "proofing_chip_read")[-1].details["outcome"] == "valid"


def test_without_a_chip_read_the_counter_records_in_person_only(app, clock, officer):
    response = at_counter(officer, None)
    code = response.text.split("data-counter-code>")[1][:6]
    bind(applicant_at_counter(app, clock), code)
    with app.app_context():
        assert get_session().scalar(select(VerifiedIdentity)).evidence[0]["checks"] == ["in_person"]


@pytest.mark.parametrize("document, message", [
    (chip_document(birthdate="1985-03-15"), "differs from the card details"),
    (chip_document(cid="1999900001028"), "differs from the card details"),
    (b'{"format": "th-id-chip/1", "jws": "x.y.z"}', "signature is not valid"),
    (b"{}", "not a chip read"),
])
def test_a_chip_read_that_fails_stops_the_counter_form(app, officer, document, message):
    response = at_counter(officer, document)
    assert response.status_code == 400 and message in response.text
    assert 'href="#chip"' in response.text
    with app.app_context():
        assert get_session().scalar(select(ProofingCase)) is None
    assert events(app, "proofing_chip_read")[-1].details["outcome"] == "invalid"
