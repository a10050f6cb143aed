"""The proofing form that forgives typos and discloses nothing: a registry mismatch shows the form
again (3 attempts in 24 hours per account and per ID number, then an officer), the same words
whichever detail failed; the date of birth as day, month and year in either era; GOV.UK errors."""

import json
import logging
import re

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.proofing import attempts
from idp.proofing import service
from idp.proofing.models import ProofingAttempt
from idp.proofing.models import ProofingCase
from tests.factories import make_user
from tests.flows import csrf_of
from tests.flows import sign_in
from tests.http.test_officer import make_officer
from tests.http.test_officer import signed_in
from tests.http.test_proofing import confirm
from tests.http.test_proofing import ial
from tests.http.test_proofing import last_code

EN = {"Accept-Language": "en"}
TH = {"Accept-Language": "th"}
SOMCHAI = {"number": "1-9999-00001-01-0", "laser_code": "JT0-1000001-01", "given_name": "Somchai",
           "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
           "birthdate-day": "14", "birthdate-month": "3", "birthdate-year": "1985"}
NUMBER = "1999900001010"
WRONG_BIRTHDATE = {"birthdate-day": "15"}
WRONG_LASER = {"laser_code": "JT0-1000001-99"}
DAY = 86400


@pytest.fixture
def user(app):
    return make_user(app, "somchai@example.com")


def post(client, headers=EN, **changes):
    page = client.get("/proofing/start", headers=headers)
    data = {**SOMCHAI, **changes, "csrf_token": csrf_of(page.text)}
    return client.post("/proofing/start", data={k: v for k, v in data.items() if v is not None}, headers=headers)


def cases(app):
    with app.app_context():
        return get_session().scalars(select(ProofingCase).order_by(ProofingCase.id)).all()


def attempt_rows(app):
    with app.app_context():
        return get_session().scalars(select(ProofingAttempt).order_by(ProofingAttempt.id)).all()


def events(app, name):
    with app.app_context():
        return get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)
                                     .order_by(AuditEvent.id)).all()


def person(app, email):
    make_user(app, email)
    client = app.test_client()
    sign_in(client, email)
    return client


def mismatch_summary(html):
    match = re.search(r'<div class="error-summary" id="mismatch".*?</div>', html, re.S)
    assert match, html
    return match.group(0)


def without_values(html):
    """The page without what the person typed and without the CSRF token."""
    return re.sub(r'\s(value|content)="[^"]*"', "", html)


# -- attempts ------------------------------------------------------------------------------------


def test_one_typo_then_the_right_details_are_approved_automatically(app, client, user):
    sign_in(client, "somchai@example.com")
    typo = post(client, **WRONG_BIRTHDATE)
    assert typo.status_code == 400 and "The details do not match the national registry" in typo.text
    assert "You can try 2 more times" in typo.text
    assert cases(app) == []  # nothing for an officer, nothing to withdraw
    [failed] = attempt_rows(app)
    assert failed.outcome == "mismatch" and failed.reasons == ["birthdate_mismatch"]
    assert NUMBER not in failed.document_digest and failed.document_digest != service.national_id_index(
        app.config, NUMBER)  # a digest under a key of its own
    done = post(client)
    assert done.status_code == 302 and "/proofing/confirm" in done.headers["Location"]
    assert confirm(client, last_code(app)).status_code == 302
    assert ial(app) == 2
    [case] = cases(app)
    assert case.status == "approved" and case.decided_by is None and case.reasons == []
    [attempt] = events(app, "proofing_attempt_failed")
    assert attempt.details == {"attempt": 1, "left": 2, "outcome": "mismatch", "reasons": ["birthdate_mismatch"]}
    assert not events(app, "proofing_attempts_exhausted")


