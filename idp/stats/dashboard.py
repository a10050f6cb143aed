"""The figures behind the staff dashboard: sign-ins, accounts, proofing and e-Services, for a date range.

Unlike open data (:mod:`idp.stats.opendata`) nothing is suppressed: only admins and auditors read
this. Still nothing here reads a person, only events, levels, statuses and timestamps. Days are UTC
days, as in open data. Counts that need only columns are made in SQL (``GROUP BY``); anything that
needs the JSON ``details`` of audit events (``amr``, ``aal``) is read as the few columns needed,
bounded by the range, and grouped in Python: the same code on SQLite and PostgreSQL.

How sign-ins are counted:

* **By AAL**: every ``signin`` and ``step_up`` event under the ``aal`` it records, as open data
  counts ``signins_aal*``: a session that steps up from AAL1 to AAL2 counts once at each level.
* **By authenticator**: the authenticators each event shows being used. A ``signin`` records the
  one factor a session starts with, so its ``amr`` names it. A ``step_up`` records the whole
  session's ``amr``, so it counts what its ``amr`` gained over the same person's previous
  sign-in or step-up in the range (over just a password when there is none in the range).
  ``amr`` (RFC 8176) writes a TOTP code and a recovery code both as ``otp``; an event whose
  details name its ``factor`` is counted by that instead, which tells them apart.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.accounts.models import User
from idp.audit.models import AuditEvent
from idp.oidc.models import Client
from idp.proofing.models import ProofingCase
from idp.stats import opendata

AALS = (1, 2, 3)
IALS = (1, 2, 3)
# Authenticator types, in the order shown: RFC 8176 amr values, and ``recovery`` from ``factor``.
AUTHENTICATORS = ("pwd", "otp", "recovery", "swk", "hwk")
_FACTOR_TYPES = {"pwd": "pwd", "totp": "otp", "recovery": "recovery"}
_KEYS = frozenset({"swk", "hwk"})
AUTHORIZED = audit.Event.AUTHORIZED
REFUSED = audit.Event.AUTHORIZATION_REFUSED


@dataclass(frozen=True)
class DateRange:
    """UTC days from ``start`` to ``end``, both included."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        return opendata.midnight(self.start)

    @property
    def until(self) -> dt.datetime:
        """The first instant after the range."""
        return opendata.midnight(self.end + dt.timedelta(days=1))

    def days(self) -> list[dt.date]:
        return opendata.keys("day", self.start, self.end)


@dataclass(frozen=True)
class DailySignins:
    """Per day of the range: sign-ins by AAL (``by_aal[aal][i]``) and authenticator uses by type."""

    days: tuple[dt.date, ...]
    by_aal: dict[int, tuple[int, ...]]
    by_authenticator: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Funnel:
    """Proofing cases started in the range, and where each one is now."""

    started: int = 0
    approved_automatically: int = 0
    to_review: int = 0
    approved_by_officer: int = 0
    rejected: int = 0
    withdrawn: int = 0
    open: int = 0


@dataclass(frozen=True)
class ReviewSla:
    """Officers' decisions in the range on cases sent to review, and the queue now."""

    decided: int
    within_sla: int
    overdue_now: int
    waiting_now: int
    median_hours: float | None

    @property
    def late(self) -> int:
        return self.decided - self.within_sla

    @property
    def share_within(self) -> float | None:
        """Percentage decided by the due date, one decimal; ``None`` when nothing was decided."""
        return round(100 * self.within_sla / self.decided, 1) if self.decided else None


@dataclass(frozen=True)
class ServiceActivity:
    client_id: int
    name: str
    authorized: int
    refused: int


def presented(event: str, amr: Sequence[str], *, before: frozenset[str] | None,
              factor: str | None = None) -> frozenset[str]:
    """The authenticator types one ``signin`` or ``step_up`` event shows being used (see the module doc).

    :param before: the types in the same person's previous event in the range, if any
    :param factor: the factor method the event's details name, when they name one
    """
    held = frozenset(v for v in amr if v in AUTHENTICATORS)
    if factor in _FACTOR_TYPES:
        return frozenset({_FACTOR_TYPES[str(factor)]})
    if factor == "webauthn":
        keys = held & _KEYS
        return (keys - (before or frozenset())) or keys
    if event == audit.Event.STEP_UP:
        return held - (before if before is not None else frozenset({"pwd"}))
    return held


