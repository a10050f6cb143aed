"""The proofing officer's console: the role and AAL2 guard on every page, the review queue (SLA order,
overdue), the case page (masked evidence, mismatches, audited viewing), claiming, deciding (only the
claimer, never one's own case), the applicant's email, and in-person IAL3 at a counter."""

import datetime as dt
import email
import email.policy
import json
import re
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.accounts import roles
from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn import totp
from idp.db import get_session
from idp.proofing import service
from idp.proofing import thai_id
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import RegistryResult
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OFFICER = "officer@example.com"
OTHER_OFFICER = "officer2@example.com"
APPLICANT = "citizen@example.com"


def national_id(n):
    first12 = f"19999{n:07d}"
    return first12 + str(thai_id.national_id_check_digit(first12))


class FakeRegistry:
    def __init__(self, clock, outcome="mismatch", reasons=("laser_code_mismatch",), record=None):
        self.clock, self.outcome, self.reasons, self.record = clock, outcome, reasons, record

    def verify(self, evidence):
        return RegistryResult(outcome=self.outcome, reasons=tuple(self.reasons), record=self.record,
                              issuer="test", checked_at=self.clock.utc_now())


def evidence(number, **changes):
    values = dict(kind="thai_id_card", number=number, laser_code="JT0-1000001-01", given_name="Somchai",
                  family_name="Jaidee", given_name_th="สมชาย", family_name_th="ใจดี", birthdate="1985-03-14")
    values.update(changes)
    return Evidence(**values)


def seed_case(app, clock, applicant=APPLICANT, *, number=None, registry=None, **changes):
    """An applicant (made if missing) whose remote case the registry sends to review; the case id."""
    if user_of(app, applicant) is None:
        make_user(app, applicant)
    with app.app_context():
        db = get_session()
        user = find_by_email(db, applicant)
        user.locale = "en"
        db.commit()
        sent = []
        case = service.start_remote(db, user, evidence(number or national_id(user.id), **changes),
                                    config=app.config, verifier=registry or FakeRegistry(clock),
                                    send_code=lambda to, code: sent.append(code))
        assert case.status == "review" and not sent
        return case.id


def make_officer(app, email_address=OFFICER):
    if user_of(app, email_address) is None:
        make_user(app, email_address, name="Officer " + email_address[:8])
    with app.app_context():
        db = get_session()
        user = find_by_email(db, email_address)
        roles.grant(db, user, "proofing_officer")
        with_totp(app, email_address)
        return user.id


def with_totp(app, email_address):
    with app.app_context():
        db = get_session()
        totp.import_secret(db, find_by_email(db, email_address), SECRET, name="Token", config=app.config)


