"""IAL2 remote proofing through the pages: automatic approval against the file registry, review,
registry down, duplicates, and an e-Service that needs IAL2 sending the person through proofing."""

import html
import json
import re
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.accounts.service import find_by_email
from idp.db import get_session
from idp.proofing import attempts
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import RegistryResult
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in

SOMCHAI = {"number": "1999900001010", "laser_code": "JT0-1000001-01", "given_name": "Somchai",
           "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี", "birthdate": "1985-03-14"}
IAL2 = "urn:th:digitalid:ial2:aal1"


@pytest.fixture
def user(app):
    return make_user(app, "somchai@example.com")


def submit(client, next_url=None, **changes):
    page = client.get("/proofing/start" + (f"?next={next_url}" if next_url else ""))
    data = {**SOMCHAI, **changes, "csrf_token": csrf_of(page.text)}
    if next_url:
        data["next"] = next_url
    return client.post("/proofing/start", data=data)


def to_review(client, next_url=None, **changes):
    """Mismatching details, submitted until the attempts are spent: the last one goes to an officer."""
    for _ in range(attempts.MAX_ATTEMPTS - 1):
        assert submit(client, next_url, **changes).status_code == 400  # the form again, to correct
    return submit(client, next_url, **changes)


def last_code(app, to="somchai@example.com"):
    for path in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"), reverse=True):
        mail = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        if mail["To"] == to:
            match = re.search(r"\b(\d{6})\b", mail.get_body().get_content())
            if match:
                return match.group(1)
    raise AssertionError("no code mailed")


def confirm(client, code, next_url=None):
    page = client.get("/proofing/confirm")
    data = {"code": code, "csrf_token": csrf_of(page.text)}
    if next_url:
        data["next"] = next_url
    return client.post("/proofing/confirm", data=data)


def cases(app):
    with app.app_context():
        return get_session().scalars(select(ProofingCase)).all()


def ial(app, email="somchai@example.com"):
    with app.app_context():
        return find_by_email(get_session(), email).ial


def test_automatic_approval_when_every_check_passes(app, client, user):
    sign_in(client, "somchai@example.com")
    response = submit(client)
    assert response.status_code == 302 and "/proofing/confirm" in response.headers["Location"]
    assert ial(app) == 1
    assert confirm(client, "000000").status_code == 400
    done = confirm(client, last_code(app))
    assert done.status_code == 302
    assert ial(app) == 2
    [case] = cases(app)
    assert case.status == "approved" and case.decided_by is None  # no person in the loop
    with app.app_context():
        identity = get_session().scalars(select(VerifiedIdentity)).one()
        assert b"1999900001010" not in identity.national_id_encrypted and b"Somchai" not in identity.claims_encrypted
        assert b"1999900001010" not in case.evidence_encrypted
    page = client.get("/proofing", headers={"Accept-Language": "en"}).text
    assert "Verified identity" in page


@pytest.mark.parametrize("change, reason", [({"laser_code": "JT0-1000001-99"}, "laser_code_mismatch"),
                                            ({"birthdate": "1985-03-15"}, "birthdate_mismatch")])
def test_mismatches_go_to_review_with_their_reason_once_the_attempts_are_spent(app, client, user, change, reason):
    sign_in(client, "somchai@example.com")
    response = to_review(client, **change)
    assert response.status_code == 302 and response.headers["Location"].startswith("/proofing")
    [case] = cases(app)
    assert case.status == "review" and reason in case.reasons and case.due_at is not None
    assert ial(app) == 1
    page = client.get("/proofing", headers={"Accept-Language": "en"}).text
    assert "officer" in page and "email you" in page


def test_bad_input_is_refused_and_nothing_is_stored(app, client, user):
    sign_in(client, "somchai@example.com")
    assert submit(client, number="1999900001011").status_code == 400  # wrong check digit
    assert submit(client, laser_code="12-3").status_code == 400
    assert cases(app) == []


def test_registry_down_keeps_the_case_waiting_then_retry(app, client, user):
    class Down:
        def verify(self, evidence):
            from idp import clock

            return RegistryResult(outcome="unavailable", reasons=("registry_unavailable",), record=None,
                                  issuer="test", checked_at=clock.utc_now())

    app.extensions["idp.verifier"] = Down()
    sign_in(client, "somchai@example.com")
    submit(client)
    [case] = cases(app)
    assert case.status == "pending_registry" and case.evidence_encrypted
    assert "try again later" in client.get("/proofing", headers={"Accept-Language": "en"}).text
    del app.extensions["idp.verifier"]  # the registry is back
    page = client.get("/proofing")
    retried = client.post("/proofing/retry", data={"csrf_token": csrf_of(page.text)})
    assert "/proofing/confirm" in retried.headers["Location"]
    confirm(client, last_code(app))
    assert ial(app) == 2


