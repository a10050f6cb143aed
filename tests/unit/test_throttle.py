"""Throttling: free failures, growing delays, suspension, unlock. In the database; the address
keys in Redis when run with IDP_TEST_WITH_REDIS=1 (tests/conftest.py)."""

import json

import pytest
from sqlalchemy import select

from idp import clock
from idp.accounts.models import User
from idp.assurance import policy
from idp.audit.models import AuditEvent
from idp.authn import throttle
from tests.factories import make_user
from tests.support.throttles import failures_of

IP = "203.0.113.7"
EMAIL = "citizen@example.com"



@pytest.fixture
def user(app, db):
    return db.get(User, make_user(app, EMAIL).id)


def _fail(app, db, keys, **kwargs):
    kwargs.setdefault("factor", policy.PASSWORD)
    return throttle.failure(db, keys, config=app.config, **kwargs)


def _fail_through(app, db, keys, times, **kwargs):
    """``times`` failures, each after waiting out the previous block; the last verdict."""
    verdict = None
    for _ in range(times):
        if verdict is not None:
            clock.advance(verdict.retry_after)
        verdict = _fail(app, db, keys, **kwargs)
    return verdict


def _failures(db, key):
    return failures_of(db, key)


def test_free_failures_then_growing_delays(app, db):
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    for _ in range(app.config["THROTTLE_FREE_FAILURES"]):
        assert _fail(app, db, keys) == throttle.Verdict(allowed=True, retry_after=0, suspended=False)
        assert throttle.check(db, keys).allowed
    delays = []
    for _ in range(4):
        verdict = _fail(app, db, keys)
        assert not verdict.allowed and not verdict.suspended
        assert throttle.check(db, keys) == verdict
        delays.append(verdict.retry_after)
        clock.advance(verdict.retry_after - 0.5)
        assert not throttle.check(db, keys).allowed
        clock.advance(0.5)
        assert throttle.check(db, keys).allowed
    assert delays == [1, 2, 4, 8]


def test_delay_is_capped(app, db):
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    verdict = _fail_through(app, db, keys, app.config["THROTTLE_FREE_FAILURES"] + 14)
    assert verdict.retry_after == app.config["THROTTLE_MAX_DELAY"] == 900


def test_success_resets_the_account_but_not_the_address(app, db):
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    account, address = keys
    _fail_through(app, db, keys, 6)
    throttle.success(db, keys)
    assert _failures(db, account) == 0 and _failures(db, address) == 6
    assert _fail(app, db, keys).allowed  # the account count starts again


def test_address_is_throttled_across_accounts(app, db):
    free = app.config["THROTTLE_IP_FREE_FAILURES"]
    for n in range(free):
        assert _fail(app, db, throttle.password_keys(f"p{n}@example.com", IP, config=app.config)).allowed
    verdict = _fail(app, db, throttle.password_keys("last@example.com", IP, config=app.config))
    assert not verdict.allowed and verdict.retry_after == 1
    fresh = throttle.password_keys("fresh@example.com", IP, config=app.config)
    assert not throttle.check(db, fresh).allowed
    elsewhere = throttle.password_keys("fresh@example.com", "198.51.100.1", config=app.config)
    assert throttle.check(db, elsewhere).allowed


def test_address_count_decays_after_a_day_but_account_count_does_not(app, db):
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    account, address = keys
    _fail_through(app, db, keys, 3)
    clock.advance(25 * 3600)
    _fail(app, db, keys)
    assert _failures(db, address) == 1 and _failures(db, account) == 4


def test_ipv6_is_counted_by_its_64_and_addresses_are_hashed(app):
    config = app.config
    assert throttle.ip_key("2001:db8:1:2::1", "pwd", config=config) == throttle.ip_key(
        "2001:db8:1:2:ffff::9", "pwd", config=config)
    assert throttle.ip_key("2001:db8:1:2::1", "pwd", config=config) != throttle.ip_key(
        "2001:db8:1:3::1", "pwd", config=config)
    assert throttle.ip_key("::ffff:203.0.113.7", "pwd", config=config) == throttle.ip_key(IP, "pwd", config=config)
    keys = throttle.password_keys(EMAIL, IP, config=config) + throttle.factor_keys(7, policy.TOTP, IP, config=config)
    assert not any(IP in key or EMAIL in key or "citizen" in key for key in keys)
    assert throttle.password_keys(" Citizen@Example.COM ", IP, config=config) == throttle.password_keys(
        EMAIL, IP, config=config)
    assert all(len(key) <= 128 for key in keys)


def test_unknown_email_is_throttled_like_a_real_one(app, db, user):
    real = throttle.password_keys(EMAIL, IP, config=app.config)
    ghost = throttle.password_keys("nobody@example.com", "198.51.100.1", config=app.config)
    real_verdicts, ghost_verdicts = [], []
    for _ in range(9):
        real_verdicts.append(_fail(app, db, real, user_id=user.id))
        ghost_verdicts.append(_fail(app, db, ghost))
        assert throttle.check(db, real) == throttle.check(db, ghost)
    assert real_verdicts == ghost_verdicts
    assert [v.retry_after for v in real_verdicts] == [0] * 5 + [1, 2, 4, 8]


