"""The applicant's evidence form: what was typed, read into :class:`Evidence` or into problems.

Each problem names its field and, for the date of birth, the parts to mark (GOV.UK: the error
summary links to the first wrong part, and only the wrong parts are marked). The format checks
here are those ``service.check_evidence`` applies again; this module only says *where* the
person has to look. Nothing here is about the registry: a mismatch there is never pinned on a
field (``idp.proofing.attempts``).

Pure: no Flask, no database; the era and today's date are handed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from idp.proofing import dates
from idp.proofing import thai_id
from idp.proofing.verifiers import PASSPORT
from idp.proofing.verifiers import THAI_ID_CARD
from idp.proofing.verifiers import Evidence

MAX_LENGTH = 100
TEXT_FIELDS = ("number", "laser_code", "given_name_th", "family_name_th", "given_name", "family_name")
DATE_FIELDS = tuple(f"birthdate-{part}" for part in dates.PARTS)
# Scripts may still send one ``birthdate=yyyy-mm-dd`` instead of the three parts.
ISO_DATE_FIELD = "birthdate"


@dataclass(frozen=True)
class Problem:
    """One thing to correct: ``field`` is a form field (``birthdate`` for the date as a whole)."""

    field: str
    code: str  # idp.proofing.messages.field_error
    parts: tuple[str, ...] = ()  # the date parts to mark
    limit: int | None = None

    @property
    def target(self) -> str:
        """The id of the input the error summary links to."""
        return f"birthdate-{self.parts[0]}" if self.field == "birthdate" and self.parts else self.field


def values(form: Mapping[str, str]) -> dict[str, str]:
    """The fields of the form as typed (cut to a sane length), to read and to show again."""
    kept = {name: str(form.get(name, ""))[:MAX_LENGTH + 1] for name in (*TEXT_FIELDS, *DATE_FIELDS)}
    kept[ISO_DATE_FIELD] = str(form.get(ISO_DATE_FIELD, ""))[:MAX_LENGTH]
    return kept


def typed_date(form: Mapping[str, str], *, era: dates.Era) -> dates.Typed:
    """The three parts as typed; from ``birthdate=yyyy-mm-dd`` when none was sent."""
    if not any(form.get(name) for name in DATE_FIELDS) and form.get(ISO_DATE_FIELD):
        return dates.split_iso(form[ISO_DATE_FIELD], era=era)
    return dates.Typed(*(form.get(name, "") for name in DATE_FIELDS))


def read(form: Mapping[str, str], *, kind: str, era: dates.Era,
         today: dt.date) -> tuple[Evidence | None, list[Problem]]:
    """The evidence the form holds, or the problems in the order of the fields on the page."""
    problems: list[Problem] = []
    number = form.get("number", "").strip()
    if kind == PASSPORT:
        if not number:
            problems.append(Problem("number", "missing_passport_number"))
        elif not thai_id.valid_passport_number(number):
            problems.append(Problem("number", "bad_passport_number"))
    else:
        laser = form.get("laser_code", "").strip()
        if not number:
            problems.append(Problem("number", "missing_number"))
        elif not thai_id.valid_national_id(number):
            problems.append(Problem("number", "bad_national_id"))
        if not laser:
            problems.append(Problem("laser_code", "missing_laser_code"))
        elif not thai_id.valid_laser_code(laser):
            problems.append(Problem("laser_code", "bad_laser_code"))
    for name in ("given_name_th", "family_name_th", "given_name", "family_name"):
        value = form.get(name, "").strip()
        if len(value) > MAX_LENGTH:
            problems.append(Problem(name, "too_long"))
        elif not value and name in ("given_name", "family_name"):
            problems.append(Problem(name, f"missing_{name}"))
    birthdate = None
    try:
        birthdate = dates.parse(typed_date(form, era=era), era=era, today=today)
    except dates.BirthdateError as exc:
        code = f"date_{exc.code}" + (("_" + "_".join(exc.parts)) if exc.code == "incomplete" else "")
        problems.append(Problem("birthdate", code, exc.parts, exc.limit))
    if problems or birthdate is None:
        return None, problems
    return Evidence(kind=kind if kind == PASSPORT else THAI_ID_CARD, number=number,
                    laser_code=None if kind == PASSPORT else form.get("laser_code", "").strip(),
                    given_name=form.get("given_name", "").strip(), family_name=form.get("family_name", "").strip(),
                    given_name_th=form.get("given_name_th", "").strip() or None,
                    family_name_th=form.get("family_name_th", "").strip() or None,
                    birthdate=birthdate.isoformat()), []
