"""Address throttles in Redis (IDP_REDIS_URL): the database's rules, counted atomically in Redis,
account keys still in the database, and the database again whenever Redis does not answer."""

import logging
import socket
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from idp import clock
from idp import metrics
from idp.assurance import policy
from idp.authn import address_throttle
from idp.authn import throttle
from idp.authn.models import Throttle
from idp.config import ConfigError
from idp.redis_store import RedisStore
from idp.redis_store import Unavailable
from tests.support.tcp_proxy import relay
from tests.support.threads import run_together
from tests.support.throttles import failures_of
from tests.support.throttles import stored_row

IP = "203.0.113.7"
EMAIL = "citizen@example.com"


@pytest.fixture
def app_config(app_config, redis_url):
    return {**app_config, "REDIS_URL": redis_url}


@pytest.fixture
def store(app):
    return app.extensions["idp.redis"]


def _fail(app, db, keys, **kwargs):
    return throttle.failure(db, keys, config=app.config, factor=policy.PASSWORD, **kwargs)


def test_address_keys_are_counted_in_redis_and_account_keys_in_the_database(app, db, store):
    account, address = throttle.password_keys(EMAIL, IP, config=app.config)
    _fail(app, db, [account, address])
    assert stored_row(db, address) is None
    assert stored_row(db, account).failures == 1
    assert failures_of(db, address) == 1
    redis_key = address_throttle.KEY_PREFIX + address
    assert store.client.exists(redis_key)
    # no address in clear, and the key goes away once its count would have decayed
    assert IP not in redis_key and redis_key.startswith("idp:throttle:i:pwd:")
    assert 0 < store.client.pttl(redis_key) <= throttle.DECAY.total_seconds() * 1000


def test_address_blocked_after_its_free_failures_with_growing_delays(app, db):
    app.config["THROTTLE_IP_FREE_FAILURES"] = 3
    address = [throttle.ip_key(IP, policy.PASSWORD, config=app.config)]
    verdicts = []
    for _ in range(6):
        verdict = _fail(app, db, address)
        verdicts.append(verdict.retry_after)
        assert throttle.check(db, address) == verdict
        clock.advance(verdict.retry_after)
    assert verdicts == [0, 0, 0, 1, 2, 4]
    assert not db.scalars(select(Throttle)).all()
    throttled = [e for e in _events(db) if e.event == "throttled"]
    assert [(e.details["scope"], e.details["failures"], e.details["delay"]) for e in throttled] == [
        ("address", 4, 1), ("address", 5, 2), ("address", 6, 4)]


def test_address_delay_is_capped(app, db):
    app.config["THROTTLE_IP_FREE_FAILURES"] = 0
    address = [throttle.ip_key(IP, policy.PASSWORD, config=app.config)]
    verdict = None
    for _ in range(14):
        if verdict is not None:
            clock.advance(verdict.retry_after)
        verdict = _fail(app, db, address)
    assert verdict.retry_after == app.config["THROTTLE_MAX_DELAY"] == 900


def test_address_count_decays_after_a_quiet_day(app, db, store):
    keys = throttle.password_keys(EMAIL, IP, config=app.config)
    for _ in range(3):
        _fail(app, db, keys)
    clock.advance(25 * 3600)
    _fail(app, db, keys)
    assert failures_of(db, keys[1]) == 1 and failures_of(db, keys[0]) == 4


def test_signup_reservations_refuse_past_the_allowance_and_do_not_count_refusals(app, db):
    app.config["THROTTLE_IP_FREE_FAILURES"] = 2
    keys = throttle.signup_keys(IP, config=app.config)
    allowed = [throttle.reserve(db, count=keys, config=app.config).allowed for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    assert failures_of(db, keys[0]) == 3  # the third blocked the address at once; refusals not counted
    assert not db.scalars(select(Throttle)).all()


def test_reset_reservation_keeps_the_account_key_in_the_database(app, db):
    account, address = throttle.reset_keys(EMAIL, IP, config=app.config)
    assert throttle.reserve(db, count=[account, address], config=app.config).allowed
    assert stored_row(db, account).failures == 1 and stored_row(db, address) is None
    assert failures_of(db, address) == 1


def test_refused_by_the_account_counts_nothing_in_redis(app, db):
    app.config["THROTTLE_FREE_FAILURES"] = 0
    account, address = throttle.reset_keys(EMAIL, IP, config=app.config)
    assert throttle.reserve(db, count=[account, address], config=app.config).allowed  # blocks the account
    refused = throttle.reserve(db, count=[account, address], config=app.config)
    assert not refused.allowed and refused.retry_after == 1
    assert failures_of(db, address) == 1 and stored_row(db, account).failures == 1


def test_parallel_failures_count_exactly(app):
    """Threads failing at once, each with its own session (as requests are): no lost update."""
    app.config["THROTTLE_IP_FREE_FAILURES"] = 1000
    address = [throttle.ip_key(IP, policy.TOTP, config=app.config)]
    threads, per_thread = 8, 5

    def run(barrier):
        with app.app_context():
            from idp.db import get_session

            db = get_session()
            barrier.wait(timeout=30)
            for _ in range(per_thread):
                throttle.failure(db, address, config=app.config, factor=policy.TOTP)

    run_together(threads, run)
    with app.app_context():
        from idp.db import get_session

        assert failures_of(get_session(), address[0]) == threads * per_thread


def test_parallel_signups_get_exactly_the_allowance(app):
    app.config["THROTTLE_IP_FREE_FAILURES"] = 4
    keys = throttle.signup_keys(IP, config=app.config)
    threads = 10
    allowed = []

    def run(barrier):
        with app.app_context():
            from idp.db import get_session

            db = get_session()
            barrier.wait(timeout=30)
            allowed.append(throttle.reserve(db, count=keys, config=app.config).allowed)

    run_together(threads, run)
    assert allowed.count(True) == 5  # the free four, and the fifth that starts the block


@pytest.fixture
def relayed(app_config, redis_url, make_app):
    """An app whose Redis is behind a relay the test can cut (Redis "goes away") and restore."""
    url = urlsplit(redis_url)
    with relay(url.hostname, url.port) as proxy:
        made = make_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}{url.path}"})
        with made.app_context():
            from idp.db import get_session

            yield made, get_session(), proxy