def test_three_mismatches_hand_the_case_to_an_officer(app, client, user):
    sign_in(client, "somchai@example.com")
    assert "You can try 2 more times" in post(client, **WRONG_BIRTHDATE).text
    assert "You can try 1 more time." in post(client, **WRONG_LASER).text
    third = post(client, given_name="Somchay")
    assert third.status_code == 302 and third.headers["Location"].startswith("/proofing?")
    [case] = cases(app)
    assert case.status == "review" and case.due_at is not None
    assert case.reasons == ["name_mismatch", "attempts_exhausted"]
    assert case.checks["attempts"] == 3 and case.checks["attempts_exhausted"] is True
    rows = attempt_rows(app)
    assert [r.reasons for r in rows] == [["birthdate_mismatch"], ["laser_code_mismatch"], ["name_mismatch"]]
    assert all(r.case_id == case.id for r in rows)
    assert [e.details["left"] for e in events(app, "proofing_attempt_failed")] == [2, 1, 0]
    [handed] = events(app, "proofing_attempts_exhausted")
    assert handed.details == {"case": case.id, "attempts": 3, "on_number": 3}
    page = client.get("/proofing", headers=EN).text
    assert "officer" in page and "You have used your attempts for today" in page
    for named in ("laser code", "date of birth", "The name does not match"):
        assert named not in page.split("<main ")[1]
    # Audit details hold codes and counts only.
    with app.app_context():
        details = json.dumps([e.details for e in get_session().scalars(select(AuditEvent))], ensure_ascii=False)
    for value in (NUMBER, "Somchai", "Somchay", "สมชาย", "1985", "JT0"):
        assert value not in details


def test_attempts_are_counted_per_id_number_across_accounts(app, clock):
    first = person(app, "first@example.com")
    assert post(first, **WRONG_BIRTHDATE).status_code == 400
    assert post(first, **{"birthdate-day": "16"}).status_code == 400
    other = person(app, "second@example.com")
    response = post(other, **{"birthdate-day": "17"})  # its first attempt, the number's third
    assert response.status_code == 302
    [case] = cases(app)
    assert case.status == "review" and case.checks["attempts"] == 1 and case.checks["attempts_on_number"] == 3
    # Even the right details go to an officer now, from any account: the answer is not told.
    third = person(app, "third@example.com")
    assert post(third).status_code == 302
    last = cases(app)[-1]
    assert last.status == "review" and last.reasons == ["attempts_exhausted"] and last.binding_code_hash is None
    assert last.checks["registry"] == "match"  # the officer sees the registry agreed
    # A day later the number has its attempts back.
    clock.advance(DAY + 60)
    fourth = person(app, "fourth@example.com")
    assert post(fourth, **WRONG_BIRTHDATE).status_code == 400


def test_attempts_are_counted_per_account_across_numbers(app, client, user):
    sign_in(client, "somchai@example.com")
    somsri = {"number": "1-9999-00001-02-8", "laser_code": "ME1-2000002-02", "given_name": "Somsri",
              "family_name": "Rakthai", "given_name_th": "", "family_name_th": "", "birthdate-year": "1992"}
    assert post(client, **somsri).status_code == 400
    assert post(client, **{**somsri, "number": "1-9999-00001-04-4"}).status_code == 400
    assert post(client, **{"number": "1-9999-00001-09-5"}).status_code == 302  # a number the registry lacks
    [case] = cases(app)
    assert case.reasons == ["document_not_found", "attempts_exhausted"] and case.checks["attempts"] == 3


def test_the_message_never_names_the_failing_detail(app, client, user, clock):
    sign_in(client, "somchai@example.com")
    birthdate = post(client, **WRONG_BIRTHDATE)
    clock.advance(DAY + 60)  # the same number of attempts left on both pages
    laser = post(client, **WRONG_LASER)
    assert birthdate.status_code == laser.status_code == 400
    assert mismatch_summary(birthdate.text) == mismatch_summary(laser.text)
    assert without_values(birthdate.text) == without_values(laser.text)
    summary = mismatch_summary(laser.text)
    for href in ("#number", "#laser_code", "#given_name_th", "#birthdate-day"):
        assert f'href="{href}"' in summary
    assert "aria-invalid" not in laser.text and 'class="error-message"' not in laser.text
    for named in ("Laser code differs", "laser_code_mismatch", "birthdate_mismatch", "does not match the registry"):
        assert named not in laser.text and named not in birthdate.text
    assert cases(app) == []


