"""What proofing established about a person, as the evidence checks the ETDA level policy reads.

The contract with every proofing path: a verified identity's ``evidence`` entries may carry a
``checks`` list of :class:`idp.assurance.etda.EvidenceCheck` values (the face and chip verifiers
write ``chip``, ``face`` and ``liveness`` there). Entries written before that list existed are read
by what they record: an in-person inspection (OIDC4IDA ``vpip``/``pvp``) was a counter, anything
else the remote registry check.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.models import User
from idp.assurance.etda import EvidenceCheck
from idp.assurance.etda import LevelPolicy
from idp.proofing.models import VerifiedIdentity
from idp.proofing.service import identity_of

_KNOWN = {str(c) for c in EvidenceCheck}
_IN_PERSON_METHODS = {"vpip", "pvp"}  # OIDC4IDA check_methods an officer performs in person
COUNTER_FALLBACK = frozenset({EvidenceCheck.IN_PERSON, EvidenceCheck.REGISTRY_DATA})
REMOTE_FALLBACK = frozenset({EvidenceCheck.REGISTRY_DATA})
SELF_ASSERTED = frozenset({EvidenceCheck.EMAIL})


def _in_person(entry: Mapping[str, Any]) -> bool:
    details = entry.get("check_details")
    return isinstance(details, list) and any(
        isinstance(d, dict) and d.get("check_method") in _IN_PERSON_METHODS for d in details)


def _entry_checks(entry: Mapping[str, Any], *, counter: bool) -> frozenset[str]:
    declared = entry.get("checks")
    if isinstance(declared, list):
        return frozenset(str(c) for c in declared if str(c) in _KNOWN)
    return COUNTER_FALLBACK if counter or _in_person(entry) else REMOTE_FALLBACK


def checks_of(identity: VerifiedIdentity | None) -> frozenset[str]:
    """The evidence checks behind a person's verified identity (``{"email"}`` without one)."""
    if identity is None:
        return SELF_ASSERTED
    entries: Iterable[Any] = identity.evidence or [{}]
    counter = identity.ial >= 3
    found: set[str] = set()
    for entry in entries:
        if isinstance(entry, dict):
            found |= _entry_checks(entry, counter=counter)
    return frozenset(found) or (COUNTER_FALLBACK if counter else REMOTE_FALLBACK)


def channel_of(identity: VerifiedIdentity | None) -> str | None:
    """``counter`` when an officer saw the person, ``remote`` for any other verified identity."""
    if identity is None:
        return None
    return "counter" if EvidenceCheck.IN_PERSON in checks_of(identity) else "remote"


def etda_ial(db: Session, user: User, policy: LevelPolicy) -> Decimal | None:
    """The person's ETDA IAL under the operator's level policy."""
    identity = identity_of(db, user.id) if user.ial >= 2 else None
    return policy.ial_for(checks_of(identity), channel_of(identity))
