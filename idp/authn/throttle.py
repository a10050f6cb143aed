"""Rate limiting of authentication attempts (SP 800-63B-4 §3.2.2), in the database so every
server process counts the same failures.

Two kinds of key, both free of personal data:

* account keys, ``a:<factor>:<subject>``: the subject is the user id for TOTP and recovery
  codes, and a keyed hash of the normalised email for passwords, so that an email
  with no account is throttled exactly like one with an account (nothing to enumerate).
  They count consecutive failures until a success; at ``THROTTLE_SUSPEND_AFTER`` the factor is
  suspended until an operator (``idp users unlock``) lifts it; a recovery code lifts a
  suspended TOTP.
* address keys, ``i:<factor>:<hash>``: a keyed hash of the client address (IPv6 by its /64,
  the block one subscriber gets). Their count decays after a day without failure.

Two keys count requests rather than failed guesses: ``signup`` (sign-ups per address) and
``reset`` (password-reset emails, per account and per address, :func:`reset_keys`). Both decay
after a day without a request, the account key included: they limit a flood of mail, not guesses.

After the free failures (``THROTTLE_FREE_FAILURES``, ``THROTTLE_IP_FREE_FAILURES``) each further
failure blocks the key for 1, 2, 4, 8... seconds, up to ``THROTTLE_MAX_DELAY``.

The caller's sequence: :func:`reserve` before verifying anything, which counts the attempt
against the account keys at once (so parallel guesses cannot all pass one check of the count);
on a wrong value :func:`failure` with the reserved keys; on a right one :func:`success` with the
account keys.

With ``REDIS_URL`` set, the address keys are counted in Redis instead (:mod:`idp.authn.address_throttle`,
same rules, atomic there), and the database takes only the account keys: losing an address count
costs nothing but a fresh allowance, losing an account count would weaken the account's limit. When
Redis fails, the address keys are counted here again (:mod:`idp.redis_store` says when to retry),
and the database's rows are always read too, so a block set here meanwhile holds until it ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import math
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.accounts.service import normalise_email
from idp.assurance import policy
from idp.authn import address_throttle
from idp.authn.models import Throttle
from idp.crypto import derive_key
from idp.crypto import keyed_hash
from idp.redis_store import SESSION_INFO
from idp.redis_store import RedisStore
from idp.redis_store import Unavailable

ACCOUNT = "a"
ADDRESS = "i"
SIGNUP = "signup"  # not a factor: the address key that counts sign-ups
RESET = "reset"  # not a factor: password-reset emails asked for, per account and per address
REQUEST_COUNTERS = (SIGNUP, RESET)  # keys that count requests, and forget them after a quiet day
DECAY = dt.timedelta(hours=24)  # address keys forget failures older than this
_MAX_EXPONENT = 30  # 2**30 s is far past any sane THROTTLE_MAX_DELAY; keeps the power small
_TABLE = cast(Table, Throttle.__table__)


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead.

    :param retry_after: whole seconds until the longest block ends (0 when allowed or suspended)
    :param suspended: an account key is suspended: no wait helps, only an unlock
    :param counted: some account key has failures on record (a success must clear them)
    """

    allowed: bool
    retry_after: int = 0
    suspended: bool = False
    counted: bool = field(default=False, compare=False)


ALLOWED = Verdict(allowed=True)


def account_key(subject: str, factor: str) -> str:
    """The key of one factor of one account: ``subject`` is ``str(user_id)``, or
    :func:`email_blind` for passwords."""
    return f"{ACCOUNT}:{factor}:{subject}"


def email_blind(email: str, *, config: Mapping[str, Any]) -> str:
    """A keyed hash of the normalised email: the password key's subject, account or not."""
    return keyed_hash(_key(config), "email:" + normalise_email(email))


def ip_key(ip: str, factor: str, *, config: Mapping[str, Any]) -> str:
    """The key of one client address (hashed: addresses are personal data)."""
    return f"{ADDRESS}:{factor}:{keyed_hash(_key(config), 'ip:' + _network(ip))}"


def password_keys(email: str, ip: str, *, config: Mapping[str, Any]) -> list[str]:
    """Account key then address key for a password attempt."""
    return [account_key(email_blind(email, config=config), policy.PASSWORD), ip_key(ip, policy.PASSWORD, config=config)]