def browser(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def signed_in(app, clock, email_address, *, aal=2):
    client = browser(app)
    assert sign_in(client, email_address).status_code == 302
    if aal >= 2:
        step_up(client, clock)
    return client


def step_up(client, clock, next_url="/officer/cases"):
    page = client.get("/signin/more?aal=2&next=" + next_url)
    clock.advance(30)  # a TOTP step no earlier code used
    response = client.post("/signin/more?aal=2", data={
        "csrf_token": csrf_of(page.text), "next": next_url, "method": "totp",
        "code": totp.code_at(SECRET, totp.current_step())})
    assert response.status_code == 302 and response.headers["Location"] == next_url, response.text


def token(client):
    return csrf_of(client.get("/signin").text)


def post(client, url, **data):
    return client.post(url, data={"csrf_token": token(client), **data})


def case_of(app, case_id):
    with app.app_context():
        return get_session().get(ProofingCase, case_id)


def user_of(app, email_address=APPLICANT):
    with app.app_context():
        return find_by_email(get_session(), email_address)


def events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def mails(app, to):
    outbox = Path(app.config["MAIL_OUTBOX_DIR"])
    found = []
    for path in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["To"] == to:
            found.append((str(msg["Subject"]), msg.get_body(("plain",)).get_content()))
    return found


def row_order(html):
    return [int(n) for n in re.findall(r'<tr data-case="(\d+)">', html)]


def row_of(html, case_id):
    match = re.search(rf'<tr data-case="{case_id}">(.*?)</tr>', html, re.S)
    assert match, html
    return match.group(1)


# -- the guard ----------------------------------------------------------------------------------------


def officer_requests(case_id):
    """Every officer route, with input that works for an officer at AAL2 (in this order)."""
    return [
        ("get", "/officer/cases", {}),
        ("get", f"/officer/cases/{case_id}", {}),
        ("post", f"/officer/cases/{case_id}/claim", {}),
        ("post", f"/officer/cases/{case_id}/release", {}),
        ("post", f"/officer/cases/{case_id}/claim", {}),
        ("post", f"/officer/cases/{case_id}/decide", {"decision": "reject", "reason": "illegible_evidence"}),
        ("get", "/officer/counter", {}),
        ("post", "/officer/counter", counter_form(national_id(900), email_address="walkin@example.com")),
    ]


def send(client, method, url, data):
    if method == "get":
        return client.get(url)
    return post(client, url, **data)


def test_anonymous_is_sent_to_sign_in(app, clock):
    case_id = seed_case(app, clock)
    make_user(app, "walkin@example.com")
    client = browser(app)
    for method, url, data in officer_requests(case_id):
        response = send(client, method, url, data)
        assert response.status_code == 302, (url, response.status_code)
        assert response.headers["Location"].startswith("/signin?"), url
    assert case_of(app, case_id).claimed_by is None and case_of(app, case_id).status == "review"


def test_a_person_without_the_role_gets_403_and_learns_nothing(app, clock):
    case_id = seed_case(app, clock, registry=FakeRegistry(clock, reasons=("birthdate_mismatch",)))
    make_user(app, "walkin@example.com")
    make_user(app, "nosy@example.com")
    with_totp(app, "nosy@example.com")
    client = signed_in(app, clock, "nosy@example.com", aal=2)
    for method, url, data in officer_requests(case_id):
        response = send(client, method, url, data)
        assert response.status_code == 403, (url, response.status_code)
        body = response.text
        for secret in ("Somchai", "สมชาย", "1985", "Date of birth", f"#{case_id}", f"Case {case_id}",
                       "birthdate", "counter code", "data-counter-code"):
            assert secret not in body, (url, secret)
    case = case_of(app, case_id)
    assert case.claimed_by is None and case.status == "review"
    with app.app_context():
        assert get_session().scalar(select(ProofingCase).where(ProofingCase.channel == "counter")) is None
    assert not events(app, "proofing_case_viewed")


def test_an_officer_at_aal1_is_asked_to_step_up(app, clock):
    case_id = seed_case(app, clock)
    make_user(app, "walkin@example.com")
    make_officer(app)
    client = signed_in(app, clock, OFFICER, aal=1)
    for method, url, data in officer_requests(case_id):
        response = send(client, method, url, data)
        assert response.status_code == 302, (url, response.status_code)
        assert response.headers["Location"].startswith("/signin/more?aal=2"), url
    assert case_of(app, case_id).claimed_by is None and case_of(app, case_id).status == "review"
    assert not events(app, "proofing_case_viewed")


def test_an_officer_at_aal2_gets_every_page(app, clock):
    case_id = seed_case(app, clock)
    make_user(app, "walkin@example.com")
    officer_id = make_officer(app)
    client = signed_in(app, clock, OFFICER)
    for method, url, data in officer_requests(case_id):
        response = send(client, method, url, data)
        if method == "post" and response.status_code == 302:
            assert not response.headers["Location"].startswith("/signin"), url
            response = client.get(response.headers["Location"])
        assert response.status_code == 200, (url, response.status_code, response.text)
    case = case_of(app, case_id)
    assert case.status == "rejected" and case.decided_by == officer_id
    assert "data-counter-code" in response.text


# -- the queue ----------------------------------------------------------------------------------------


def test_the_queue_is_ordered_by_due_date_and_shows_overdue_cases(app, clock):
    ids = [seed_case(app, clock, f"applicant{i}@example.com") for i in range(3)]
    not_in_review = seed_case(app, clock, "done@example.com")
    now = clock.utc_now()
    due = {ids[0]: now + dt.timedelta(days=5, hours=1),  # 2 days left after 3 days
           ids[1]: now + dt.timedelta(days=1, minutes=-30),  # overdue by 2 days
           ids[2]: now + dt.timedelta(days=2, minutes=-30)}  # overdue by 1 day
    with app.app_context():
        db = get_session()
        for case_id, when in due.items():
            db.get(ProofingCase, case_id).due_at = when
        db.get(ProofingCase, not_in_review).status = "rejected"
        db.commit()
    clock.advance(3 * 86400)
    make_officer(app)
    client = signed_in(app, clock, OFFICER)
    page = client.get("/officer/cases")
    assert page.status_code == 200
    assert row_order(page.text) == [ids[1], ids[2], ids[0]]
    assert "overdue by 2 days" in row_of(page.text, ids[1])
    assert "overdue by 1 day<" in row_of(page.text, ids[2])
    assert "2 days left" in row_of(page.text, ids[0]) and "overdue" not in row_of(page.text, ids[0])
    row = row_of(page.text, ids[0])
    assert "IAL2" in row and "remote" in row and "Laser code differs from the registry" in row and "nobody" in row
    # No personal data in the list, and codes are shown as words.
    for secret in ("Somchai", "Jaidee", "สมชาย", "1985-03-14", "applicant0@", national_id(1)[:9],
                   "laser_code_mismatch"):
        assert secret not in page.text


def test_the_queue_says_who_claimed_a_case(app, clock):
    case_id = seed_case(app, clock)
    make_officer(app)
    make_officer(app, OTHER_OFFICER)
    first = signed_in(app, clock, OFFICER)
    assert post(first, f"/officer/cases/{case_id}/claim").status_code == 302
    assert "you" in row_of(first.get("/officer/cases").text, case_id)
    other = signed_in(app, clock, OTHER_OFFICER)
    assert "Officer officer@" in row_of(other.get("/officer/cases").text, case_id)


# -- the case page ------------------------------------------------------------------------------------


def test_the_case_page_masks_numbers_marks_mismatches_and_is_audited(app, clock):
    number = national_id(42)
    case_id = seed_case(app, clock, number=number, registry=FakeRegistry(clock, reasons=("birthdate_mismatch",)))
    officer_id = make_officer(app)
    client = signed_in(app, clock, OFFICER)
    page = client.get(f"/officer/cases/{case_id}")
    assert page.status_code == 200
    html = page.text
    assert "Somchai" in html and "Jaidee" in html and "สมชาย" in html and "ใจดี" in html and "1985-03-14" in html
    assert number not in html and "•" * 9 + number[-4:] in html
    assert "JT0" not in html and "1000001" not in html and "•" * 10 + "01" in html
    assert "Date of birth differs from the registry" in html
    differing = re.findall(r'<tr class="differs">\s*<th scope="row">([^<]+)</th>', html)
    assert differing == ["Date of birth"]
    assert 'for="approve-reason"' not in html and 'for="reject-note"' not in html  # not claimed yet: no decision
    viewed = events(app, "proofing_case_viewed")
    assert len(viewed) == 1
    assert viewed[0].user_id == user_of(app).id and viewed[0].details["by"] == officer_id
    assert viewed[0].details["case"] == case_id
    assert "Somchai" not in str(viewed[0].details)
    assert post(client, f"/officer/cases/{case_id}/claim").status_code == 302
    html = client.get(f"/officer/cases/{case_id}").text
    for name in ("approve-reason", "approve-note", "reject-reason", "reject-note"):
        assert f'<label for="{name}">' in html and f'id="{name}"' in html
    assert 'maxlength="500"' in html and 'value="suspected_fraud"' in html
    assert len(events(app, "proofing_case_viewed")) == 2


def test_the_registry_record_is_shown_beside_the_evidence(app, clock):
    number = national_id(43)
    record = {"national_id": number, "given_name": "Somchay", "family_name": "Jaidee", "given_name_th": "สมชาย",
              "family_name_th": "ใจดี", "birthdate": "1985-03-14", "contact_email": None}
    case_id = seed_case(app, clock, number=number, registry=FakeRegistry(clock, outcome="match", reasons=(),
                                                                         record=record))
    assert case_of(app, case_id).reasons == ["no_contact_of_record"]
    make_officer(app)
    client = signed_in(app, clock, OFFICER)
    html = client.get(f"/officer/cases/{case_id}").text
    assert "<mark>Somchay</mark>" in html and "<mark>Somchai</mark>" in html
    differing = re.findall(r'<tr class="differs">\s*<th scope="row">([^<]+)</th>', html)
    assert differing == ["Given name (English)"]
    assert "The registry holds no contact address" in html


def test_an_unknown_case_is_404(app, clock):
    make_officer(app)
    client = signed_in(app, clock, OFFICER)
    assert client.get("/officer/cases/999").status_code == 404
    assert post(client, "/officer/cases/999/claim").status_code == 404


# -- claiming -----------------------------------------------------------------------------------------


def test_claim_and_release_and_two_officers_cannot_both_claim(app, clock):
    case_id = seed_case(app, clock)
    first_id = make_officer(app)
    second_id = make_officer(app, OTHER_OFFICER)
    first = signed_in(app, clock, OFFICER)
    second = signed_in(app, clock, OTHER_OFFICER)
    assert f'action="/officer/cases/{case_id}/claim"' in second.get(f"/officer/cases/{case_id}").text

    assert post(first, f"/officer/cases/{case_id}/claim").status_code == 302
    assert case_of(app, case_id).claimed_by == first_id
    refused = post(second, f"/officer/cases/{case_id}/claim")
    assert refused.status_code == 409 and "already claimed" in refused.text
    assert case_of(app, case_id).claimed_by == first_id
    assert post(second, f"/officer/cases/{case_id}/release").status_code == 409
    assert case_of(app, case_id).claimed_by == first_id

    assert post(first, f"/officer/cases/{case_id}/release").status_code == 302
    assert case_of(app, case_id).claimed_by is None
    assert post(second, f"/officer/cases/{case_id}/claim").status_code == 302
    assert case_of(app, case_id).claimed_by == second_id
    claimed = events(app, "proofing_case_claimed")
    assert [e.details["by"] for e in claimed] == [first_id, second_id]
    assert [e.details["by"] for e in events(app, "proofing_case_released")] == [first_id]


def test_claiming_is_a_conditional_update(app, clock):
    case_id = seed_case(app, clock)
    first_id = make_officer(app)
    second_id = make_officer(app, OTHER_OFFICER)
    with app.app_context():
        from idp.proofing import queue as officer

        db = get_session()
        stale = db.get(ProofingCase, case_id)  # both officers loaded the case while it was free
        assert officer.claim(db, stale, first_id)
        stale.claimed_by = None  # what the second request still believes
        assert not officer.claim(db, stale, second_id)
    assert case_of(app, case_id).claimed_by == first_id


# -- deciding -----------------------------------------------------------------------------------------


def test_only_the_officer_who_claimed_a_case_decides_it(app, clock):
    case_id = seed_case(app, clock)
    make_officer(app)
    make_officer(app, OTHER_OFFICER)
    first = signed_in(app, clock, OFFICER)
    second = signed_in(app, clock, OTHER_OFFICER)
    decision = {"decision": "approve", "reason": "documents_consistent"}
    unclaimed = post(first, f"/officer/cases/{case_id}/decide", **decision)
    assert unclaimed.status_code == 403 and "Only the officer who claimed" in unclaimed.text
    assert post(first, f"/officer/cases/{case_id}/claim").status_code == 302
    other = post(second, f"/officer/cases/{case_id}/decide", **decision)
    assert other.status_code == 403 and "Only the officer who claimed" in other.text
    other = post(second, f"/officer/cases/{case_id}/decide", decision="reject", reason="suspected_fraud")
    assert other.status_code == 403
    assert case_of(app, case_id).status == "review" and user_of(app).ial == 1
    assert post(first, f"/officer/cases/{case_id}/decide", **decision).status_code == 302
    assert case_of(app, case_id).status == "approved"
    again = post(first, f"/officer/cases/{case_id}/decide", decision="reject", reason="other", note="changed mind")
    assert again.status_code == 409 and case_of(app, case_id).status == "approved"


def test_an_officer_never_decides_their_own_case(app, clock):
    make_officer(app, APPLICANT)  # the applicant is an officer too
    case_id = seed_case(app, clock)
    client = signed_in(app, clock, APPLICANT)
    page = client.get(f"/officer/cases/{case_id}")
    assert "your own case" in page.text and f'action="/officer/cases/{case_id}/claim"' not in page.text
    refused = post(client, f"/officer/cases/{case_id}/claim")
    assert refused.status_code == 403 and "your own case" in refused.text
    assert case_of(app, case_id).claimed_by is None
    with app.app_context():  # even if it were held somehow
        db = get_session()
        db.get(ProofingCase, case_id).claimed_by = user_of(app).id
        db.commit()
    for decision, reason in (("approve", "documents_consistent"), ("reject", "evidence_mismatch")):
        refused = post(client, f"/officer/cases/{case_id}/decide", decision=decision, reason=reason)
        assert refused.status_code == 403 and "You cannot decide your own case." in refused.text
    assert case_of(app, case_id).status == "review" and user_of(app).ial == 1
    with app.app_context():
        assert get_session().scalar(select(VerifiedIdentity)) is None


def test_approval_raises_the_ial_and_emails_the_applicant(app, clock):
    case_id = seed_case(app, clock)
    officer_id = make_officer(app)
    client = signed_in(app, clock, OFFICER)
    assert post(client, f"/officer/cases/{case_id}/claim").status_code == 302
    response = post(client, f"/officer/cases/{case_id}/decide", decision="approve",
                    reason="identity_confirmed_by_video", note="Video call 10:05, card shown; PRIVATE-NOTE")
    assert response.status_code == 302 and response.headers["Location"] == "/officer/cases"
    applicant = user_of(app)
    assert applicant.ial == 2
    case = case_of(app, case_id)
    assert case.status == "approved" and case.decided_by == officer_id
    assert case.decision_reason == "identity_confirmed_by_video" and "PRIVATE-NOTE" in case.decision_note
    with app.app_context():
        identity = get_session().scalar(select(VerifiedIdentity).where(VerifiedIdentity.user_id == applicant.id))
        assert identity is not None and identity.ial == 2 and identity.case_id == case_id
        checks = identity.evidence[0]["check_details"]
        assert {"check_method": "pvr"} in checks
    approved = events(app, "proofing_approved")
    assert len(approved) == 1 and approved[0].details["by"] == officer_id and approved[0].details["method"] == "officer"
    assert events(app, "proofing_case_claimed")
    sent = mails(app, APPLICANT)
    assert len(sent) == 1
    subject, body = sent[0]
    assert "verified" in subject and "Verified identity" in body and "PRIVATE-NOTE" not in body
    assert f'data-case="{case_id}"' not in client.get("/officer/cases").text


def test_rejection_keeps_the_ial_and_tells_the_reason_but_not_the_note(app, clock):
    case_id = seed_case(app, clock)
    officer_id = make_officer(app)
    client = signed_in(app, clock, OFFICER)
    assert post(client, f"/officer/cases/{case_id}/claim").status_code == 302
    response = post(client, f"/officer/cases/{case_id}/decide", decision="reject", reason="suspected_fraud",
                    note="PRIVATE-NOTE: photo looks edited")
    assert response.status_code == 302
    assert user_of(app).ial == 1
    case = case_of(app, case_id)
    assert case.status == "rejected" and case.decided_by == officer_id and case.decision_reason == "suspected_fraud"
    with app.app_context():
        assert get_session().scalar(select(VerifiedIdentity)) is None
    rejected = events(app, "proofing_rejected")
    assert len(rejected) == 1 and rejected[0].details["reason"] == "suspected_fraud"
    (subject, body), = mails(app, APPLICANT)
    assert "not approved" in subject
    assert "We could not confirm that the evidence belongs to you." in body
    assert "PRIVATE" not in body and "edited" not in body and "suspected_fraud" not in body and "fraud" not in body


@pytest.mark.parametrize(("data", "message"), [
    ({"decision": "approve", "reason": "evidence_mismatch"}, "Choose a decision and a reason"),
    ({"decision": "reject", "reason": "documents_consistent"}, "Choose a decision and a reason"),
    ({"decision": "maybe", "reason": "other"}, "Choose a decision and a reason"),
    ({"decision": "reject", "reason": "other"}, "Explain the reason"),
    ({"decision": "reject", "reason": "illegible_evidence", "note": "x" * 501}, "at most 500 characters"),
])
def test_a_decision_needs_a_listed_reason_and_a_short_note(app, clock, data, message):
    case_id = seed_case(app, clock)
    make_officer(app)
    client = signed_in(app, clock, OFFICER)
    assert post(client, f"/officer/cases/{case_id}/claim").status_code == 302
    response = post(client, f"/officer/cases/{case_id}/decide", **data)
    assert response.status_code == 400 and message in response.text
    assert case_of(app, case_id).status == "review" and not mails(app, APPLICANT)


@pytest.mark.parametrize("race", [False, True])
def test_a_duplicate_identity_cannot_be_approved(app, clock, monkeypatch, race):
    number = national_id(77)
    first_case = seed_case(app, clock, "first@example.com", number=number)
    with app.app_context():
        db = get_session()
        service.approve(db, db.get(ProofingCase, first_case), method="officer", by=None, config=app.config)
    case_id = seed_case(app, clock, number=number)
    assert case_of(app, case_id).reasons == ["duplicate_identity"]
    make_officer(app)
    client = signed_in(app, clock, OFFICER)
    assert post(client, f"/officer/cases/{case_id}/claim").status_code == 302
    if race:  # the other approval lands between the page's check and the write: the database decides
        from idp.proofing import queue as officer

        monkeypatch.setattr(officer, "taken_by_another", lambda db, case: False)
    response = post(client, f"/officer/cases/{case_id}/decide", decision="approve", reason="documents_consistent")
    assert response.status_code == 409 and "already verified for another account" in response.text
    case = case_of(app, case_id)
    assert case.status == "review" and case.decided_by is None and user_of(app).ial == 1
    assert not mails(app, APPLICANT)
    assert post(client, f"/officer/cases/{case_id}/decide", decision="reject",
                reason="duplicate_identity").status_code == 302
    (_, body), = mails(app, APPLICANT)
    assert "already linked to another account" in body


# -- in person, at a counter (IAL3) -------------------------------------------------------------------


def counter_form(number, *, email_address=APPLICANT, **changes):
    form = {"email": email_address, "number": number, "laser_code": "JT0-1000001-01", "given_name": "Somchai",
            "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี", "birthdate": "1985-03-14",
            "card_inspected": "yes", "person_matches": "yes"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def counter_code(officer_client, number, **changes):
    response = post(officer_client, "/officer/counter", **counter_form(number, **changes))
    assert response.status_code == 200, response.text
    match = re.search(r"<code class=\"secret\" data-counter-code>(\d{6})</code>", response.text)
    assert match, response.text
    return match.group(1)


def applicant_at_counter(app, clock):
    """The applicant signs in on the counter device and reaches the binding page at AAL2."""
    client = browser(app)
    response = client.get("/officer/counter/bind")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?")
    sign_in(client, APPLICANT)
    response = client.get("/officer/counter/bind")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin/more?aal=2")
    step_up(client, clock, "/officer/counter/bind")
    page = client.get("/officer/counter/bind")
    assert page.status_code == 200 and 'for="code"' in page.text
    return client


def bind(client, code):
    return post(client, "/officer/counter/bind", code=code)


def test_in_person_verification_end_to_end_gives_ial3(app, clock):
    make_user(app, APPLICANT)
    with_totp(app, APPLICANT)
    officer_id = make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    form = officer.get("/officer/counter")
    for name in ("email", "number", "laser_code", "given_name", "family_name", "given_name_th", "family_name_th",
                 "birthdate", "card_inspected", "person_matches"):
        assert f'<label for="{name}">' in form.text
    number = national_id(5)
    code = counter_code(officer, number)
    with app.app_context():
        case = get_session().scalar(select(ProofingCase).where(ProofingCase.channel == "counter"))
        assert case.level == 3 and case.status == "binding" and case.claimed_by == officer_id
        assert case.national_id_index == service.national_id_index(app.config, number)
        assert service.evidence_of(case, config=app.config).number == number
    applicant = applicant_at_counter(app, clock)
    wrong = bind(applicant, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and "not correct" in wrong.text
    done = bind(applicant, code)
    assert done.status_code == 200 and "Identity verified in person" in done.text
    assert user_of(app).ial == 3
    case = case_of(app, case.id)
    assert case.status == "approved" and case.decided_by == officer_id and case.decision_reason == "in_person_verified"
    with app.app_context():
        identity = get_session().scalar(select(VerifiedIdentity))
        assert identity.ial == 3 and identity.user_id == user_of(app).id
        assert {"check_method": "pvp"} in identity.evidence[0]["check_details"]
    approved = events(app, "proofing_approved")
    assert approved[-1].details["method"] == "counter" and approved[-1].details["by"] == officer_id
    (_, body), = mails(app, APPLICANT)
    assert "Identity verified in person" in body
    assert bind(applicant, code).status_code == 400  # once only


def test_an_expired_counter_code_is_refused(app, clock):
    make_user(app, APPLICANT)
    with_totp(app, APPLICANT)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    code = counter_code(officer, national_id(6))
    clock.advance(16 * 60)
    applicant = applicant_at_counter(app, clock)
    refused = bind(applicant, code)
    assert refused.status_code == 400 and "expired" in refused.text
    assert user_of(app).ial == 1
    with app.app_context():
        case = get_session().scalar(select(ProofingCase).where(ProofingCase.channel == "counter"))
        assert case.status == "withdrawn"  # it no longer blocks a new case


def test_wrong_counter_codes_end_the_attempt(app, clock):
    make_user(app, APPLICANT)
    with_totp(app, APPLICANT)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    code = counter_code(officer, national_id(7))
    applicant = applicant_at_counter(app, clock)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert "not correct" in bind(applicant, wrong).text
    assert "Too many wrong codes" in bind(applicant, wrong).text
    assert bind(applicant, code).status_code == 400
    assert user_of(app).ial == 1


def test_a_counter_code_is_not_a_remote_binding_code(app, clock):
    make_user(app, APPLICANT)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    code = counter_code(officer, national_id(8))
    with app.app_context():
        db = get_session()
        case = db.scalar(select(ProofingCase).where(ProofingCase.channel == "counter"))
        with pytest.raises(service.ProofingError):
            service.confirm_binding(db, case, code, config=app.config)
    assert user_of(app).ial == 1


def test_a_new_counter_check_replaces_the_earlier_code(app, clock):
    make_user(app, APPLICANT)
    with_totp(app, APPLICANT)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    first = counter_code(officer, national_id(9))
    second = counter_code(officer, national_id(9))
    applicant = applicant_at_counter(app, clock)
    if first != second:
        assert bind(applicant, first).status_code == 400
    assert bind(applicant, second).status_code == 200
    assert user_of(app).ial == 3


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"card_inspected": None}, "card_inspected", "Inspect the card"),
    ({"person_matches": None}, "person_matches", "Compare the person with the photo"),
    ({"email_address": OFFICER}, "email", "You cannot verify your own identity."),
    ({"email_address": "nobody@example.com"}, "email", "No active account"),
    ({"number": "1999900001011"}, "number", "13-digit ID number"),
    ({"laser_code": "JT0-1"}, "laser_code", "laser code"),
    ({"birthdate": "14/03/1985"}, "birthdate", "date of birth"),
])
def test_the_counter_form_refuses_incomplete_checks(app, clock, changes, field, message):
    make_user(app, APPLICANT)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    number = changes.pop("number", national_id(10))
    response = post(officer, "/officer/counter", **counter_form(number, **changes))
    assert response.status_code == 400 and message in response.text
    assert f'id="{field}"' in response.text and "data-counter-code" not in response.text
    with app.app_context():
        assert get_session().scalar(select(ProofingCase)) is None