def test_redis_going_away_falls_back_to_the_database_with_one_log_line(relayed, caplog):
    app, db, proxy = relayed
    app.config["THROTTLE_IP_FREE_FAILURES"] = 2
    address = [throttle.ip_key(IP, policy.PASSWORD, config=app.config)]
    _fail(app, db, address)
    assert failures_of(db, address[0]) == 1 and stored_row(db, address[0]) is None
    proxy.cut()
    errors_before = _redis_errors()
    with caplog.at_level(logging.WARNING, logger="idp.redis_store"):
        verdicts = [_fail(app, db, address).allowed for _ in range(4)]
    # counted afresh in the database: its free failures, then blocked, as without Redis
    assert verdicts == [True, True, False, False]
    assert stored_row(db, address[0]).failures == 4
    assert not throttle.check(db, address).allowed
    lines = [r.getMessage() for r in caplog.records if r.name == "idp.redis_store"]
    assert len(lines) == 1 and "not answering" in lines[0] and IP not in lines[0]
    assert _redis_errors() == errors_before + 1  # paused after the error, not tried at each call
    assert not app.extensions["idp.redis"].up


def test_blocks_set_while_redis_was_away_still_hold_when_it_is_back(relayed, caplog):
    app, db, proxy = relayed
    app.config["THROTTLE_IP_FREE_FAILURES"] = 0
    address = [throttle.ip_key(IP, policy.PASSWORD, config=app.config)]
    store = app.extensions["idp.redis"]
    store.retry_after = 0.0  # tried again at the next call (5 s in production)
    proxy.cut()
    assert _fail(app, db, address).retry_after == 1  # in the database
    assert stored_row(db, address[0]).failures == 1
    proxy.restore()
    with caplog.at_level(logging.WARNING, logger="idp.redis_store"):
        assert throttle.check(db, address).retry_after == 1
    assert store.up and any("answering again" in r.getMessage() for r in caplog.records)
    clock.advance(1)
    assert throttle.check(db, address).allowed
    _fail(app, db, address)
    assert failures_of(db, address[0]) == 1  # counted in Redis again
    assert stored_row(db, address[0]).failures == 1


def test_a_silent_redis_never_stalls_a_call():
    """A server that accepts and never answers: the call gives up after the short timeout."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/5")
        started = time.monotonic()
        with pytest.raises(Unavailable):
            store.run(lambda client: client.get("x"))
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        with pytest.raises(Unavailable):  # paused: not even tried
            store.run(lambda client: client.get("x"))
        assert time.monotonic() - started < 0.05
        store.close()


def test_lift_of_an_address_key_clears_it_in_redis(app, db):
    address = throttle.ip_key(IP, policy.PASSWORD, config=app.config)
    _fail(app, db, [address])
    assert throttle.lift(db, address, reason="operator")
    assert failures_of(db, address) == 0
    assert not throttle.lift(db, address)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_redis_url_must_be_a_redis_url(make_app, app_config, url):
    with pytest.raises(ConfigError, match="IDP_REDIS_URL"):
        make_app({**app_config, "REDIS_URL": url})


def test_redis_url_is_read_from_the_environment(make_app, app_config, redis_url, monkeypatch):
    monkeypatch.setenv("IDP_REDIS_URL", redis_url)
    config = {k: v for k, v in app_config.items() if k != "REDIS_URL"}
    made = make_app(config)
    assert made.config["REDIS_URL"] == redis_url and "idp.redis" in made.extensions


def test_without_redis_url_there_is_no_redis(make_app, app_config):
    made = make_app({**app_config, "REDIS_URL": None})
    assert "idp.redis" not in made.extensions


def _events(db):
    from idp.audit.models import AuditEvent

    return db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def _redis_errors():
    return sum(sample.value for metric in metrics.REDIS_ERRORS.collect() for sample in metric.samples
               if sample.name == "idp_redis_errors_total")


def _free_port():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]
