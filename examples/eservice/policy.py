"""What "a strong sign-in" means to this e-Service. The renew page and the licence API both use it."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

#: Renewing a licence needs a second factor (AAL2). Any identity level (IAL1 and up) is enough.
REQUIRED_ACR = "urn:th:digitalid:ial1:aal2"
#: The second factor must also be recent: used within the last 10 minutes.
MAX_AGE = 600

_ACR = re.compile(r"urn:th:digitalid:ial([1-3]):aal([1-3])")


def acr_satisfies(acr: object, required: str = REQUIRED_ACR) -> bool:
    """Whether ``acr`` reaches ``required``. IAL and AAL are compared separately, as numbers.

    So ``ial2:aal2`` and ``ial1:aal3`` satisfy ``ial1:aal2``, but ``ial3:aal1`` does not.
    """
    have = _ACR.fullmatch(acr) if isinstance(acr, str) else None
    need = _ACR.fullmatch(required)
    if have is None or need is None:
        return False
    return all(int(h) >= int(n) for h, n in zip(have.groups(), need.groups(), strict=True))


def shortfall(claims: Mapping[str, Any], now: float | None = None) -> str | None:
    """Why the sign-in behind these claims is not enough, or ``None`` when it is.

    ``claims`` may come from an ID token or an RFC 9068 access token: both carry ``acr``
    and ``auth_time``.
    """
    if not acr_satisfies(claims.get("acr")):
        return "A sign-in with a second factor is required."
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, int | float) or (time.time() if now is None else now) - auth_time > MAX_AGE:
        return "A more recent sign-in is required."
    return None