def test_the_counter_refuses_an_id_number_verified_for_another_account(app, clock):
    number = national_id(11)
    other_case = seed_case(app, clock, "first@example.com", number=number)
    with app.app_context():
        db = get_session()
        service.approve(db, db.get(ProofingCase, other_case), method="officer", by=None, config=app.config)
    make_user(app, APPLICANT)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    response = post(officer, "/officer/counter", **counter_form(number))
    assert response.status_code == 400 and "already verified for another account" in response.text
    with app.app_context():
        assert get_session().scalar(select(ProofingCase).where(ProofingCase.channel == "counter")) is None


def test_after_an_officers_approval_the_next_authorization_gets_ial2(app, clock):
    case_id = seed_case(app, clock)
    make_officer(app)
    officer = signed_in(app, clock, OFFICER)
    post(officer, f"/officer/cases/{case_id}/claim")
    post(officer, f"/officer/cases/{case_id}/decide", decision="approve", reason="documents_consistent", note="")
    rp = make_client(app, trusted=True)
    applicant = signed_in(app, clock, APPLICANT, aal=1)
    verifier, challenge = pkce_pair()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:th:digitalid:ial2:aal1"]}}})
    response = applicant.get(authorize_url(rp.client.client_id, challenge, claims=essential))
    params = query_of(response.headers["Location"])
    tokens = exchange(applicant, params["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                      verifier=verifier).json
    claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(applicant.get("/jwks.json").json)).claims
    assert claims["acr"] == "urn:th:digitalid:ial2:aal1"
