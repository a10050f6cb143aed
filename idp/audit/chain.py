"""Audit events for security decisions, in an append-only hash chain.

Only internal ids and codes go in (PDPA: no email, name, address or secret). Each event's hash
covers its fields and the previous event's hash; ``verify`` walks the chain and names the first
link that does not hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
