"""Queueing, claiming and sending back-channel logout tokens, with retries.

The record is written in the transaction that ends the session (an outbox): if that commits, the
e-Services are owed their logout tokens whatever happens to this process; if it rolls back, nobody
is told of a sign-out that did not happen.

Claiming is one conditional UPDATE: a due row is taken by moving its ``next_attempt_at`` past the
attempt's lease (and counting the attempt), ``WHERE status = 'pending' AND next_attempt_at <= now``.
Two instances (or two threads, or the runner and a request) racing for the same row both run the
UPDATE; the database lets one change it and the other then finds the condition false (PostgreSQL
re-checks it on the row the winner wrote; SQLite writes one at a time), so a token is never sent
twice by design. An instance that dies mid-attempt leaves the row pending: it is due again when
the lease ends. The outcome is written only if the row is still the one this attempt claimed
(same ``attempts``), so a late answer after the lease cannot overwrite a newer attempt's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp import outbound
from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.backchannel.logout_token import make_logout_token
from idp.backchannel.models import DeliveryStatus
from idp.backchannel.models import LogoutDelivery
from idp.keyring import Keyring
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Token

PENDING = DeliveryStatus.PENDING.value
LEASE_MARGIN = 30.0  # seconds a claim outlasts the POST's deadline before another runner may take the row


def logout_uri(client: Client) -> str | None:
    value = client.client_metadata.get("backchannel_logout_uri")
    return str(value) if value else None


def queue(db: Session, sids: Sequence[str], *, reason: str, now: dt.datetime) -> int:
    """Owe a logout token to every e-Service that got tokens in these (just ended) sessions; not committed.

    "Got tokens" is read from what was issued: the tokens (``Token.sid``) and the codes that were
    exchanged (``AuthorizationCode.sid``, for tokens already pruned). An e-Service without a
    ``backchannel_logout_uri`` is not called, nor one no longer active (its requests are refused: it
    is not told about the person either). Returns how many deliveries were queued.
    """
    if not sids:
        return 0
    pairs = {(int(c), str(s)) for c, s in db.execute(select(Token.client_id, Token.sid)
                                                     .where(Token.sid.in_(list(sids))).distinct())}
    pairs |= {(int(c), str(s)) for c, s in db.execute(
        select(AuthorizationCode.client_id, AuthorizationCode.sid)
        .where(AuthorizationCode.sid.in_(list(sids)), AuthorizationCode.used_at.is_not(None)).distinct())}
    if not pairs:
        return 0
    clients = {c.id: c for c in db.scalars(select(Client).where(Client.id.in_({c for c, _ in pairs})))}
    queued = 0
    for client_id, sid in sorted(pairs):
        client = clients.get(client_id)
        if client is None or not client.active or not logout_uri(client):
            continue
        db.add(LogoutDelivery(client_id=client_id, sid=sid, reason=reason[:32], next_attempt_at=now))
        queued += 1
    return queued


@dataclass(frozen=True)
class Settings:
    """The ``BACKCHANNEL_LOGOUT_*`` settings an attempt needs."""

    issuer: str
    token_lifetime: int = 120
    deadline: float = 3.0
    max_attempts: int = 8
    retry_base: float = 30.0
    retry_max: float = 3600.0

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Settings:
        return cls(issuer=str(config["ISSUER"]), token_lifetime=int(config["BACKCHANNEL_LOGOUT_TOKEN_LIFETIME"]),
                   deadline=float(config["BACKCHANNEL_LOGOUT_DEADLINE"]),
                   max_attempts=max(1, int(config["BACKCHANNEL_LOGOUT_MAX_ATTEMPTS"])),
                   retry_base=float(config["BACKCHANNEL_LOGOUT_RETRY_BASE"]),
                   retry_max=float(config["BACKCHANNEL_LOGOUT_RETRY_MAX"]))

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped."""
        return float(min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max))


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    delivered: bool
    error: str | None = None
    final: bool = False


def due_ids(db: Session, *, now: dt.datetime, limit: int) -> list[int]:
    return list(db.scalars(select(LogoutDelivery.id).where(LogoutDelivery.status == PENDING,
                                                           LogoutDelivery.next_attempt_at <= now)
                           .order_by(LogoutDelivery.next_attempt_at, LogoutDelivery.id).limit(limit)))


def claim(db: Session, delivery_id: int, *, now: dt.datetime, lease: float) -> int | None:
    """Take a due delivery for one attempt (committed at once); its attempt number, or ``None``
    when another runner has it or it is no longer due."""
    result = db.execute(update(LogoutDelivery)
                        .where(LogoutDelivery.id == delivery_id, LogoutDelivery.status == PENDING,
                               LogoutDelivery.next_attempt_at <= now)
                        .values(next_attempt_at=now + dt.timedelta(seconds=lease),
                                attempts=LogoutDelivery.attempts + 1)
                        .execution_options(synchronize_session=False))
    db.commit()
    if int(result.rowcount) != 1:  # type: ignore[attr-defined]
        return None
    attempts = db.scalar(select(LogoutDelivery.attempts).where(LogoutDelivery.id == delivery_id))
    return int(attempts) if attempts is not None else None


