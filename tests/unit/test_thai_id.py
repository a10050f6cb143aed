"""Format checks for Thai evidence: citizen ID check digit, laser code, passport numbers."""

import pytest

from idp.proofing.thai_id import national_id_check_digit
from idp.proofing.thai_id import normalise_laser_code
from idp.proofing.thai_id import normalise_national_id
from idp.proofing.thai_id import normalise_passport_number
from idp.proofing.thai_id import valid_laser_code
from idp.proofing.thai_id import valid_national_id
from idp.proofing.thai_id import valid_passport_number

# Fictitious numbers, check digits computed by hand with the DOPA rule; province/district 99-99
# (digits 2-5) is not assigned, so none of them can belong to anyone.
VALID_IDS = ["1999900001010", "1999900001028", "3999900001032", "1999900001044",
             "1999900001052", "3999900001067", "1999900001079", "8999900001084"]


def test_published_worked_example():
    # The worked example on ninyawee.github.io/konjingjing/algorithm: sum 207, 207 mod 11 = 9, 11 - 9 = 2.
    assert national_id_check_digit("111203456356") == 2
    assert valid_national_id("1112034563562")


def test_check_digit_by_hand():
    # 1·13 + 9·12 + 9·11 + 9·10 + 9·9 + 0·8 + 0·7 + 0·6 + 0·5 + 1·4 + 0·3 + 1·2 = 397
    # 397 mod 11 = 1 → (11 - 1) mod 10 = 0
    assert national_id_check_digit("199990000101") == 0


@pytest.mark.parametrize(("first12", "check"), [
    # Every remainder x = sum mod 11, and the digit it gives: 1 - x for x <= 1, else 11 - x.
    ("100000000001", 7),  # sum 15, x = 4
    ("100000000002", 5),  # sum 17, x = 6
    ("100000000003", 3),  # sum 19, x = 8
    ("100000000004", 1),  # sum 21, x = 10 → 1 (as x = 0: the one collision of the rule)
    ("100000000005", 0),  # sum 23, x = 1 → 1 - 1 = 0
    ("100000000006", 8),  # sum 25, x = 3
    ("100000000007", 6),  # sum 27, x = 5
    ("100000000008", 4),  # sum 29, x = 7
    ("100000000009", 2),  # sum 31, x = 9
    ("100000000000", 9),  # sum 13, x = 2
    ("100000000013", 1),  # sum 22, x = 0 → 1 - 0 = 1
    ("100000000010", 6),  # sum 16, x = 5
])
def test_check_digit_table(first12, check):
    digits = [int(d) for d in first12]
    x = sum(d * (13 - i) for i, d in enumerate(digits)) % 11
    assert check == (1 - x if x <= 1 else 11 - x)  # the rule as Thai Wikipedia states it
    assert national_id_check_digit(first12) == check
    assert valid_national_id(first12 + str(check))


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_fixture_numbers(number):
    assert valid_national_id(number)


@pytest.mark.parametrize("typed", ["1-9999-00001-01-0", "1 9999 00001 01 0", " 1999900001010 ",
                                   "1–9999–00001–01–0", "1\u00a09999\u00a000001\u00a001\u00a00"])
def test_separators_are_accepted(typed):
    assert normalise_national_id(typed) == "1999900001010"
    assert valid_national_id(typed)


@pytest.mark.parametrize("number", [
    "1999900001011",  # wrong check digit
    "1999900001019",
    "199990000101",  # 12 digits
    "19999000010100",  # 14 digits
    "",
    "0999900001011",  # first digit 0 (and its check digit is right: sum 384, x = 10 → 1)
    "1999900OO1010",  # letter O typed for zero: not "corrected"
    "1999900001.010",
    "１９９９９００００１０１０",  # full-width digits
    "abcdefghijklm",
])
def test_invalid_numbers(number):
    assert not valid_national_id(number)


def test_first_digit_zero_is_refused_even_with_a_right_check_digit():
    first12 = "099990000101"
    number = first12 + str(national_id_check_digit(first12))
    assert not valid_national_id(number)


def _x(number):
    return sum(int(c) * (13 - j) for j, c in enumerate(number[:12])) % 11


def test_which_single_digit_typos_slip_through():
    # Known weaknesses of the DOPA rule: the third digit has weight 11 ≡ 0 (mod 11), so it is not
    # checked at all, and x = 0 and x = 10 give the same check digit 1. Every other single-digit typo
    # in the first twelve digits is caught, and so is any typo in the check digit itself.
    for number in ("1999900001044", "1999900001061"):  # x = 7, and x = 0 (check digit 1)
        _assert_typos(number)
    assert valid_national_id("1999900001061") and valid_national_id("1999900001001")  # 12th digit 6 → 0: x 0 → 10


def _assert_typos(number):
    for i in range(13):
        for d in "123456789" if i == 0 else "0123456789":
            if d == number[i]:
                continue
            typo = number[:i] + d + number[i + 1:]
            slips = i == 2 or {_x(number), _x(typo)} == {0, 10}
            assert valid_national_id(typo) == slips, typo


def test_check_digit_rejects_bad_input():
    for bad in ("12345678901", "1234567890123", "12345678901a"):
        with pytest.raises(ValueError):
            national_id_check_digit(bad)


@pytest.mark.parametrize(("typed", "normal"), [
    ("JT0-0000000-00", "JT0000000000"),
    ("jt0-0000000-00", "JT0000000000"),
    ("ME1 2000002 02", "ME1200000202"),
    ("  JC2-3000003-03 ", "JC2300000303"),
    ("AB1234567890", "AB1234567890"),
])
def test_laser_code_formats(typed, normal):
    assert normalise_laser_code(typed) == normal
    assert valid_laser_code(typed)


@pytest.mark.parametrize("code", [
    "",
    "J10-0000000-00",  # one letter
    "JTX-0000000-00",  # three letters
    "JT0-0000000-0",  # 9 digits
    "JT0-0000000-000",  # 11 digits
    "0JT000000000",  # digits first
    "JT0_0000000_00",  # underscore is not a separator
    "ЈТ0000000000",  # Cyrillic look-alikes
    "JT０000000000",  # full-width digit
])
def test_invalid_laser_codes(code):
    assert not valid_laser_code(code)


@pytest.mark.parametrize("number", ["AA1234567", "aa1234567", "AA 123 4567", "A1234567", "AA123456", "A123456",
                                    "AB-0000005"])
def test_passport_numbers(number):
    assert valid_passport_number(number)


def test_passport_normalised():
    assert normalise_passport_number(" aa-123 4567 ") == "AA1234567"


@pytest.mark.parametrize("number", ["", "AAA123456", "AA12345", "AA12345678", "1234567", "AA12345X", "A",
                                    "ÀA1234567"])
def test_invalid_passport_numbers(number):
    assert not valid_passport_number(number)