def test_suspension_after_consecutive_failures(app, db, user):
    app.config["THROTTLE_SUSPEND_AFTER"] = 10
    keys = throttle.factor_keys(user.id, policy.TOTP, IP, config=app.config)
    verdict = _fail_through(app, db, keys[:1], 9, factor=policy.TOTP, user_id=user.id)
    assert not verdict.suspended
    clock.advance(verdict.retry_after)
    verdict = _fail(app, db, keys, factor=policy.TOTP, user_id=user.id)
    assert verdict == throttle.Verdict(allowed=False, retry_after=0, suspended=True)
    clock.advance(30 * 24 * 3600)
    assert throttle.check(db, keys).suspended
    throttle.success(db, keys)  # a success never lifts a suspension
    assert throttle.check(db, keys).suspended
    # Other factors and other people are unaffected.
    assert throttle.check(db, throttle.factor_keys(user.id, policy.RECOVERY, IP, config=app.config)).allowed
    assert throttle.check(db, throttle.factor_keys(user.id + 1, policy.TOTP, "198.51.100.1", config=app.config)).allowed
    suspended = db.scalars(select(AuditEvent).where(AuditEvent.event == "factor_suspended")).all()
    assert [(e.user_id, e.details["factor"], e.details["failures"]) for e in suspended] == [(user.id, "totp", 10)]


def test_default_suspends_at_exactly_100(app, db):
    assert app.config["THROTTLE_SUSPEND_AFTER"] == 100
    keys = [throttle.account_key("42", policy.TOTP)]
    verdict = _fail_through(app, db, keys, 99, factor=policy.TOTP)
    assert not verdict.suspended
    clock.advance(verdict.retry_after)
    assert throttle.check(db, keys).allowed
    assert _fail(app, db, keys, factor=policy.TOTP).suspended


def test_address_keys_are_never_suspended(app, db):
    app.config["THROTTLE_SUSPEND_AFTER"] = 3
    app.config["THROTTLE_IP_FREE_FAILURES"] = 100
    keys = [throttle.ip_key(IP, policy.PASSWORD, config=app.config)]
    verdict = _fail_through(app, db, keys, 10)
    assert verdict.allowed and not verdict.suspended


def test_audit_rows_name_no_email_and_no_address(app, db, user):
    app.config["THROTTLE_SUSPEND_AFTER"] = 7
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    _fail_through(app, db, keys, 7, user_id=user.id)
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    throttled = [e for e in events if e.event == "throttled"]
    assert [(e.details["failures"], e.details["delay"], e.details["scope"]) for e in throttled] == [
        (6, 1, "account"), (7, 2, "account")]
    assert all(e.user_id == user.id and e.details["factor"] == "pwd" for e in throttled)
    assert [e.event for e in events].count("factor_suspended") == 1
    dumped = json.dumps([e.details for e in events])
    assert EMAIL not in dumped and IP not in dumped and "citizen" not in dumped
    assert not any(key.split(":")[-1] in dumped for key in keys)


def test_unlock_user_lifts_suspension_and_counters(app, db, user):
    app.config["THROTTLE_SUSPEND_AFTER"] = 6
    totp_keys = throttle.factor_keys(user.id, policy.TOTP, IP, config=app.config)
    password_keys = throttle.password_keys(EMAIL, IP, config=app.config)
    _fail_through(app, db, totp_keys, 6, factor=policy.TOTP, user_id=user.id)
    _fail_through(app, db, password_keys, 3, user_id=user.id)
    assert throttle.check(db, totp_keys).suspended
    assert sorted(throttle.unlock_user(db, user, config=app.config)) == ["pwd", "totp"]
    assert throttle.check(db, totp_keys).allowed
    assert _failures(db, totp_keys[0]) == 0 and _failures(db, password_keys[0]) == 0
    assert _failures(db, totp_keys[1]) == 6  # the address count is not the person's
    assert throttle.unlock_user(db, user, config=app.config) == []
    lifted = db.scalars(select(AuditEvent).where(AuditEvent.event == "throttle_lifted")).all()
    assert sorted(e.details["factor"] for e in lifted) == ["pwd", "totp"]


def test_lift_one_key_after_a_recovery_code_sign_in(app, db, user):
    app.config["THROTTLE_SUSPEND_AFTER"] = 6
    key = throttle.account_key(str(user.id), policy.TOTP)
    _fail_through(app, db, [key], 6, factor=policy.TOTP, user_id=user.id)
    assert throttle.check(db, [key]).suspended
    assert throttle.lift(db, key, user_id=user.id, reason="recovery")
    assert throttle.check(db, [key]).allowed
    assert not throttle.lift(db, key)


def test_check_with_no_keys_or_unknown_keys_allows(db):
    assert throttle.check(db, []).allowed
    assert throttle.check(db, ["a:pwd:never-seen"]) == throttle.Verdict(allowed=True)


def test_reserve_counts_before_the_check_and_blocks_past_the_allowance(app, db):
    """A guess in flight is counted: the one past the free failures blocks the key before its
    answer is known, so a parallel guess finds it blocked; a refused attempt is not counted."""
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    account = keys[0]
    free = app.config["THROTTLE_FREE_FAILURES"]
    for n in range(1, free + 2):
        assert throttle.reserve(db, count=[account], check_only=keys, config=app.config).allowed
        assert _failures(db, account) == n
    refused = throttle.reserve(db, count=[account], check_only=keys, config=app.config)
    assert not refused.allowed and refused.retry_after == 1
    assert _failures(db, account) == free + 1
    # settling the reserved guesses as failures counts the address, not the account again
    verdict = _fail(app, db, keys, reserved=[account])
    assert _failures(db, account) == free + 1 and _failures(db, keys[1]) == 1 and not verdict.allowed
    throttle.success(db, [account])
    assert _failures(db, account) == 0
