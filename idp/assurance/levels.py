"""IAL/AAL vocabulary and the ``acr`` values that combine them (see docs/assurance.md).

Two numberings live side by side: NIST SP 800-63's integers (``urn:th:digitalid:ial2:aal2``) and
the ETDA levels Thai e-Services use (IAL 1.1–3, AAL 1–3; ``urn:th:digitalid:ial:2.3:aal:2.2``),
which NDID compares as plain numbers, so here they are exact :class:`~decimal.Decimal` values.
"""

from __future__ import annotations

from decimal import Decimal
from decimal import InvalidOperation
from enum import IntEnum

ACR_PREFIX = "urn:th:digitalid:"


class IAL(IntEnum):
    IAL1 = 1
    IAL2 = 2
    IAL3 = 3


class AAL(IntEnum):
    AAL1 = 1
    AAL2 = 2
    AAL3 = 3


def acr_value(ial: int, aal: int) -> str:
    return f"{ACR_PREFIX}ial{int(ial)}:aal{int(aal)}"


ACR_VALUES = [acr_value(i, a) for i in IAL for a in AAL]

# ETDA's levels as NDID lists them (ndidplatform/api docker/start-api.sh, set_supported_*_list).
IAL_LEVELS: tuple[Decimal, ...] = tuple(Decimal(v) for v in ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3"))
AAL_LEVELS: tuple[Decimal, ...] = tuple(Decimal(v) for v in ("1", "2.1", "2.2", "3"))


def level_text(level: Decimal) -> str:
    """``Decimal("2.3")`` → ``"2.3"``, ``Decimal("3")`` → ``"3"`` (as ETDA and NDID write them)."""
    return format(level.normalize(), "f")


def parse_level(text: object, allowed: tuple[Decimal, ...]) -> Decimal | None:
    """A level from its text (``"2.3"``); ``None`` for anything not in ``allowed`` or not so written."""
    if not isinstance(text, str) or not text or len(text) > 4 or not all(c in "0123456789." for c in text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    # Only the form ETDA and NDID write ("2.3", "3"): an acr value is compared as a string by RPs.
    return next((level for level in allowed if level == value and level_text(level) == text), None)


def band(level: Decimal | None) -> int:
    """The NIST-style integer an ETDA level sits in: 2.3 → 2, 3 → 3 (0 for none)."""
    return int(level) if level is not None else 0


def etda_acr_value(ial: Decimal | None = None, aal: Decimal | None = None) -> str:
    """``urn:th:digitalid:ial:2.3``, ``…:aal:2.2`` or ``…:ial:2.3:aal:2.2``: each a minimum on its axis."""
    parts = []
    if ial is not None:
        parts.append(f"ial:{level_text(ial)}")
    if aal is not None:
        parts.append(f"aal:{level_text(aal)}")
    return ACR_PREFIX + ":".join(parts)


ETDA_ACR_VALUES = ([etda_acr_value(ial=i) for i in IAL_LEVELS] + [etda_acr_value(aal=a) for a in AAL_LEVELS]
                   + [etda_acr_value(i, a) for i in IAL_LEVELS for a in AAL_LEVELS])
ALL_ACR_VALUES = ACR_VALUES + ETDA_ACR_VALUES