def signins_per_day(db: Session, rng: DateRange) -> DailySignins:
    days = rng.days()
    index = {day: i for i, day in enumerate(days)}
    aal = {level: [0] * len(days) for level in AALS}
    used = {kind: [0] * len(days) for kind in AUTHENTICATORS}
    before: dict[int | None, frozenset[str]] = {}
    query = (select(AuditEvent.at, AuditEvent.event, AuditEvent.user_id, AuditEvent.details)
             .where(AuditEvent.event.in_(opendata.SIGNIN_EVENTS),
                    AuditEvent.at >= rng.since, AuditEvent.at < rng.until)
             .order_by(AuditEvent.at, AuditEvent.id)
             .execution_options(yield_per=5000))
    for at, event, user_id, details in db.execute(query):
        i = index.get(at.astimezone(dt.UTC).date())
        if i is None or not isinstance(details, dict):
            continue
        if details.get("aal") in AALS:
            aal[details["aal"]][i] += 1
        raw = details.get("amr")
        amr: list[str] = [str(v) for v in raw] if isinstance(raw, list) else []
        factor = details.get("factor") if isinstance(details.get("factor"), str) else None
        for kind in presented(event, amr, before=before.get(user_id), factor=factor):
            used[kind][i] += 1
        before[user_id] = frozenset(v for v in amr if v in AUTHENTICATORS)
    return DailySignins(days=tuple(days), by_aal={k: tuple(v) for k, v in aal.items()},
                        by_authenticator={k: tuple(v) for k, v in used.items()})


def accounts_by_ial(db: Session) -> dict[int, int]:
    """Accounts in use (not disabled) by their IAL now; the range does not apply."""
    rows = db.execute(select(User.ial, func.count()).where(User.status == "active").group_by(User.ial))
    counts = dict.fromkeys(IALS, 0)
    for ial, count in rows:
        if ial in counts:
            counts[ial] = count
    return counts


def proofing_funnel(db: Session, rng: DateRange) -> Funnel:
    """Cases started in the range (a cohort), so each later stage is a part of the one before.

    Sent to review: the case was given a review due date (only the review queue sets one).
    Approved automatically: approved with no officer. Counter cases are approved by an officer.
    """
    query = (select(ProofingCase.status, ProofingCase.decided_by.is_not(None), ProofingCase.due_at.is_not(None),
                    func.count())
             .where(ProofingCase.created_at >= rng.since, ProofingCase.created_at < rng.until)
             .group_by(ProofingCase.status, ProofingCase.decided_by.is_not(None), ProofingCase.due_at.is_not(None)))
    counts: Counter[str] = Counter()
    for status, by_officer, reviewed, count in db.execute(query):
        counts["started"] += count
        if reviewed:
            counts["to_review"] += count
        if status == "approved":
            counts["approved_by_officer" if by_officer else "approved_automatically"] += count
        elif status in ("rejected", "withdrawn"):
            counts[status] += count
        else:
            counts["open"] += count
    return Funnel(**counts)


def review_sla(db: Session, rng: DateRange, *, now: dt.datetime) -> ReviewSla:
    """Decisions in the range on reviewed cases against their due date; the queue as it is ``now``.

    The time to decision runs from submission to the officer's decision, as in open data's
    ``median_decision_hours``.
    """
    decided = db.execute(
        select(ProofingCase.submitted_at, ProofingCase.due_at, ProofingCase.decided_at)
        .where(ProofingCase.status.in_(("approved", "rejected")), ProofingCase.decided_by.is_not(None),
               ProofingCase.due_at.is_not(None),
               ProofingCase.decided_at >= rng.since, ProofingCase.decided_at < rng.until)
        .execution_options(yield_per=5000)).all()
    within, hours = 0, []
    for submitted, due, at in decided:
        if due is None or at is None:  # excluded by the query; for the type checker
            continue
        if at <= due:
            within += 1
        if submitted is not None:
            hours.append((at - submitted).total_seconds() / 3600)
    queue = db.execute(select(func.count(), func.count(case((ProofingCase.due_at < now, 1))))
                       .where(ProofingCase.status == "review")).one()
    return ReviewSla(decided=len(decided), within_sla=within, overdue_now=queue[1], waiting_now=queue[0],
                     median_hours=round(statistics.median(hours), 1) if hours else None)


def eservice_activity(db: Session, rng: DateRange, *, locale: str | None) -> list[ServiceActivity]:
    """Authorizations each e-Service received in the range and those refused, the busiest first."""
    query = (select(AuditEvent.client_id, AuditEvent.event, func.count())
             .where(AuditEvent.event.in_((AUTHORIZED, REFUSED)), AuditEvent.client_id.is_not(None),
                    AuditEvent.at >= rng.since, AuditEvent.at < rng.until)
             .group_by(AuditEvent.client_id, AuditEvent.event))
    counts: dict[int, Counter[str]] = {}
    for client_id, event, count in db.execute(query):
        if client_id is None:  # excluded by the query; for the type checker
            continue
        counts.setdefault(client_id, Counter())[event] += count
    if not counts:
        return []
    clients = {c.id: c for c in db.scalars(select(Client).where(Client.id.in_(counts)))}
    out = []
    for client_id, counter in counts.items():
        client = clients.get(client_id)
        name = client.display_name(locale) if client is not None else f"#{client_id}"
        out.append(ServiceActivity(client_id=client_id, name=name, authorized=counter[AUTHORIZED],
                                   refused=counter[REFUSED]))
    return sorted(out, key=lambda s: (-s.authorized, -s.refused, s.name))