def signup_keys(ip: str, *, config: Mapping[str, Any]) -> list[str]:
    """The address key for sign-ups: every sign-up from one address (IPv6: its /64) counts, like
    failed sign-ins, against ``THROTTLE_IP_FREE_FAILURES`` a day."""
    return [ip_key(ip, SIGNUP, config=config)]


def reset_keys(email: str, ip: str, *, config: Mapping[str, Any]) -> list[str]:
    """Account key (the email's blind index, so an address without an account counts alike) then
    address key for a password-reset request; each allows ``THROTTLE_FREE_FAILURES`` and
    ``THROTTLE_IP_FREE_FAILURES`` emails before the delays start, and both forget after a quiet day."""
    return [account_key(email_blind(email, config=config), RESET), ip_key(ip, RESET, config=config)]


def factor_keys(user_id: int, factor: str, ip: str, *, config: Mapping[str, Any]) -> list[str]:
    """Account key then address key for a second factor (TOTP, recovery code).

    WebAuthn is not counted: an assertion cannot be guessed, only signed by the key."""
    return [account_key(str(user_id), factor), ip_key(ip, factor, config=config)]


def is_account_key(key: str) -> bool:
    return key.startswith(ACCOUNT + ":")


def check(db: Session, keys: Iterable[str], *, now: dt.datetime | None = None) -> Verdict:
    """Refused while any key is blocked, or while any account key is suspended."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return ALLOWED
    now = now or clock.utc_now()
    return _with_wait(_stored_verdict(db, keys, now=now), _remote_wait(db, keys, now=now))


def reserve(db: Session, *, count: Iterable[str], check_only: Iterable[str] = (),
            config: Mapping[str, Any]) -> Verdict:
    """Count one attempt against ``count`` before it is checked; refused while any key is blocked.

    Guesses in flight are counted (SP 800-63B-4 §3.2.2 limits *attempts*): each reservation
    locks the key's row, so parallel requests take their places one after the other, and one
    past the free allowance blocks the key at once, as if it had failed, so the next parallel
    request finds it blocked. A right answer then clears the account keys (:func:`success`);
    a wrong one is settled by :func:`failure` with ``reserved=count``. A refused attempt is not
    counted. ``check_only`` keys (the address, for sign-in) are only checked. Commits.

    With Redis, the address keys are checked and counted there, in one atomic script, after
    the account keys are counted and checked here (so a refusal by either is not counted by
    the other: the database rolls back, Redis never counted).
    """
    now = clock.utc_now()
    counted = sorted(set(count))  # one lock order for every process
    checked = list(dict.fromkeys([*counted, *check_only]))
    if db.new or db.dirty or db.deleted:
        db.commit()  # the rollback below must take back the reservation only
    store = _store(db)
    remote = [key for key in checked if store is not None and not is_account_key(key)]
    # The upsert counts the attempt and holds the key's row (PostgreSQL: a row lock; SQLite: the
    # write lock) until commit, in one statement; a refused attempt is then rolled back.
    failures = {key: _increment(db, key, now=now, decay=_decays(key)) for key in counted if key not in remote}
    verdict = _stored_verdict(db, checked, now=now)
    if not verdict.allowed:
        verdict = _with_wait(verdict, _remote_wait(db, remote, now=now))
    elif store is not None and remote:
        try:
            wait = address_throttle.reserve(store, count=[k for k in remote if k in counted],
                                            check_only=[k for k in remote if k not in counted], now=now,
                                            decay=DECAY, free=int(config["THROTTLE_IP_FREE_FAILURES"]),
                                            longest=int(config["THROTTLE_MAX_DELAY"]))
            verdict = _with_wait(verdict, wait)
        except Unavailable:  # counted here instead, as without Redis
            failures.update({key: _increment(db, key, now=now, decay=_decays(key)) for key in remote
                             if key in counted})
            verdict = _stored_verdict(db, checked, now=now)
    if not verdict.allowed:
        db.rollback()
        return verdict
    for key, count_now in failures.items():
        blocked_until = _blocked_until(key, count_now, now=now, config=config)
        if blocked_until is not None:  # one past the free allowance: blocked at once
            db.execute(update(_TABLE).where(_TABLE.c.key == key).values(blocked_until=blocked_until))
    db.commit()
    return verdict


def failure(db: Session, keys: Iterable[str], *, config: Mapping[str, Any], factor: str,
            user_id: int | None = None, reserved: Iterable[str] = ()) -> Verdict:
    """Count one failed attempt against every key (but those :func:`reserve` counted already);
    block or suspend as due. Commits.

    :param user_id: the account, when one exists (audit only; never changes the outcome)
    :returns: the verdict for the next attempt
    """
    now = clock.utc_now()
    keys = sorted(set(keys))  # one lock order for every process
    reserved = set(reserved)
    remote = _remote_failures(db, keys, reserved=reserved, now=now, config=config)
    for key in keys:
        account = is_account_key(key)
        if key in remote:
            failures, delay = remote[key].failures, remote[key].delay
            if delay is not None:
                audit.record(db, audit.Event.THROTTLED, user_id=user_id, commit=False, factor=factor,
                             scope="address", failures=failures, delay=delay)
            continue
        if key in reserved:  # counted before the check; gone if a right answer came in between
            failures = db.scalar(select(_TABLE.c.failures).where(_TABLE.c.key == key)) or 0
        else:
            failures = _increment(db, key, now=now, decay=_decays(key))
        blocked_until = _blocked_until(key, failures, now=now, config=config)
        if blocked_until is not None:
            delay = int((blocked_until - now).total_seconds())
            audit.record(db, audit.Event.THROTTLED, user_id=user_id, commit=False, factor=factor,
                         scope="account" if account else "address", failures=failures, delay=delay)
        if key not in reserved:
            db.execute(update(_TABLE).where(_TABLE.c.key == key).values(blocked_until=blocked_until))
        elif blocked_until is not None:  # never shorten a block a later reservation set
            db.execute(update(_TABLE).where(_TABLE.c.key == key, or_(_TABLE.c.blocked_until.is_(None),
                                                                   _TABLE.c.blocked_until < blocked_until))
                       .values(blocked_until=blocked_until))
        if account and failures >= int(config["THROTTLE_SUSPEND_AFTER"]):
            result = db.execute(update(_TABLE).where(_TABLE.c.key == key, _TABLE.c.suspended_at.is_(None))
                                .values(suspended_at=now))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                audit.record(db, audit.Event.FACTOR_SUSPENDED, user_id=user_id, commit=False, factor=factor,
                             failures=failures)
    verdict = _with_wait(_stored_verdict(db, keys, now=now), max((f.wait for f in remote.values()), default=0))
    db.commit()
    return verdict


def success(db: Session, account_keys: Iterable[str]) -> None:
    """Forget the failures of these account keys (address keys given are left alone). Commits.

    A suspended key stays suspended: only :func:`lift` ends a suspension.
    """
    keys = [key for key in account_keys if is_account_key(key)]
    if keys:
        db.execute(delete(_TABLE).where(_TABLE.c.key.in_(keys), _TABLE.c.suspended_at.is_(None)))
    db.commit()


def lift(db: Session, key: str, *, user_id: int | None = None, reason: str = "operator") -> bool:
    """Clear one key's counters and suspension. Commits; ``False`` when there was nothing to clear."""
    forgotten = False
    store = _store(db)
    if store is not None and not is_account_key(key):
        with contextlib.suppress(Unavailable):
            forgotten = address_throttle.forget(store, key)
    result = db.execute(delete(_TABLE).where(_TABLE.c.key == key))
    if result.rowcount == 0 and not forgotten:  # type: ignore[attr-defined]
        db.commit()
        return False
    audit.record(db, audit.Event.THROTTLE_LIFTED, user_id=user_id, commit=False, factor=_factor_of(key), reason=reason)
    db.commit()
    return True


