"""Sign-up does not tell who has an account, and is throttled per client address.

OWASP Authentication Cheat Sheet (account enumeration at account creation): an address that
already has an account gets the same answer as a new one; its owner hears about the attempt.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp import clock
from idp.accounts.models import User
from idp.audit.models import AuditEvent
from idp.db import get_session
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.flows import csrf_of

EN = {"Accept-Language": "en"}
FREE = 3


@pytest.fixture
def app_config(app_config):
    return {**app_config, "THROTTLE_IP_FREE_FAILURES": FREE}


def _signup(client, address, *, ip="203.0.113.9", **form):
    page = client.get("/signup?next=/services", headers=EN)
    data = {"email": address, "name": "Malee", "password": "plenty long phrase", "next": "/services", **form}
    return client.post("/signup", data={**data, "csrf_token": csrf_of(page.text)}, headers=EN,
                       environ_base={"REMOTE_ADDR": ip})


def _without_csrf(html: str) -> str:
    return re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]+"', "", html)


def _mail_to(app, address):
    found = []
    for path in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def test_an_existing_email_gets_the_same_answer_as_a_new_one(app):
    make_user(app, "taken@example.com")
    new = _signup(app.test_client(), "fresh@example.com")
    taken = _signup(app.test_client(), "TAKEN@example.com")
    assert new.status_code == taken.status_code == 302
    assert new.headers["Location"] == taken.headers["Location"]
    assert new.get_data() == taken.get_data()
    assert sorted(new.headers.keys()) == sorted(taken.headers.keys())
    pages = [app.test_client().get(r.headers["Location"], headers=EN) for r in (new, taken)]
    assert pages[0].status_code == pages[1].status_code == 200
    assert _without_csrf(pages[0].text) == _without_csrf(pages[1].text)
    assert "Check your email" in pages[0].text


def test_the_owner_of_an_existing_email_is_told_and_nothing_changes(app):
    owner = make_user(app, "taken@example.com")
    assert _signup(app.test_client(), "taken@example.com", password="another long phrase").status_code == 302
    notices = _mail_to(app, "taken@example.com")
    assert len(notices) == 1
    assert "tried to create" in notices[0]["Subject"]
    assert "http://localhost/signin" in notices[0].get_body(("plain",)).get_content()
    with app.app_context():
        db = get_session()
        assert db.scalar(select(func.count()).select_from(User)) == 1
        assert db.get(User, owner.id).password_hash == owner.password_hash
        events = list(db.scalars(select(AuditEvent).where(AuditEvent.event == "signup_existing_account")))
        assert [e.user_id for e in events] == [owner.id] and "taken" not in str(events[0].details)


def test_a_new_email_gets_a_verification_link_and_no_session(app):
    client = app.test_client()
    assert _signup(client, "fresh@example.com").status_code == 302
    assert "verify-email" in _mail_to(app, "fresh@example.com")[0].get_body(("plain",)).get_content()
    # Not signed in by the sign-up itself (that would tell the two cases apart); signing in works.
    assert client.get("/", headers=EN).text.count("Signed in") == 0
    page = client.get("/signin", headers=EN)
    signed = client.post("/signin", data={"email": "fresh@example.com", "password": "plenty long phrase",
                                          "csrf_token": csrf_of(page.text)})
    assert signed.status_code == 302


def test_sign_ups_from_one_address_are_throttled(app):
    started = time.monotonic()
    for n in range(FREE + 1):  # the free ones, then one that starts the delays
        assert _signup(app.test_client(), f"person{n}@example.com").status_code == 302
    clock.advance(-(time.monotonic() - started))  # as if they came at once, however slow this machine is
    refused = _signup(app.test_client(), "one-more@example.com")
    assert refused.status_code == 429 and "Too many" in refused.text
    with app.app_context():
        assert get_session().scalar(select(User).where(User.email == "one-more@example.com")) is None
    # an existing account's email is throttled alike (nothing to learn from the 429 either)
    make_user(app, "taken@example.com", password=PASSWORD)
    assert _signup(app.test_client(), "taken@example.com").status_code == 429
    # another address is not
    assert _signup(app.test_client(), "elsewhere@example.com", ip="198.51.100.4").status_code == 302