def test_format_errors_and_an_absent_registry_do_not_count(app, client, user):
    from idp import clock as idp_clock
    from idp.proofing.verifiers import RegistryResult

    sign_in(client, "somchai@example.com")
    for _ in range(attempts.MAX_ATTEMPTS + 1):
        assert post(client, number="1-9999-00001-01-1").status_code == 400  # wrong check digit
    assert attempt_rows(app) == []

    class Down:
        def verify(self, evidence):
            return RegistryResult(outcome="unavailable", reasons=("registry_unavailable",), record=None,
                                  issuer="test", checked_at=idp_clock.utc_now())

    app.extensions["idp.verifier"] = Down()
    post(client)
    assert cases(app)[0].status == "pending_registry" and attempt_rows(app) == []


def test_the_budget_spent_holds_after_a_withdrawal(app, client, user):
    sign_in(client, "somchai@example.com")
    for _ in range(attempts.MAX_ATTEMPTS):
        post(client, **WRONG_BIRTHDATE)
    client.post("/proofing/withdraw", data={"csrf_token": csrf_of(client.get("/proofing").text)})
    assert post(client).status_code == 302  # right details, but no binding code: an officer decides
    last = cases(app)[-1]
    assert last.status == "review" and last.reasons == ["attempts_exhausted"]
    data = client.get("/my-data.json").json["proofing_cases"][-1]
    assert data["reasons"] == ["attempts_exhausted"] and "registry" not in data["checks"]


def test_the_officer_sees_which_check_failed(app, clock, client, user):
    sign_in(client, "somchai@example.com")
    post(client, **WRONG_LASER)
    post(client, **WRONG_LASER)
    post(client, **WRONG_BIRTHDATE)
    [case] = cases(app)
    make_officer(app)
    officer = signed_in(app, clock, "officer@example.com")
    html = officer.get(f"/officer/cases/{case.id}").text
    assert "Date of birth differs from the registry" in html
    assert re.findall(r'<tr class="differs">\s*<th scope="row">([^<]+)</th>', html) == ["Date of birth"]
    attempts_list = re.search(r'<ol class="attempts">(.*?)</ol>', html, re.S).group(1)
    assert attempts_list.count("Laser code differs from the registry") == 2
    assert attempts_list.count("Date of birth differs from the registry") == 1
    queue = officer.get("/officer/cases").text
    assert "The attempts allowed in 24 hours were spent" in queue


# -- the date of birth ---------------------------------------------------------------------------


def test_a_thai_page_takes_a_buddhist_era_year_and_stores_the_gregorian_date(app, client, user):
    sign_in(client, "somchai@example.com")
    page = client.get("/proofing/start", headers=TH).text
    assert '<html lang="th">' in page and "2528" in page  # the hint's example is in the Buddhist era
    response = post(client, headers=TH, **{"birthdate-year": "2528"})
    assert response.status_code == 302 and "/proofing/confirm" in response.headers["Location"]
    [case] = cases(app)
    with app.app_context():
        assert service.evidence_of(case, config=app.config).birthdate == "1985-03-14"
    confirm(client, last_code(app))
    assert ial(app) == 2


def test_an_english_page_takes_a_buddhist_era_year_too(app, client, user):
    sign_in(client, "somchai@example.com")
    page = client.get("/proofing/start", headers=EN).text
    assert "For example, 14 3 1985" in page
    response = post(client, headers=EN, **{"birthdate-year": "2528"})
    assert response.status_code == 302 and "/proofing/confirm" in response.headers["Location"]


def test_a_thai_page_takes_a_gregorian_year(app, client, user):
    sign_in(client, "somchai@example.com")
    assert "/proofing/confirm" in post(client, headers=TH, **{"birthdate-year": "1985"}).headers["Location"]