def test_one_national_id_backs_one_account(app, client, user):
    sign_in(client, "somchai@example.com")
    submit(client)
    confirm(client, last_code(app))
    make_user(app, "impostor@example.com")
    other = app.test_client()
    sign_in(other, "impostor@example.com")
    submit(other)
    [_, second] = sorted(cases(app), key=lambda c: c.id)
    assert second.status == "review" and second.reasons == ["duplicate_identity"]
    assert ial(app, "impostor@example.com") == 1


def test_withdrawing_a_case(app, client, user):
    sign_in(client, "somchai@example.com")
    to_review(client, birthdate="1985-03-15")
    page = client.get("/proofing")
    client.post("/proofing/withdraw", data={"csrf_token": csrf_of(page.text)})
    assert cases(app)[0].status == "withdrawn"


def test_an_eservice_needing_ial2_sends_the_person_through_proofing_and_back(app, client, user):
    rp = make_client(app, trusted=True)
    sign_in(client, "somchai@example.com")
    verifier, challenge = pkce_pair()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [IAL2]}}})
    to_proofing = client.get(authorize_url(rp.client.client_id, challenge, claims=essential))
    location = to_proofing.headers["Location"]
    assert location.startswith("/proofing?") and "level=2" in location
    nxt = query_of(location)["next"]
    assert nxt.startswith("/authorize?")
    response = submit(client, next_url=nxt)
    confirm_page = response.headers["Location"]
    assert "/proofing/confirm" in confirm_page
    back = confirm(client, last_code(app), next_url=nxt)
    assert back.headers["Location"].startswith("/authorize?")
    params = query_of(client.get(back.headers["Location"]).headers["Location"])
    tokens = exchange(client, params["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                      verifier=verifier).json
    claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(client.get("/jwks.json").json)).claims
    assert claims["acr"] == IAL2


def test_when_the_case_goes_to_review_the_eservice_gets_unmet(app, client, user):
    rp = make_client(app, trusted=True)
    sign_in(client, "somchai@example.com")
    _, challenge = pkce_pair()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [IAL2]}}})
    nxt = query_of(client.get(authorize_url(rp.client.client_id, challenge, claims=essential))
                   .headers["Location"])["next"]
    to_review(client, next_url=nxt, birthdate="1985-03-15")
    page = client.get("/proofing?" + urlencode({"next": nxt}), headers={"Accept-Language": "en"})
    back = html.unescape(re.search(r'<a href="([^"]+)">Back to the e-Service', page.text).group(1))
    final = client.get(back)
    assert query_of(final.headers["Location"])["error"] == "unmet_authentication_requirements"


def test_prompt_none_with_too_low_an_ial_is_interaction_required(app, client, user):
    rp = make_client(app, trusted=True)
    sign_in(client, "somchai@example.com")
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, acr_values=IAL2, prompt="none"))
    assert query_of(response.headers["Location"])["error"] == "interaction_required"


def test_a_thai_passport_works_too_and_its_holder_is_one_person(app, client):
    make_user(app, "kanya@example.com")
    sign_in(client, "kanya@example.com")
    page = client.get("/proofing/start?kind=passport")
    assert 'name="laser_code"' not in page.text
    response = client.post("/proofing/start", data={
        "csrf_token": csrf_of(page.text), "kind": "passport", "number": "AB0000005", "given_name": "Kanya",
        "family_name": "Wongsawat", "birthdate": "1995-05-05"})
    assert "/proofing/confirm" in response.headers["Location"]
    confirm(client, last_code(app, to="kanya@example.com"))
    assert ial(app, "kanya@example.com") == 2
    with app.app_context():
        identity = get_session().scalars(select(VerifiedIdentity)).one()
        assert identity.evidence[0]["document_details"]["type"] == "passport"
        assert identity.national_id_index  # the holder's national ID, from the registry
    # The same person's ID card on another account is a duplicate.
    make_user(app, "kanya2@example.com")
    other = app.test_client()
    sign_in(other, "kanya2@example.com")
    page = other.get("/proofing/start?kind=passport")
    other.post("/proofing/start", data={
        "csrf_token": csrf_of(page.text), "kind": "passport", "number": "AB0000005", "given_name": "Kanya",
        "family_name": "Wongsawat", "birthdate": "1995-05-05"})
    assert sorted(cases(app), key=lambda c: c.id)[-1].reasons == ["duplicate_identity"]


@pytest.mark.parametrize("path", ["/proofing", "/proofing/start", "/proofing/confirm"])
def test_proofing_pages_need_a_signed_in_person(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=")
