"""Recovery codes: ten single-use look-up secrets, stored as digests."""

import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy import text

from idp import clock
from idp.accounts.models import User
from idp.assurance import policy
from idp.audit.models import AuditEvent
from idp.authn import recovery
from tests.factories import make_user

FORMAT = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$")



@pytest.fixture
def user(app, db):
    return db.get(User, make_user(app).id)


def test_ten_distinct_codes_of_at_least_60_bits(db, user):
    codes = recovery.generate(db, user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(FORMAT.match(code) for code in codes), codes
    assert len(recovery.ALPHABET) == len(set(recovery.ALPHABET)) == 32
    assert recovery.LENGTH * 5 >= 60
    assert recovery.remaining(db, user.id) == 10


def test_each_code_works_once(db, user):
    codes = recovery.generate(db, user)
    for left, code in zip(range(9, -1, -1), codes, strict=True):
        factor = recovery.verify(db, user, code)
        assert factor is not None and factor.method == policy.RECOVERY
        assert factor.at == pytest.approx(clock.timestamp(), abs=5)
        assert recovery.remaining(db, user.id) == left
        assert recovery.verify(db, user, code) is None
    assert recovery.remaining(db, user.id) == 0


def test_use_is_audited_with_the_remaining_count_and_no_code(db, user):
    codes = recovery.generate(db, user)
    recovery.verify(db, user, codes[3])
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.event, e.user_id) for e in events] == [("recovery_codes_generated", user.id),
                                                      ("recovery_code_used", user.id)]
    assert events[1].details == {"remaining": 9}
    dumped = json.dumps([e.details for e in events])
    assert not any(code in dumped or code.replace("-", "") in dumped for code in codes)


def test_regenerating_invalidates_the_old_codes(db, user):
    old = recovery.generate(db, user)
    recovery.verify(db, user, old[0])
    new = recovery.generate(db, user)
    assert not set(old) & set(new)
    assert recovery.remaining(db, user.id) == 10
    assert all(recovery.verify(db, user, code) is None for code in old)
    assert recovery.verify(db, user, new[0]) is not None


def test_another_persons_code_is_refused(app, db, user):
    other = db.get(User, make_user(app, "other@example.com").id)
    codes = recovery.generate(db, user)
    recovery.generate(db, other)
    assert recovery.verify(db, other, codes[0]) is None
    assert recovery.remaining(db, user.id) == 10


@pytest.mark.parametrize("typed", [
    "01ab-cdef-ghjk",
    "01abcdefghjk",
    "  01AB-CDEF-GHJK \n",
    "01ab cdef ghjk",
    "01ab\u2013cdef\u2013ghjk",  # en dash from a word processor
    "Olab-cdef-ghjk",  # O for 0, l for 1
    "oIab-cdef-ghjk",  # o for 0, I for 1
])
def test_formatting_tolerance(monkeypatch, db, user, typed):
    fixed = iter(["01ab-cdef-ghjk"] + [f"zzzz-zzzz-zz{n:02d}" for n in range(9)])
    monkeypatch.setattr(recovery, "_new_code", lambda: next(fixed))
    recovery.generate(db, user)
    assert recovery.verify(db, user, typed) is not None
    assert recovery.verify(db, user, "01ab-cdef-ghjk") is None


@pytest.mark.parametrize("typed", ["", "01ab-cdef-ghj", "01ab-cdef-ghjkm", "01ab-cdef-ghju", "01ab-cdef-ghj!"])
def test_malformed_codes_are_refused(monkeypatch, db, user, typed):
    monkeypatch.setattr(recovery, "_new_code", lambda: "01ab-cdef-ghjk")
    recovery.generate(db, user)
    assert recovery.verify(db, user, typed) is None
    assert recovery.remaining(db, user.id) == 10


def test_codes_are_stored_hashed_only(db, user):
    codes = recovery.generate(db, user)
    rows = db.execute(text("SELECT code_hash FROM recovery_codes")).scalars().all()
    assert len(rows) == 10
    stored = " ".join(rows)
    assert all(re.fullmatch(r"[0-9a-f]{64}", row) for row in rows)
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)
