"""Format checks for Thai identity evidence: the citizen ID number, the card's laser code, passports.

These checks run before anything is sent to a registry. They catch typing mistakes early, with a
precise message, and keep obviously malformed input (and the registry queries it would cost) away
from the population register. Passing them says nothing about whether a document exists: only the
registry (``idp.proofing.verifiers``) can say that.

People type these numbers the way they are printed, with spaces or hyphens
(``1-2345-67890-12-1``, ``JT0-0000000-00``), so each check normalises first.
"""

from __future__ import annotations

import re

NATIONAL_ID_LENGTH = 13

# The laser code (เลขหลังบัตร) printed on the back of the smart ID card: two Latin letters and ten
# digits, printed as ``JT0-0000000-00``. It is not derived from the ID number and carries no check
# digit; it changes with every card issued, which is why the registry uses it to tell a current card
# from a lost or replaced one.
_LASER_CODE = re.compile(r"[A-Z]{2}[0-9]{10}")

# Thai passports: the current (e-passport) series is two letters and seven digits (``AA1234567``);
# older books and official/diplomatic series use one letter, and older numbers six digits. We accept
# 1–2 letters followed by 6–7 digits, nothing else: no check digit is applied because the number
# itself has none (the MRZ check digits are on the data page, not in what people type).
_PASSPORT = re.compile(r"[A-Z]{1,2}[0-9]{6,7}")

# Separators people type or copy from the card; anything else makes the input invalid rather than
# being silently dropped, so that "12345O..." (a letter O) is not "corrected" into another number.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]+")


def normalise_national_id(value: str) -> str:
    """The number without spaces or hyphens (``"1 2345-67890 12 1"`` → ``"1234567890121"``).

    Only separators are removed: any other character stays, so the result fails validation
    instead of turning into a different, possibly valid, number.
    """
    return _SEPARATORS.sub("", value.strip())


def national_id_check_digit(first12: str) -> int:
    """The 13th digit of a Thai citizen ID, computed from the first twelve.

    Source: the Department of Provincial Administration (DOPA) numbering scheme of 1 January 1984,
    as documented in Thai Wikipedia, "เลขประจำตัวประชาชนไทย", section "ตัวเลขหลักที่ 13":
    x = (13·N1 + 12·N2 + … + 2·N12) mod 11; N13 = 1 − x if x ≤ 1, else 11 − x.
    That is the same as (11 − x) mod 10, used below (x = 0 → 1, x = 1 → 0).

    It is a weak check: the third digit has weight 11 ≡ 0 (mod 11) and is not checked at all, and
    x = 0 and x = 10 both give 1. It catches most typing mistakes, and proves nothing more.
    """
    if len(first12) != NATIONAL_ID_LENGTH - 1 or not first12.isascii() or not first12.isdigit():
        raise ValueError("expected exactly 12 ASCII digits")
    total = sum(int(digit) * (13 - i) for i, digit in enumerate(first12))
    return (11 - total % 11) % 10


def valid_national_id(number: str) -> bool:
    """Whether ``number`` (separators allowed) is a well-formed 13-digit Thai citizen ID.

    Checks the length, the check digit (:func:`national_id_check_digit`) and the first digit.
    The first digit is the person category: DOPA assigns 1–8 to people in the house registers
    (1 and 2 for births registered since 1984, 3–5 for people already registered or added then,
    6–8 for non-Thais with residence and their children and for naturalised Thais); numbers
    starting with 0 are given to people without Thai nationality who hold the separate
    "บัตรประจำตัวบุคคลที่ไม่มีสัญชาติไทย" card, never a Thai citizen ID card, so 0 is refused.
    9 is not refused: no category uses it today, but refusing a number is the registry's job,
    and this check only catches typing mistakes.
    """
    digits = normalise_national_id(number)
    if len(digits) != NATIONAL_ID_LENGTH or not digits.isascii() or not digits.isdigit():
        return False
    if digits[0] == "0":
        return False
    return national_id_check_digit(digits[:12]) == int(digits[12])


def normalise_laser_code(code: str) -> str:
    """Upper case without spaces or hyphens (``"jt0-0000000-00"`` → ``"JT0000000000"``)."""
    return _SEPARATORS.sub("", code.strip()).upper()


def valid_laser_code(code: str) -> bool:
    """Whether ``code`` is a well-formed laser code: two Latin letters then ten digits.

    Case and separators do not matter (people copy it as printed, ``JT0-0000000-00``). The code
    has no check digit, so only its shape can be checked here.
    """
    return _LASER_CODE.fullmatch(normalise_laser_code(code)) is not None


def normalise_passport_number(value: str) -> str:
    """Upper case without spaces or hyphens (``"aa 123 4567"`` → ``"AA1234567"``)."""
    return _SEPARATORS.sub("", value.strip()).upper()


def valid_passport_number(value: str) -> bool:
    """Whether ``value`` looks like a Thai passport number: 1–2 Latin letters then 6–7 digits.

    Accepted after normalising (:func:`normalise_passport_number`): ``AA1234567`` (current
    e-passports), ``A1234567``, ``AA123456`` and ``A123456`` (older and official series).
    """
    return _PASSPORT.fullmatch(normalise_passport_number(value)) is not None
