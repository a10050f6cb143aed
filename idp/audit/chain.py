"""Audit events for security decisions, in an append-only hash chain.

Only internal ids and codes go in (PDPA: no email, name, address or secret). Each event's hash
covers its fields and the previous event's hash; ``verify`` walks the chain and names the first
link that does not hold.

Two ways to take a place in the chain (the ``AUDIT_SEALING`` setting):

- ``inline`` (the default): the event is chained in the transaction that records it. Simple, and
  the chain is whole at every commit; but every audited transaction updates the one head row and
  holds its lock until it commits, so on PostgreSQL audited requests of all instances pass one at a
  time through that row (about one commit latency each).
- ``deferred``: events are inserted unchained (``seq`` NULL), without touching the head, and a
  sealer (:func:`seal`, run by each serving process about twice a second, serialised on the head row)
  chains them in insertion order. Tamper evidence starts at sealing, within a second; ``verify``
  and the console seal what is pending first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import clock
from idp.audit.events import Event
from idp.audit.models import AuditEvent
from idp.audit.models import AuditHead

GENESIS = "0" * 64
RETRIES = 20
SEAL_BATCH = 1000
INLINE = "inline"
DEFERRED = "deferred"
SEALING_MODES = (INLINE, DEFERRED)

Observer = Callable[[Event, dict[str, Any]], None]
_observers: list[Observer] = []


def observe(observer: Observer) -> None:
    """Call ``observer(event, details)`` for each event recorded from now on (metrics count
    decisions here, where every one of them is recorded); registering it again changes nothing."""
    if observer not in _observers:
        _observers.append(observer)


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 over the previous hash and the event's fields, in a canonical JSON form."""
    body = json.dumps({
        "prev": prev_hash, "seq": event.seq, "at": event.at.isoformat(), "event": event.event,
        "user_id": event.user_id, "actor_id": event.actor_id, "client_id": event.client_id,
        "details": event.details,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(db: Session, event: Event, *, user_id: int | None = None, client_id: int | None = None,
           commit: bool = True, **details: Any) -> None:
    """Append one event; committed at once unless the caller commits it with its own change.

    ``by`` in ``details`` (a staff member's id) is also kept as the event's actor. The row holds the
    name's plain string value, the same one the chain hash covers.
    """
    actor = details.get("by")
    row = AuditEvent(event=str(event), user_id=user_id, client_id=client_id, details=details,
                     actor_id=actor if isinstance(actor, int) else None, at=clock.utc_now())
    db.add(row)
    if db.info.get("audit_sealing") != DEFERRED:
        _link(db, row)
    if commit:
        db.commit()
    for observer in _observers:
        observer(event, details)


def _link(db: Session, row: AuditEvent) -> None:
    """Take the next place in the chain: read the head, then move it only if nobody else did.

    Without autoflush, so the event row is written (with its final ``seq``) only after the head
    moved: a stale read never reaches the unique ``seq`` index.
    """
    with db.no_autoflush:
        for _ in range(RETRIES):
            head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
            if head is None:  # the first event ever (the migration normally makes the head)
                db.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))
                continue
            row.seq, row.prev_hash = head.seq + 1, head.hash
            row.hash = chain_hash(head.hash, row)
            moved = db.execute(update(AuditHead).where(AuditHead.id == 1, AuditHead.seq == head.seq)
                               .values(seq=head.seq + 1, hash=row.hash))
            if moved.rowcount == 1:  # type: ignore[attr-defined]
                return
    raise RuntimeError("could not append to the audit chain")


def seal(db: Session, *, batch: int = SEAL_BATCH) -> int:
    """Chain the events recorded unchained (deferred sealing), oldest first: how many were sealed.

    Commits on its own. Sealers in several processes take turns on the head row (``FOR UPDATE`` on
    PostgreSQL; SQLite has one writer at a time anyway), and the head moves only if nobody moved it
    since it was read, so the chain never forks.
    """
    if db.scalar(select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1)) is None:
        return 0
    head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).one_or_none()
    if head is None:
        db.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))
        head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    rows = db.scalars(select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(batch)).all()
    seq, prev = head.seq, head.hash
    with db.no_autoflush:  # the head moves first: a sealer that lost the race writes no row
        for row in rows:
            seq += 1
            row.seq, row.prev_hash = seq, prev
            row.hash = prev = chain_hash(prev, row)
        moved = db.execute(update(AuditHead).where(AuditHead.id == 1, AuditHead.seq == head.seq)
                           .values(seq=seq, hash=prev))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()  # another sealer went first; its turn sealed these or will
        return 0
    db.commit()
    return len(rows)


def seal_all(db: Session) -> int:
    """Seal until nothing is pending (before the chain is verified or searched)."""
    total = 0
    while sealed := seal(db):
        total += sealed
    return total


def seal_pending(db: Session) -> int:
    """With deferred sealing, seal what is pending, so that a reader of the chain (the console,
    ``idp audit verify``) sees every event recorded so far; with inline sealing, nothing to do."""
    return seal_all(db) if db.info.get("audit_sealing") == DEFERRED else 0


def pending(db: Session) -> int:
    """Events recorded but not yet sealed into the chain."""
    return int(db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))) or 0)


@dataclass(frozen=True)
class Break:
    """The first link that does not hold: where, and what is wrong."""

    seq: int | None
    event_id: int | None
    problem: str  # edited | missing | out_of_order | head_mismatch


def _events(db: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every chained event in ``seq`` order, a batch at a time (no cursor left open on an early stop)."""
    after: int | None = None
    while True:
        query = select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq).limit(batch)
        if after is not None:
            query = query.where(AuditEvent.seq > after)
        rows = db.scalars(query).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].seq


def verify(db: Session) -> tuple[int, Break | None]:
    """Walk the chain from the start: (events checked, the first break or ``None``)."""
    prev, expected, count = GENESIS, 1, 0
    for row in _events(db):
        if row.seq != expected:
            return count, Break(expected, row.id, "missing" if (row.seq or 0) > expected else "out_of_order")
        if row.prev_hash != prev:
            return count, Break(row.seq, row.id, "out_of_order")
        if row.hash != chain_hash(prev, row):
            return count, Break(row.seq, row.id, "edited")
        prev, expected, count = row.hash, expected + 1, count + 1
    head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is not None and (head.seq, head.hash) != (expected - 1, prev):
        return count, Break(head.seq, None, "missing" if head.seq > expected - 1 else "head_mismatch")
    return count, None
