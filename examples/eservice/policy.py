"""What "a strong sign-in" and "a verified identity" mean to this e-Service.

The renew page and the licence API use ``REQUIRED_ACR``; the licence application uses
``PROOFED_ACR`` and asks for ``VERIFIED_CLAIMS_REQUEST``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

#: Renewing a licence needs a second factor (AAL2). Any identity level (IAL1 and up) is enough.
REQUIRED_ACR = "urn:th:digitalid:ial1:aal2"
#: Applying for a licence needs a verified identity (IAL2: the ID card checked against the national
#: registry) and a second factor. ``ial3`` and ``aal3`` are enough too.
PROOFED_ACR = "urn:th:digitalid:ial2:aal2"
#: The second factor must also be recent: used within the last 10 minutes.
MAX_AGE = 600

#: What the licence application asks for with the ``claims`` parameter (OpenID Connect for Identity
#: Assurance 1.0 §6): the names and birthdate as verified, with how (evidence) and when (time).
VERIFIED_CLAIMS_REQUEST: dict[str, Any] = {
    "verification": {"trust_framework": None, "time": None, "evidence": None},
    "claims": {"given_name": None, "family_name": None, "given_name#th": None, "family_name#th": None,
               "birthdate": None},
}

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


def shortfall(claims: Mapping[str, Any], now: float | None = None, required: str = REQUIRED_ACR) -> str | None:
    """Why the sign-in behind these claims is not enough for ``required``, or ``None`` when it is.

    ``claims`` may come from an ID token or an RFC 9068 access token: both carry ``acr``
    and ``auth_time``.
    """
    acr = claims.get("acr")
    if not acr_satisfies(acr, required):
        have, need = _ACR.fullmatch(acr) if isinstance(acr, str) else None, _ACR.fullmatch(required)
        if have and need and int(have.group(1)) < int(need.group(1)):
            return f"A verified identity (IAL{need.group(1)}) is required."
        return "A sign-in with a second factor is required."
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, int | float) or (time.time() if now is None else now) - auth_time > MAX_AGE:
        return "A more recent sign-in is required."
    return None
