"""Dates of birth as day, month and year, in the Buddhist or the Gregorian era (idp.proofing.dates)."""

import datetime as dt

import pytest

from idp.proofing.dates import BirthdateError
from idp.proofing.dates import Era
from idp.proofing.dates import Typed
from idp.proofing.dates import era_of
from idp.proofing.dates import parse
from idp.proofing.dates import split_iso

TODAY = dt.date(2026, 12, 3)
BE, CE = Era.BUDDHIST, Era.GREGORIAN


def born(day, month, year, era, today=TODAY):
    return parse(Typed(str(day), str(month), str(year)), era=era, today=today)


def problem(day, month, year, era=CE, today=TODAY):
    with pytest.raises(BirthdateError) as caught:
        born(day, month, year, era, today)
    return caught.value.code, caught.value.parts


def test_the_page_language_picks_the_era():
    assert era_of("th") is BE and era_of("th_TH") is BE
    assert era_of("en") is CE and era_of("en-GB") is CE


@pytest.mark.parametrize("year, era", [(2528, BE), (1985, CE), (2528, CE), (1985, BE)])
def test_either_era_on_either_page_when_only_one_reading_is_a_life(year, era):
    assert born(14, 3, year, era) == dt.date(1985, 3, 14)


@pytest.mark.parametrize("year, expected", [
    (2569, 2026),  # above 2400: Buddhist era, even on an English page
    (2450, 1907),  # a 119-year-old, typed in the Buddhist era on an English page
    (1907, 1907),
])
def test_years_above_2400_are_buddhist_era(year, expected):
    assert born(1, 1, year, CE).year == expected
    assert born(1, 1, year, BE).year == expected


def test_the_pages_era_comes_first_when_it_gives_a_life():
    # 2000 on a Thai page: 2000 B.E. is 1457 CE (569 years old), so it is the Gregorian 2000.
    assert born(1, 6, 2000, BE) == dt.date(2000, 6, 1)
    # 2026 on a Thai page: B.E. 2026 is 1483 CE, impossible; CE 2026 before today is a baby.
    assert born(1, 1, 2026, BE) == dt.date(2026, 1, 1)


@pytest.mark.parametrize("day, month, year, era, code, parts", [
    (4, 12, 2026, CE, "future", ("year",)),  # tomorrow
    (1, 1, 2600, BE, "future", ("year",)),  # 2057 CE
    (1, 1, 2030, CE, "future", ("year",)),  # not 1487 CE either: the page's era is the one told
    (1, 1, 1800, CE, "too_old", ("year",)),
    (1, 1, 1800, BE, "too_old", ("year",)),
    (2, 12, 1906, CE, "too_old", ("year",)),  # 120 years and a day
])
def test_no_reading_gives_a_life(day, month, year, era, code, parts):
    assert problem(day, month, year, era) == (code, parts)


def test_exactly_120_years_old_is_accepted():
    assert born(3, 12, 1906, CE) == dt.date(1906, 12, 3)
    leap_day = dt.date(2020, 2, 29)  # 120 years earlier, 1900, had no 29 February
    assert born(28, 2, 1900, CE, today=leap_day) == dt.date(1900, 2, 28)
    assert problem(27, 2, 1900, CE, today=leap_day) == ("too_old", ("year",))


@pytest.mark.parametrize("day, month, year, code, parts", [
    ("", "", "", "missing", ("day", "month", "year")),
    ("", "3", "1985", "incomplete", ("day",)),
    ("14", "", "", "incomplete", ("month", "year")),
    ("32", "3", "1985", "day_range", ("day",)),
    ("0", "3", "1985", "day_range", ("day",)),
    ("x", "3", "1985", "day_range", ("day",)),
    ("14", "13", "1985", "month_range", ("month",)),
    ("14", "March!", "1985", "month_range", ("month",)),
    ("x", "13", "1985", "not_real", ("day", "month")),
    ("x", "13", "y", "not_real", ("day", "month", "year")),
    ("14", "3", "85", "year_digits", ("year",)),
    ("14", "3", "19855", "year_digits", ("year",)),
    ("14", "3", "nineteen", "year_digits", ("year",)),
])
def test_what_is_wrong_names_the_parts_to_mark(day, month, year, code, parts):
    assert problem(day, month, year) == (code, parts)


@pytest.mark.parametrize("day, month, limit", [(31, 2, 29), (30, 2, 29), (31, 4, 30), (31, 11, 30)])
def test_a_day_the_month_does_not_have_marks_day_and_month(day, month, limit):
    with pytest.raises(BirthdateError) as caught:
        born(day, month, 1985, CE)
    assert (caught.value.code, caught.value.parts, caught.value.limit) == ("day_of_month", ("day", "month"), limit)


def test_29_february_only_in_leap_years_of_the_gregorian_calendar():
    assert born(29, 2, 2004, CE) == dt.date(2004, 2, 29)
    assert born(29, 2, 2547, BE) == dt.date(2004, 2, 29)  # B.E. 2547 is 2004
    assert problem(29, 2, 2005, CE) == ("leap_day", ("day", "month", "year"))
    assert problem(29, 2, 2548, BE) == ("leap_day", ("day", "month", "year"))


@pytest.mark.parametrize("day, month, year", [
    ("๑๔", "๓", "๒๕๒๘"),  # Thai digits
    (" 14 ", "03", " 2528"),
    ("14", "มี.ค.", "2528"),
    ("14", "มีนาคม", "2528"),
    ("14", "Mar", "2528"),
    ("14", "march", "1985"),
])
def test_thai_digits_padding_and_month_names(day, month, year):
    assert parse(Typed(day, month, year), era=BE, today=TODAY) == dt.date(1985, 3, 14)


def test_a_stored_date_shown_in_the_pages_era():
    assert split_iso("1985-03-14", era=BE) == Typed("14", "3", "2528")
    assert split_iso("1985-03-14", era=CE) == Typed("14", "3", "1985")
    assert split_iso("14/03/1985", era=CE) == Typed()