def account_keys(user: User, *, config: Mapping[str, Any]) -> dict[str, str]:
    """The account key of each factor: the password's by the email's blind index (so an unknown
    email is throttled alike), the others by account id."""
    keys = {policy.PASSWORD: account_key(email_blind(user.email, config=config), policy.PASSWORD)}
    keys.update({f: account_key(str(user.id), f) for f in policy.METHODS if f != policy.PASSWORD})
    return keys


def unlock_user(db: Session, user: User, *, config: Mapping[str, Any]) -> list[str]:
    """Lift every account key of the person.

    :returns: the factors that had been throttled or suspended
    """
    keys = account_keys(user, config=config).values()
    return [_factor_of(key) for key in keys if lift(db, key, user_id=user.id, reason="operator")]


def _store(db: Session) -> RedisStore | None:
    """The app's Redis, when ``REDIS_URL`` is set (:func:`idp.redis_store.init_app` hands it to
    every session, as the audit sealing mode is)."""
    store: RedisStore | None = db.info.get(SESSION_INFO)
    return store


def _stored_verdict(db: Session, keys: list[str], *, now: dt.datetime) -> Verdict:
    """The verdict of the database's rows: every account key, and the address keys when there
    is no Redis (or were counted here while it was away: their blocks still hold)."""
    rows = db.execute(select(Throttle.key, Throttle.blocked_until, Throttle.suspended_at)
                      .where(Throttle.key.in_(keys))).all()
    suspended = any(row.suspended_at is not None and is_account_key(row.key) for row in rows)
    wait = max((row.blocked_until - now for row in rows if row.blocked_until is not None), default=dt.timedelta(0))
    retry_after = 0 if suspended else max(0, math.ceil(wait.total_seconds()))
    counted = any(is_account_key(row.key) for row in rows)
    return Verdict(allowed=not suspended and retry_after == 0, retry_after=retry_after, suspended=suspended,
                   counted=counted)