def _error_code(exc: outbound.FetchError) -> str:
    for kind, code in ((outbound.NotAllowed, "not_allowed"), (outbound.Timeout, "timeout"),
                       (outbound.Unreachable, "unreachable"), (outbound.TooLarge, "too_large")):
        if isinstance(exc, kind):
            return code
    return "bad_response"


def send(db: Session, delivery: LogoutDelivery, *, settings: Settings, keyring: Keyring,
         fetcher: outbound.Fetcher) -> tuple[str | None, bool]:
    """POST a fresh logout token; ``(None, _)`` when the e-Service took it, else ``(error code, final)``.

    §2.8: the e-Service answers 200 when it logged the session out (some frameworks turn an empty
    200 into 204, which the spec says to accept too); anything else is a failure, retried. A URI
    whose address the fetcher refuses (not public) is final: posting again would be refused again.
    """
    client = db.get(Client, delivery.client_id, populate_existing=True)
    row = db.get(AuthSession, delivery.sid)
    user = db.get(User, row.user_id) if row is not None else None
    uri = logout_uri(client) if client is not None else None
    if client is None or user is None or uri is None or not client.active:
        return "client_gone", True
    token = make_logout_token(client=client, user=user, sid=delivery.sid, issuer=settings.issuer, keyring=keyring,
                              now=int(clock.timestamp()), lifetime=settings.token_lifetime)
    try:
        status = fetcher.post_form(uri, {"logout_token": token}, deadline=settings.deadline)
    except outbound.FetchError as exc:
        code = _error_code(exc)
        return code, code == "not_allowed"
    if status in (200, 204):
        return None, False
    return f"http_{status}", False


def attempt(db: Session, delivery_id: int, *, settings: Settings, keyring: Keyring,
            fetcher: outbound.Fetcher) -> Outcome | None:
    """Claim one delivery, send it and record the outcome with its audit event; ``None`` if not claimed."""
    now = clock.utc_now()
    number = claim(db, delivery_id, now=now, lease=settings.deadline + LEASE_MARGIN)
    if number is None:
        return None
    delivery = db.get(LogoutDelivery, delivery_id, populate_existing=True)  # sessions keep rows across commits
    assert delivery is not None
    error, final = send(db, delivery, settings=settings, keyring=keyring, fetcher=fetcher)
    done = clock.utc_now()
    final = final or (error is not None and number >= settings.max_attempts)
    values: dict[str, Any]
    if error is None:
        values = {"status": DeliveryStatus.DELIVERED.value, "delivered_at": done, "last_error": None}
    elif final:
        values = {"status": DeliveryStatus.FAILED.value, "last_error": error}
    else:
        values = {"last_error": error, "next_attempt_at": done + dt.timedelta(seconds=settings.backoff(number))}
    result = db.execute(update(LogoutDelivery).where(LogoutDelivery.id == delivery_id,
                                                     LogoutDelivery.status == PENDING,
                                                     LogoutDelivery.attempts == number)
                        .values(**values).execution_options(synchronize_session=False))
    if int(result.rowcount) != 1:  # type: ignore[attr-defined]  # the lease ended and another runner took it
        db.rollback()
        return None
    session_row = db.get(AuthSession, delivery.sid)
    event = audit.Event.BACKCHANNEL_LOGOUT_DELIVERED if error is None else audit.Event.BACKCHANNEL_LOGOUT_FAILED
    details: dict[str, Any] = {"delivery": delivery_id, "attempt": number, "reason": delivery.reason}
    if error is not None:
        details.update(error=error, final=final)
    audit.record(db, event, user_id=session_row.user_id if session_row else None, client_id=delivery.client_id,
                 commit=False, **details)
    db.commit()
    return Outcome(delivery_id=delivery_id, delivered=error is None, error=error, final=final)


@dataclass(frozen=True)
class RunSummary:
    delivered: int
    failed: int  # attempts that failed (retried later unless final)
    given_up: int  # of which final


def deliver_due(db: Session, *, settings: Settings, keyring: Keyring, fetcher: outbound.Fetcher,
                limit: int = 100) -> RunSummary:
    """Attempt every delivery due now (at most ``limit``), one after another."""
    ids = due_ids(db, now=clock.utc_now(), limit=limit)
    db.commit()  # the read is over; each claim is its own transaction
    outcomes = [o for o in (attempt(db, i, settings=settings, keyring=keyring, fetcher=fetcher) for i in ids)
                if o is not None]
    return RunSummary(delivered=sum(o.delivered for o in outcomes),
                      failed=sum(not o.delivered for o in outcomes),
                      given_up=sum(o.final for o in outcomes))


def prune(db: Session, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=30)) -> int:
    """Delete the records of deliveries finished (delivered or given up) more than ``keep`` ago; committed."""
    result = db.execute(delete(LogoutDelivery).where(
        LogoutDelivery.status.in_([DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value]),
        LogoutDelivery.created_at < now - keep).execution_options(synchronize_session=False))
    db.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
