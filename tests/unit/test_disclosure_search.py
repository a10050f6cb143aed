"""The disclosure log's date search: three boxes, either era, whole days in UTC."""

import datetime as dt

import pytest

from idp.disclosure import search_form
from idp.disclosure.search_form import DateError
from idp.disclosure.search_form import parse_day


@pytest.mark.parametrize("parts, expected", [
    ({"day": "1", "month": "12", "year": "2026"}, dt.date(2026, 12, 1)),
    ({"day": "01", "month": "12", "year": "2569"}, dt.date(2026, 12, 1)),  # Buddhist era
    ({"day": "๑", "month": "๑๒", "year": "๒๕๖๙"}, dt.date(2026, 12, 1)),  # Thai digits
    ({"day": "", "month": "", "year": ""}, None),
])
def test_a_day_in_either_era(parts, expected):
    assert parse_day(parts) == expected


@pytest.mark.parametrize("parts, code", [
    ({"day": "1", "month": "", "year": "2026"}, "incomplete"),
    ({"day": "31", "month": "2", "year": "2026"}, "not_real"),
    ({"day": "1", "month": "13", "year": "2026"}, "not_real"),
    ({"day": "1", "month": "1", "year": "26"}, "not_real"),
    ({"day": "x", "month": "1", "year": "2026"}, "not_real"),
    ({"day": "1", "month": "1", "year": "-202"}, "not_real"),
])
def test_a_wrong_day_says_why(parts, code):
    with pytest.raises(DateError) as caught:
        parse_day(parts)
    assert caught.value.code == code


def test_the_range_is_whole_days_and_the_to_day_is_included():
    args = {"from-day": "1", "from-month": "11", "from-year": "2026", "to-day": "20", "to-month": "11",
            "to-year": "2026", "service": "7"}
    form = search_form.read(args, services={7})
    assert form.filters.start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert form.filters.end == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    assert form.filters.client == 7 and form.query()["service"] == "7"


def test_a_service_not_in_the_persons_log_is_ignored():
    assert search_form.read({"service": "8"}, services={7}).filters.client is None
    assert search_form.read({"service": "99999999999999"}, services={7}).filters.client is None


def test_an_end_before_the_start_is_an_error():
    args = {"from-day": "2", "from-month": "1", "from-year": "2026", "to-day": "1", "to-month": "1", "to-year": "2026"}
    form = search_form.read(args, services=set())
    assert form.errors == {"to": "before_start"} and form.filters.start is None
