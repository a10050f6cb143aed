"""The disclosure log's search: e-Service and a date range typed as day, month and year.

The dates use the GOV.UK date-input pattern (three boxes). A year above 2400 is read as the
Buddhist era (พ.ศ. = Gregorian + 543), as Thai readers often type it; any other as Gregorian.
Dates are whole days in UTC: "to" includes the day it names. Pure: no Flask, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from idp.disclosure.log import Filters

BE_OFFSET = 543
BE_ABOVE = 2400
PARTS = ("day", "month", "year")
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


class DateError(ValueError):
    """``code``: ``incomplete`` (some boxes empty) or ``not_real`` (not a date in the calendar)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_day(values: Mapping[str, str]) -> dt.date | None:
    """``None`` when all three boxes are empty; the date otherwise.

    :raises DateError: some but not all boxes filled, or not a real date
    """
    typed = {part: (values.get(part) or "").strip().translate(_THAI_DIGITS) for part in PARTS}
    if not any(typed.values()):
        return None
    if not all(typed.values()):
        raise DateError("incomplete")
    if not all(v.isdigit() and len(v) <= 4 for v in typed.values()) or len(typed["year"]) != 4:
        raise DateError("not_real")
    year = int(typed["year"])
    if year > BE_ABOVE:
        year -= BE_OFFSET
    try:
        return dt.date(year, int(typed["month"]), int(typed["day"]))
    except ValueError as exc:
        raise DateError("not_real") from exc


@dataclass
class SearchForm:
    """What was typed (to show again) and what it means (``filters``), or the errors by field."""

    filters: Filters
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    service: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field ("from", "to") → code

    def query(self) -> dict[str, str]:
        """The search as query parameters (pagination and export links keep it)."""
        out = {f"{name}-{part}": value for name, parts in self.values.items() for part, value in parts.items() if value}
        if self.service:
            out["service"] = self.service
        return out


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def read(args: Mapping[str, str], *, services: set[int]) -> SearchForm:
    """The search from the query string; an unknown e-Service is ignored (the list offers only the person's)."""
    values = {name: {part: str(args.get(f"{name}-{part}", ""))[:8] for part in PARTS} for name in ("from", "to")}
    service = str(args.get("service", ""))[:12]
    client = int(service) if service.isdigit() and int(service) in services else None
    errors: dict[str, str] = {}
    days: dict[str, dt.date | None] = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(values[name])
        except DateError as exc:
            errors[name] = exc.code
            days[name] = None
    start, end = days["from"], days["to"]
    if not errors and start and end and end < start:
        errors["to"] = "before_start"
    filters = Filters(client=client,
                      start=_midnight(start) if start and not errors else None,
                      end=_midnight(end) + dt.timedelta(days=1) if end and not errors else None)
    return SearchForm(filters=filters, values=values, service=str(client) if client else "", errors=errors)
