"""The Security page: TOTP enrolment, recovery codes, removal rules, notices; throttled sign-in."""

import re
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn import throttle
from idp.authn import totp
from idp.authn.models import RecoveryCode
from idp.authn.models import TotpCredential
from idp.db import get_session
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.flows import csrf_of
from tests.flows import sign_in

EN = {"Accept-Language": "en"}
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def user(app):
    return make_user(app)


def outbox(app):
    folder = Path(app.config["MAIL_OUTBOX_DIR"])
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [message_from_bytes(p.read_bytes(), policy=email_policy.default) for p in files]


def count(app, model, **where):
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return get_session().scalar(query)


def post(client, path, **data):
    page = client.get("/security")
    return client.post(path, data={"csrf_token": csrf_of(page.text), **data})


def enrol_via_page(client, clock, name="Phone"):
    page = client.get("/security/totp?new=1", headers=EN)
    assert page.status_code == 200
    assert "<svg" in page.text and "QR code" in page.text  # drawn by the server, no external image
    secret = re.search(r'id="totp-secret">([^<]+)<', page.text).group(1).replace(" ", "")
    wrong = client.post("/security/totp", data={"csrf_token": csrf_of(page.text), "code": "000000", "name": name})
    assert wrong.status_code == 400
    code = totp.code_at(secret, totp.current_step())
    done = client.post("/security/totp", data={"csrf_token": csrf_of(page.text), "code": code, "name": name})
    assert done.status_code == 302 and done.headers["Location"].endswith("/security")
    return secret


def test_totp_enrolment_needs_the_current_code_and_stores_the_seed_encrypted(app, client, user, clock):
    sign_in(client)
    secret = enrol_via_page(client, clock)
    with app.app_context():
        rows = get_session().scalars(select(TotpCredential)).all()
        assert len(rows) == 1 and rows[0].name == "Phone"
        assert secret.encode() not in rows[0].secret_encrypted
    assert "Phone" in client.get("/security", headers=EN).text
    mails = outbox(app)
    assert any("added" in str(m["Subject"]).lower() or "เพิ่ม" in str(m["Subject"]) for m in mails)


def test_the_enrolment_code_cannot_be_replayed_to_step_up(app, client, user, clock):
    sign_in(client)
    page = client.get("/security/totp?new=1")
    secret = re.search(r'id="totp-secret">([^<]+)<', page.text).group(1).replace(" ", "")
    code = totp.code_at(secret, totp.current_step())
    client.post("/security/totp", data={"csrf_token": csrf_of(page.text), "code": code, "name": "x"})
    step = client.get("/signin/more?aal=2&next=/security")
    replay = client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(step.text), "next": "/security",
                                                     "method": "totp", "code": code})
    assert replay.status_code == 400
    clock.advance(30)
    code = totp.code_at(secret, totp.current_step())
    fresh = client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(step.text), "next": "/security",
                                                    "method": "totp", "code": code})
    assert fresh.status_code == 302 and fresh.headers["Location"].endswith("/security")


def test_changing_authenticators_needs_aal2_once_the_account_can_reach_it(app, client, user, clock):
    sign_in(client)
    enrol_via_page(client, clock)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    sign_in(client)  # password only: AAL1
    response = client.get("/security/totp?new=1")
    assert response.status_code == 302 and "/signin/more" in response.headers["Location"]
    response = post(client, "/security/recovery-codes")
    assert response.status_code == 302 and "/signin/more" in response.headers["Location"]
    assert count(app, RecoveryCode) == 0
    page = client.get("/security", headers=EN)
    assert "Confirm it is you to change" in page.text and 'action="/security/remove"' not in page.text


def test_recovery_codes_are_shown_once_and_regenerating_replaces_them(app, client, user):
    sign_in(client)
    page = post(client, "/security/recovery-codes")
    assert page.status_code == 200
    codes = re.findall(r"<li><code>([^<]+)</code></li>", page.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        stored = [r.code_hash for r in get_session().scalars(select(RecoveryCode))]
    assert not set(codes) & set(stored)  # digests only
    # Now AAL2 is reachable: step up with one code, then make new ones.
    step = client.get("/signin/more?aal=2&next=/security")
    ok = client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(step.text), "next": "/security",
                                                 "method": "recovery", "recovery_code": codes[0]})
    assert ok.status_code == 302
    again = post(client, "/security/recovery-codes")
    new = re.findall(r"<li><code>([^<]+)</code></li>", again.text)
    assert len(new) == 10 and not set(new) & set(codes)
    assert count(app, RecoveryCode) == 10
    assert "10 unused recovery codes left" in client.get("/security", headers=EN).text


