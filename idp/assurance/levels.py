"""IAL/AAL vocabulary and the ``acr`` values that combine them (see docs/assurance.md)."""

from __future__ import annotations

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
