"""A date of birth typed as day, month and year (the GOV.UK date-input pattern), in either era.

Thai pages ask for the year in the Buddhist era (พ.ศ., B.E. = Gregorian + 543), as printed on
the Thai ID card; English pages ask for the Gregorian year. People type the other era often
enough that both are accepted on either page when only one reading makes sense:

* a year above 2400 is Buddhist era (no living person was born after 2400 CE);
* otherwise the page's era is tried first, and the other era is taken when the page's era would
  make the person unborn or older than 120 while the other does not. The two readings are 543
  years apart, so at most one of them can fall in a 120-year life: the rule never has to guess.

Everything is returned in the Gregorian calendar, which is what the registry compares
(``docs/registry-api.md``). Pure functions: no Flask, no database, ``today`` handed in.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

BE_OFFSET = 543  # Buddhist era year = Gregorian year + 543
BE_ABOVE = 2400  # a year above this is Buddhist era whatever the page says
MAX_AGE = 120  # years: older than this is a mistyped year
PARTS = ("day", "month", "year")

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
# Month names people type instead of numbers (GOV.UK accepts them too), without dots or spaces.
_MONTHS = {
    **{name: i for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                         "nov", "dec"), start=1)},
    **{name.lower(): i for i, name in enumerate(calendar.month_name) if name},
    "sept": 9,
    **{name: i for i, name in enumerate(("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
                                         "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"),
                                        start=1)},
    **{name: i for i, name in enumerate(("มค", "กพ", "มีค", "เมย", "พค", "มิย", "กค", "สค", "กย", "ตค", "พย", "ธค"),
                                        start=1)},
}


class Era(StrEnum):
    """How a page asks for the year."""

    BUDDHIST = "be"
    GREGORIAN = "ce"


class BirthdateError(ValueError):
    """What is wrong with the date typed, and which parts to mark.

    ``code`` is one of: ``missing`` (nothing typed), ``incomplete`` (``parts`` are empty),
    ``not_real`` (several parts are not numbers in range), ``day_range``, ``month_range``,
    ``year_digits`` (the year is not 4 digits), ``day_of_month`` (the month has only ``limit``
    days), ``leap_day`` (29 February in a common year), ``future``, ``too_old``.
    """

    def __init__(self, code: str, parts: tuple[str, ...], *, limit: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.parts = parts
        self.limit = limit


@dataclass(frozen=True)
class Typed:
    """The three parts as typed (kept as they are, to show the form again)."""

    day: str = ""
    month: str = ""
    year: str = ""

    def get(self, part: str) -> str:
        return str(getattr(self, part))


def era_of(locale: str) -> Era:
    """Thai pages ask for the Buddhist era, every other page for the Gregorian."""
    return Era.BUDDHIST if str(locale).split("_")[0].split("-")[0] == "th" else Era.GREGORIAN


def parse(typed: Typed, *, era: Era, today: dt.date) -> dt.date:
    """The Gregorian date of birth the three parts mean.

    :raises BirthdateError: naming the parts to correct
    """
    raw = {part: typed.get(part).strip() for part in PARTS}
    empty = tuple(part for part in PARTS if not raw[part])
    if len(empty) == len(PARTS):
        raise BirthdateError("missing", PARTS)
    if empty:
        raise BirthdateError("incomplete", empty)
    day, month, year = _number(raw["day"]), _month(raw["month"]), _number(raw["year"])
    wrong = tuple(part for part, value, top in (("day", day, 31), ("month", month, 12))
                  if value is None or not 1 <= value <= top)
    if len(wrong) > 1:
        raise BirthdateError("not_real", wrong + (("year",) if year is None else ()))
    if wrong:
        raise BirthdateError(f"{wrong[0]}_range", wrong)
    if year is None or len(_digits(raw["year"])) != 4:
        raise BirthdateError("year_digits", ("year",))
    assert day is not None and month is not None
    longest = 29 if month == 2 else calendar.monthrange(2001, month)[1]
    if day > longest:
        raise BirthdateError("day_of_month", ("day", "month"), limit=longest)
    return _resolve(day, month, year, era=era, today=today)


def _resolve(day: int, month: int, year: int, *, era: Era, today: dt.date) -> dt.date:
    if year > BE_ABOVE:
        readings = [year - BE_OFFSET]
    elif era is Era.BUDDHIST:
        readings = [year - BE_OFFSET, year]
    else:
        readings = [year, year - BE_OFFSET]
    first: BirthdateError | None = None
    for reading in readings:
        problem: BirthdateError | None
        try:
            born = dt.date(reading, month, day)
        except ValueError:  # 29 February of a common year, or a year before 1 CE
            problem = (BirthdateError("leap_day", PARTS) if reading >= dt.MINYEAR
                       else BirthdateError("too_old", ("year",)))
        else:
            problem = _implausible(born, today)
            if problem is None:
                return born
        first = first or problem
    assert first is not None
    raise first


def _implausible(born: dt.date, today: dt.date) -> BirthdateError | None:
    if born > today:
        return BirthdateError("future", ("year",))
    try:
        oldest = today.replace(year=today.year - MAX_AGE)
    except ValueError:  # today is 29 February and that year was not a leap year
        oldest = today.replace(year=today.year - MAX_AGE, day=28)
    if born < oldest:
        return BirthdateError("too_old", ("year",))
    return None


def _digits(text: str) -> str:
    return "".join(text.split()).translate(_THAI_DIGITS)


def _number(text: str) -> int | None:
    digits = _digits(text)
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 4:
        return None
    return int(digits)


def _month(text: str) -> int | None:
    number = _number(text)
    if number is not None:
        return number
    return _MONTHS.get("".join(text.replace(".", " ").split()).casefold())


def split_iso(value: str, *, era: Era) -> Typed:
    """A stored ``yyyy-mm-dd`` as the form shows it (the year in the page's era); empty when malformed."""
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        return Typed()
    year = date.year + BE_OFFSET if era is Era.BUDDHIST else date.year
    return Typed(day=str(date.day), month=str(date.month), year=str(year))