def test_the_last_way_to_sign_in_is_never_removed(app, client, user):
    sign_in(client)
    refused = post(client, "/security/remove", kind="password", id="0")
    assert refused.status_code == 302
    with app.app_context():
        assert find_by_email(get_session(), "citizen@example.com").password_hash is not None


def test_removing_the_last_second_factor_of_a_proofed_account_needs_confirmation(app, client, user, clock):
    with app.app_context():
        db = get_session()
        citizen = find_by_email(db, "citizen@example.com")
        citizen.ial = 2
        db.commit()
        ids = [totp.import_secret(db, citizen, SECRET, name=name, config=app.config).id for name in ("A", "B")]
    sign_in(client)
    step = client.get("/signin/more?aal=2&next=/security")
    clock.advance(30)
    client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(step.text), "next": "/security",
                                            "method": "totp", "code": totp.code_at(SECRET, totp.current_step())})
    first = post(client, "/security/remove", kind="totp", id=str(ids[0]))
    assert first.status_code == 302  # one of two: no confirmation needed
    ask = post(client, "/security/remove", kind="totp", id=str(ids[1]))
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    assert count(app, TotpCredential) == 1
    done = client.post("/security/remove", data={"csrf_token": csrf_of(ask.text), "kind": "totp",
                                                 "id": str(ids[1]), "confirm": "yes"})
    assert done.status_code == 302 and count(app, TotpCredential) == 0
    assert count(app, AuditEvent, event="factor_removed") == 2
    assert sum("removed" in str(m["Subject"]).lower() or "ลบ" in str(m["Subject"]) for m in outbox(app)) == 2


def test_someone_elses_authenticator_cannot_be_removed(app, client, user):
    make_user(app, "other@example.com")
    with app.app_context():
        db = get_session()
        other = totp.import_secret(db, find_by_email(db, "other@example.com"), SECRET, name="Theirs",
                                   config=app.config)
        ident = other.id
    sign_in(client)
    post(client, "/security/remove", kind="totp", id=str(ident))
    assert count(app, TotpCredential) == 1


def test_password_sign_in_is_throttled_the_same_for_unknown_accounts(app, client, user):
    def attempt(email, password="wrong password"):
        page = client.get("/signin", headers=EN)
        return client.post("/signin", headers=EN, data={"csrf_token": csrf_of(page.text), "email": email,
                                                        "password": password})

    for _ in range(app.config["THROTTLE_FREE_FAILURES"]):
        assert attempt("citizen@example.com").status_code == 200
        assert attempt("nobody@example.com").status_code == 200
    known, unknown = attempt("citizen@example.com"), attempt("nobody@example.com")
    assert known.status_code == unknown.status_code == 429
    assert "Try again in" in known.text and "Try again in" in unknown.text
    # Even the right password waits while the delay lasts.
    assert attempt("citizen@example.com", PASSWORD).status_code == 429
    events = count(app, AuditEvent, event="throttled")
    assert events >= 2


def test_a_hundred_failures_suspend_the_password_until_unlocked(app, client, user, clock):
    app.config["THROTTLE_MAX_DELAY"] = 1
    for _ in range(100):
        clock.advance(2)
        page = client.get("/signin")
        client.post("/signin", data={"csrf_token": csrf_of(page.text), "email": "citizen@example.com",
                                     "password": "wrong password"})
    clock.advance(3600)
    page = client.get("/signin", headers=EN)
    refused = client.post("/signin", headers=EN, data={"csrf_token": csrf_of(page.text),
                                                       "email": "citizen@example.com", "password": PASSWORD})
    assert refused.status_code == 429 and "suspended" in refused.text
    assert count(app, AuditEvent, event="factor_suspended") == 1
    with app.app_context():  # what `idp users unlock` does (tested in test_cli_totp.py)
        db = get_session()
        assert throttle.unlock_user(db, find_by_email(db, "citizen@example.com"), config=app.config) == ["pwd"]
    assert sign_in(client).status_code == 302
