"""Password guesses sent in parallel are counted before they are checked (SP 800-63B-4 §3.2.2).

Without a reservation, every request of a burst reads the same count, finds the account free
and gets a password check: the free allowance would not hold under parallel requests.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from idp import clock
from idp.audit.models import AuditEvent
from idp.authn import throttle
from idp.authn.models import Throttle
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.flows import csrf_of
from tests.support.threads import run_together

PARALLEL = 8
FREE = 3
EMAIL = "citizen@example.com"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "THROTTLE_FREE_FAILURES": FREE}


def _burst(app, password: str, n: int) -> list[int]:
    """``n`` sign-ins released at the same instant, each from its own browser; their statuses."""
    statuses: list[int] = []

    def run(barrier: threading.Barrier) -> None:
        own = app.test_client()
        token = csrf_of(own.get("/signin").text)
        barrier.wait(timeout=30)
        response = own.post("/signin", data={"email": EMAIL, "password": password, "csrf_token": token})
        statuses.append(response.status_code)

    run_together(n, run)
    return statuses


def test_parallel_wrong_passwords_get_no_more_checks_than_one_after_another(app, client):
    make_user(app, EMAIL)
    started = time.monotonic()
    statuses = _burst(app, "not the password at all", PARALLEL)
    assert set(statuses) <= {200, 429}, statuses
    with app.app_context():
        from idp.db import get_session

        db = get_session()
        events = list(db.scalars(select(AuditEvent.event).where(AuditEvent.event.like("signin_%"))))
        key = throttle.password_keys(EMAIL, "127.0.0.1", config=app.config)[0]
        failures = db.scalar(select(Throttle.failures).where(Throttle.key == key))
    # As many checks as one after another: the free failures, then one more that starts the delays;
    # every other request of the burst is refused unchecked.
    assert events.count("signin_failed") == FREE + 1 == failures
    assert events.count("signin_refused") == PARALLEL - (FREE + 1)
    # Back to the moment of the burst, however slowly this machine ran it: the block it set still
    # runs, and the right password waits like any other.
    clock.advance(-(time.monotonic() - started))
    page = client.get("/signin")
    right = client.post("/signin", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert right.status_code == 429