def _remote_wait(db: Session, keys: Iterable[str], *, now: dt.datetime) -> float:
    """Seconds until the address keys' blocks in Redis end; 0 without Redis (the database's
    rows are then the whole answer)."""
    store = _store(db)
    addresses = [key for key in keys if not is_account_key(key)]
    if store is None or not addresses:
        return 0.0
    try:
        return address_throttle.blocked_for(store, addresses, now=now)
    except Unavailable:
        return 0.0


def _remote_failures(db: Session, keys: list[str], *, reserved: set[str], now: dt.datetime,
                     config: Mapping[str, Any]) -> dict[str, address_throttle.Failed]:
    """Count the address keys' failures in Redis; empty without Redis (then counted here)."""
    store = _store(db)
    addresses = [key for key in keys if not is_account_key(key)]
    if store is None or not addresses:
        return {}
    try:
        return address_throttle.fail(store, addresses, reserved=[k for k in addresses if k in reserved], now=now,
                                     decay=DECAY, free=int(config["THROTTLE_IP_FREE_FAILURES"]),
                                     longest=int(config["THROTTLE_MAX_DELAY"]))
    except Unavailable:
        return {}


def _with_wait(verdict: Verdict, wait: float) -> Verdict:
    """``verdict`` refused for ``wait`` seconds more, if that is longer (a suspension stays as it is)."""
    if wait <= 0 or verdict.suspended:
        return verdict
    retry_after = max(verdict.retry_after, math.ceil(wait))
    return Verdict(allowed=False, retry_after=retry_after, counted=verdict.counted)


def _decays(key: str) -> bool:
    """Address keys, and the account keys that count requests, forget after a quiet day."""
    return not is_account_key(key) or _factor_of(key) in REQUEST_COUNTERS


def _free(key: str, config: Mapping[str, Any]) -> int:
    return int(config["THROTTLE_FREE_FAILURES" if is_account_key(key) else "THROTTLE_IP_FREE_FAILURES"])


def _blocked_until(key: str, failures: int, *, now: dt.datetime, config: Mapping[str, Any]) -> dt.datetime | None:
    """After the free failures, 1, 2, 4, 8... seconds, up to ``THROTTLE_MAX_DELAY``."""
    free = _free(key, config)
    if failures <= free:
        return None
    delay = min(2 ** min(failures - free - 1, _MAX_EXPONENT), int(config["THROTTLE_MAX_DELAY"]))
    return now + dt.timedelta(seconds=delay)


def _insert(db: Session) -> Any:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_TABLE)
    if dialect == "sqlite":
        return sqlite.insert(_TABLE)
    raise RuntimeError(f"throttling needs SQLite or PostgreSQL, not {dialect}")  # pragma: no cover


def _increment(db: Session, key: str, *, now: dt.datetime, decay: bool) -> int:
    """Add one failure in one statement (an upsert, safe across processes); the new count."""
    insert = _insert(db)
    counted: Any = _TABLE.c.failures + 1
    if decay:
        counted = case((_TABLE.c.last_failure_at < now - DECAY, 1), else_=_TABLE.c.failures + 1)
    stmt = (
        insert.values(key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(index_elements=[_TABLE.c.key], set_={"failures": counted, "last_failure_at": now})
        .returning(_TABLE.c.failures)
    )
    return int(db.execute(stmt).scalar_one())


def _network(ip: str) -> str:
    """The address, or for IPv6 its /64; the text as given when it does not parse."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip()
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _factor_of(key: str) -> str:
    return key.split(":", 2)[1]


def _key(config: Mapping[str, Any]) -> bytes:
    return derive_key(str(config["SECRET_KEY"]), purpose="throttle")