@pytest.mark.parametrize("day, month, year, marked, message", [
    ("31", "2", "1985", ("day", "month"), "That month has at most 29 days"),
    ("29", "2", "1985", ("day", "month", "year"), "29 February is only in leap years"),
    ("14", "13", "1985", ("month",), "Month must be a number from 1 to 12"),
    ("14", "3", "85", ("year",), "Year must include 4 numbers"),
    ("14", "3", "2600", ("year",), "Date of birth must be in the past"),
    ("", "3", "1985", ("day",), "Date of birth must include a day"),
    ("", "", "", ("day", "month", "year"), "Enter your date of birth"),
])
def test_an_impossible_date_marks_only_the_parts_at_fault(app, client, user, day, month, year, marked, message):
    sign_in(client, "somchai@example.com")
    response = post(client, **{"birthdate-day": day, "birthdate-month": month, "birthdate-year": year})
    assert response.status_code == 400
    html = response.text
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', html, re.S).group(0)
    assert f'<a href="#birthdate-{marked[0]}">{message}' in summary
    for part in ("day", "month", "year"):
        tag = re.search(rf'<input id="birthdate-{part}"[^>]*>', html).group(0)
        assert ('aria-invalid="true"' in tag) == (part in marked), (part, tag)
        assert 'inputmode="numeric"' in tag and f'autocomplete="bday-{part}"' in tag
    fieldset = re.search(r'<fieldset class="date-input" id="birthdate"[^>]*>', html).group(0)
    assert 'aria-describedby="birthdate-hint birthdate-error"' in fieldset
    assert '<p class="error-message" id="birthdate-error">' in html and "<legend>Date of birth</legend>" in html
    assert cases(app) == [] and attempt_rows(app) == []  # nothing looked up, nothing counted


# -- GOV.UK errors -------------------------------------------------------------------------------


def test_errors_are_summarised_linked_described_and_the_values_kept(app, client, user):
    sign_in(client, "somchai@example.com")
    response = post(client, number="1-9999-00001-01-1", family_name="", **{"birthdate-day": "31",
                                                                            "birthdate-month": "4"})
    assert response.status_code == 400
    html = response.text
    assert "<title>Error: " in html
    links = re.findall(r'<li><a href="#([^"]+)">', re.search(r'<div class="error-summary".*?</div>', html,
                                                             re.S).group(0))
    assert links == ["number", "family_name", "birthdate-day"]  # in the order of the page
    for field in ("number", "family_name"):
        assert f'id="{field}-error"' in html
        tag = re.search(rf'<input id="{field}"[^>]*>', html).group(0)
        assert f'aria-describedby="{field}-error"' in tag and 'aria-invalid="true"' in tag
    laser = re.search(r'<input id="laser_code"[^>]*>', html).group(0)
    assert 'aria-describedby="laser_code-hint"' in laser and "aria-invalid" not in laser
    assert 'value="JT0-1000001-01"' in laser and 'value="1-9999-00001-01-1"' in html  # kept as typed
    assert 'value="สมชาย"' in html and 'id="birthdate-year" name="birthdate-year"' in html


def test_the_national_id_number_never_reaches_the_logs(app, client, user, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, "somchai@example.com")
    post(client, **WRONG_BIRTHDATE)
    post(client, number="1-9999-00001-01-1")
    post(client)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for value in (NUMBER, "1-9999-00001-01", "00001-01-1"):
        assert value not in text


# -- in parallel ---------------------------------------------------------------------------------


def test_parallel_submissions_on_one_number_get_no_more_attempts_than_one_after_another(app):
    import threading
    import time

    from idp import clock as idp_clock
    from idp.proofing.verifiers import RegistryResult

    class SlowMismatch:
        def verify(self, evidence):
            time.sleep(0.3)  # every request is in flight at once
            return RegistryResult(outcome="mismatch", reasons=("birthdate_mismatch",), record=None, issuer="test",
                                  checked_at=idp_clock.utc_now())

    app.extensions["idp.verifier"] = SlowMismatch()
    browsers = [person(app, f"p{i}@example.com") for i in range(6)]
    tokens = [csrf_of(b.get("/proofing/start", headers=EN).text) for b in browsers]
    barrier = threading.Barrier(len(browsers))
    statuses, errors = [], []

    def run(browser, token):
        try:
            barrier.wait(timeout=30)
            response = browser.post("/proofing/start", data={**SOMCHAI, "csrf_token": token}, headers=EN)
            statuses.append(response.status_code)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(browsers, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    # Three lookups at most were counted as attempts; those in flight count for each other, so a
    # burst is offered no more corrections than one submission after another would be (2).
    assert len(attempt_rows(app)) == attempts.MAX_ATTEMPTS
    assert statuses.count(400) <= attempts.MAX_ATTEMPTS - 1 and len(statuses) == len(browsers)
    handed = cases(app)
    assert len(handed) == statuses.count(302) and all(c.status == "review" for c in handed)
    assert sum("attempts_exhausted" in c.reasons for c in handed) == len(handed)
