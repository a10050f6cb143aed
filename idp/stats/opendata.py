"""Aggregate counts for ``/open-data/``: sign-ins by AAL, proofing outcomes, decision times.

Nothing here reads a person: only timestamps, levels and statuses, grouped by UTC day or month
in Python over a query bounded by the date range (the same code on SQLite and PostgreSQL).
Every count from 1 to ``min_count - 1`` is replaced by ``None`` (small cells could single out a
person), and a figure derived from counts is withheld whenever one of those counts is.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections import defaultdict
from typing import Any
from typing import Literal

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.audit.models import AuditEvent
from idp.oidc.models import Client
from idp.proofing.models import ProofingCase

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
SIGNIN_EVENTS = (audit.Event.SIGNIN, audit.Event.STEP_UP)
LICENCE = {
    "name": "Creative Commons Attribution 4.0 International (CC BY 4.0)",
    "url": "https://creativecommons.org/licenses/by/4.0/",
}
COLUMNS = (
    "signins_aal1", "signins_aal2", "signins_aal3",
    "proofing_started", "proofing_approved_auto", "proofing_approved_by_officer",
    "proofing_rejected", "proofing_withdrawn",
    "auto_approval_rate", "median_decision_hours", "active_eservices",
)
# Plain counts: each one is suppressed on its own.
COUNTS = tuple(c for c in COLUMNS if c not in ("auto_approval_rate", "median_decision_hours"))
# What the automatic-approval rate is derived from: withheld when any of them is.
RATE_PARTS = ("proofing_approved_auto", "proofing_approved_by_officer", "proofing_rejected")


def suppression_rule(min_count: int) -> str:
    """The rule, stated in every file (English: the files are the same for everyone)."""
    if min_count <= 1:
        return "No count is suppressed."
    return (f"Counts from 1 to {min_count - 1} are replaced by null (an empty cell in CSV); 0 and counts of "
            f"{min_count} or more are shown as they are. auto_approval_rate is null when fewer than {min_count} "
            "applications were decided (approved or rejected) in the period, or when any of "
            "proofing_approved_auto, proofing_approved_by_officer and proofing_rejected is null. "
            f"median_decision_hours is null when officers decided fewer than {min_count} applications in the "
            "period.")


def suppress(count: int, min_count: int) -> int | None:
    return None if 0 < count < min_count else count


def period_start(day: dt.date, period: Period) -> dt.date:
    return day.replace(day=1) if period == "month" else day


def bounds(period: Period, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The dates actually covered: by month, from the first of ``start``'s month to the last of ``end``'s."""
    if period == "day":
        return start, end
    return start.replace(day=1), _next(end.replace(day=1), "month") - dt.timedelta(days=1)


def _next(key: dt.date, period: Period) -> dt.date:
    if period == "day":
        return key + dt.timedelta(days=1)
    return dt.date(key.year + key.month // 12, key.month % 12 + 1, 1)


def keys(period: Period, start: dt.date, end: dt.date) -> list[dt.date]:
    out, key = [], period_start(start, period)
    while key <= end:
        out.append(key)
        key = _next(key, period)
    return out


def label(key: dt.date, period: Period) -> str:
    return key.strftime("%Y-%m") if period == "month" else key.isoformat()


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def build(db: Session, *, period: Period, start: dt.date, end: dt.date, min_count: int) -> dict[str, Any]:
    """The open-data document for ``start``..``end`` (inclusive, UTC), one row per day or month."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    start, end = bounds(period, start, end)
    since, until = midnight(start), midnight(end + dt.timedelta(days=1))

    def key_of(at: dt.datetime) -> dt.date:
        return period_start(at.astimezone(dt.UTC).date(), period)

    counts: dict[dt.date, Counter[str]] = defaultdict(Counter)
    hours: dict[dt.date, list[float]] = defaultdict(list)

    signins = (select(AuditEvent.at, AuditEvent.details)
               .where(AuditEvent.event.in_(SIGNIN_EVENTS), AuditEvent.at >= since, AuditEvent.at < until)
               .execution_options(yield_per=5000))
    for at, details in db.execute(signins):
        aal = details.get("aal") if isinstance(details, dict) else None
        if aal in (1, 2, 3):
            counts[key_of(at)][f"signins_aal{aal}"] += 1

    started = (select(ProofingCase.created_at)
               .where(ProofingCase.created_at >= since, ProofingCase.created_at < until)
               .execution_options(yield_per=5000))
    for (at,) in db.execute(started):
        counts[key_of(at)]["proofing_started"] += 1

    decided = (select(ProofingCase.status, ProofingCase.decided_by.is_not(None), ProofingCase.submitted_at,
                      ProofingCase.decided_at)
               .where(ProofingCase.status.in_(("approved", "rejected", "withdrawn")),
                      ProofingCase.decided_at >= since, ProofingCase.decided_at < until)
               .execution_options(yield_per=5000))
    for status, by_officer, submitted_at, decided_at in db.execute(decided):
        if decided_at is None:  # excluded by the query; for the type checker
            continue
        key = key_of(decided_at)
        if status == "approved":
            counts[key]["proofing_approved_by_officer" if by_officer else "proofing_approved_auto"] += 1
        else:
            counts[key][f"proofing_{status}"] += 1
        if by_officer and status in ("approved", "rejected") and submitted_at is not None:
            hours[key].append((decided_at - submitted_at).total_seconds() / 3600)

    active = db.scalar(select(func.count()).select_from(Client).where(Client.active)) or 0
    rows = []
    for key in keys(period, start, end):
        raw = counts[key]
        raw["active_eservices"] = active
        row: dict[str, Any] = {"period": label(key, period)}
        for name in COUNTS:
            row[name] = suppress(raw[name], min_count)
        row["auto_approval_rate"] = _rate(raw, row, min_count)
        times = hours[key]
        row["median_decision_hours"] = round(statistics.median(times), 1) if len(times) >= min_count else None
        rows.append({"period": row["period"], **{name: row[name] for name in COLUMNS}})

    return {
        "title": "Digital ID: sign-ins and identity proofing, aggregate counts",
        "licence": dict(LICENCE),
        "suppression": suppression_rule(min_count),
        "min_count": min_count,
        "timezone": "UTC",
        "period": period,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "generated_at": clock.utc_now().isoformat(timespec="seconds"),
        "columns": ["period", *COLUMNS],
        "rows": rows,
    }


def _rate(raw: Counter[str], row: dict[str, Any], min_count: int) -> float | None:
    """Automatic approvals as a percentage of decisions (approved or rejected), one decimal."""
    decided = sum(raw[name] for name in RATE_PARTS)
    if decided < min_count or any(row[name] is None for name in RATE_PARTS):
        return None
    return round(100 * raw["proofing_approved_auto"] / decided, 1)


def to_csv_rows(document: dict[str, Any]) -> list[list[str]]:
    """The header and the rows as strings (a null is an empty cell)."""
    out = [list(document["columns"])]
    for row in document["rows"]:
        out.append(["" if row[c] is None else str(row[c]) for c in document["columns"]])
    return out
