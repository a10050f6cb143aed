"""IAL/AAL vocabulary and the ``acr`` values that combine them (see docs/assurance.md)."""

from __future__ import annotations

from collections.abc import Iterable
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


def aal_of(amr: Iterable[str]) -> AAL:
    """The AAL one sign-in reached, from its RFC 8176 ``amr`` values.

    Only passwords exist so far: one factor is AAL1. Second factors arrive with the
    authenticators issue and raise this.
    """
    del amr  # every method known today counts as a single factor
    return AAL.AAL1
