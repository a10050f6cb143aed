"""After the registry check: the card's chip and the person's face, to reach ETDA IAL 2.2 / 2.3.

A person whose remote case was approved on the registry's data (ETDA IAL 1.3 by the default level
policy) may continue: read the card's chip (:func:`record_chip`), then take a selfie
(:func:`check_face`). The results go into the approved case's ``checks`` (decisions, a score bucket,
reason codes: never an image); when the face matches and the person is alive, the verified
identity's evidence entry gets the checks ``face`` and ``liveness`` (and ``chip`` when a genuine
read agreed with the registry), automatically, with no officer in the loop.

A failed face check is refused, not queued: an officer could not review it (the selfie is not kept).
After ``PROOFING_FACE_MAX_ATTEMPTS`` failures the step closes for that case, and a counter visit is
the way up. The NIST IAL stays what the registry check gave (``IAL2``): these checks raise the ETDA
level only, as the level policy says.

No Flask request globals: the views pass the configuration and verifiers in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.proofing import chip
from idp.proofing import service
from idp.proofing.face import UNAVAILABLE
from idp.proofing.face import FaceReference
from idp.proofing.face import FaceResult
from idp.proofing.face import FaceVerifier
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.vocabulary import Check
from idp.proofing.vocabulary import EvidenceCheck

Config = Mapping[str, Any]

# OIDC4IDA check methods: the chip's signature verified; a biometric comparison, remotely.
CHIP_CHECK_METHOD = {"check_method": "vcrypt"}
FACE_CHECK_METHOD = {"check_method": "bvr"}


def checks_on(entry: Mapping[str, Any]) -> list[str]:
    """The ``checks`` of one evidence entry (an older entry without them has none)."""
    value = entry.get("checks")
    return [str(c) for c in value] if isinstance(value, list) else []


def offered(db: Session, user: User) -> tuple[ProofingCase, VerifiedIdentity] | None:
    """The approved remote case the face step would complete, and its identity; None when not offered.

    Offered to a person whose verified identity came from a remote case that matched the registry.
    """
    identity = service.identity_of(db, user.id)
    if identity is None or identity.case_id is None or not identity.evidence:
        return None
    case = db.get(ProofingCase, identity.case_id)
    if case is None or case.channel != "remote" or case.status != "approved":
        return None
    if EvidenceCheck.REGISTRY_DATA not in _recorded(case, identity.evidence[0]):
        return None
    return case, identity


def _recorded(case: ProofingCase, entry: Mapping[str, Any]) -> list[str]:
    """The entry's checks; for an entry approved before checks were recorded, what its case shows."""
    if "checks" in entry:
        return checks_on(entry)
    return [EvidenceCheck.REGISTRY_DATA] if case.checks.get(Check.REGISTRY) == "match" else []


@dataclass(frozen=True)
class Step:
    """Where the person stands on the face step, for the status page."""

    done: bool  # face and liveness are on the identity
    chip: bool  # and the chip
    attempts_left: int


def step(db: Session, user: User, *, config: Config) -> Step | None:
    """The face step's state, or None when it is not offered to this person."""
    found = offered(db, user)
    if found is None:
        return None
    case, identity = found
    checks = checks_on(identity.evidence[0])
    return Step(done=EvidenceCheck.FACE in checks, chip=EvidenceCheck.CHIP in checks,
                attempts_left=attempts_left(case, config))


def done(identity: VerifiedIdentity) -> bool:
    return bool(identity.evidence) and EvidenceCheck.FACE in checks_on(identity.evidence[0])


def attempts_left(case: ProofingCase, config: Config) -> int:
    return max(0, int(config.get("PROOFING_FACE_MAX_ATTEMPTS", 3)) - int(case.checks.get(Check.FACE_ATTEMPTS, 0)))


def _open(db: Session, user: User, config: Config) -> tuple[ProofingCase, VerifiedIdentity]:
    found = offered(db, user)
    if found is None:
        raise service.ProofingError("face_not_offered")
    case, identity = found
    if done(identity):
        raise service.ProofingError("face_done")
    if attempts_left(case, config) <= 0:
        raise service.ProofingError("face_attempts_used")
    return case, identity


def expected(db: Session, user_id: int, *, config: Config) -> chip.Expected | None:
    """What a chip read must agree with: the verified identity (the registry's record, else the evidence)."""
    number = service.national_id(db, user_id, config=config)
    identity = service.identity_of(db, user_id)
    if number is None or identity is None:
        return None
    claims = service.unseal(config, identity.claims_encrypted, context=f"user:{user_id}:claims") or {}
    return chip.Expected(national_id=number, given_name=claims.get("given_name"),
                         family_name=claims.get("family_name"), given_name_th=claims.get("given_name#th"),
                         family_name_th=claims.get("family_name#th"), birthdate=claims.get("birthdate"))


def record_chip(db: Session, user: User, document: bytes, *, config: Config,
                issuers: KeySet | None) -> chip.ChipResult:
    """Verify a chip read from the person's phone and record the result on their case.

    :raises service.ProofingError: the step is not offered, done, or closed
    """
    case, _identity = _open(db, user, config)
    want = expected(db, user.id, config=config)
    if want is None:
        raise service.ProofingError("face_not_offered")
    result = chip.read(document, issuers=issuers, expected=want)
    case.checks = {**case.checks, Check.CHIP: result.outcome, Check.CHIP_REASONS: list(result.reasons),
                   Check.CHIP_ISSUER: result.data.issuer if result.data else None,
                   Check.CHIP_CHECKED_AT: result.checked_at.isoformat(timespec="seconds")}
    audit.record(db, audit.Event.PROOFING_CHIP_READ, user_id=user.id, commit=False, case=case.id,
                 outcome=result.outcome, reasons=list(result.reasons))
    db.commit()
    return result


def check_face(db: Session, user: User, selfie: bytes, *, config: Config, verifier: FaceVerifier) -> FaceResult:
    """Compare the selfie with the card holder's reference photo; on a pass, raise the identity's checks.

    The selfie lives only in this call. A service that could not answer costs no attempt.

    :raises service.ProofingError: the step is not offered, done, or closed
    """
    case, identity = _open(db, user, config)
    number = service.national_id(db, user.id, config=config)
    if number is None:
        raise service.ProofingError("face_not_offered")
    result = verifier.verify(selfie, FaceReference(national_id=number))
    failures = int(case.checks.get(Check.FACE_ATTEMPTS, 0))
    if result.outcome != UNAVAILABLE and not result.passed:
        failures += 1
    case.checks = {**case.checks, Check.FACE: result.outcome, Check.LIVENESS: result.liveness,
                   Check.FACE_SCORE: result.score, Check.FACE_ISSUER: result.issuer,
                   Check.FACE_REASONS: list(result.reasons), Check.FACE_ATTEMPTS: failures,
                   Check.FACE_CHECKED_AT: result.checked_at.isoformat(timespec="seconds")}
    if result.passed:
        _raise_checks(case, identity)
    audit.record(db, audit.Event.PROOFING_FACE_CHECKED, user_id=user.id, commit=False, case=case.id,
                 outcome=result.outcome, liveness=result.liveness, reasons=list(result.reasons),
                 passed=result.passed)
    db.commit()
    return result


def _raise_checks(case: ProofingCase, identity: VerifiedIdentity) -> None:
    """The evidence entry gets face and liveness (and chip, when the card's read was genuine)."""
    entry = dict(identity.evidence[0])
    checks = [c for c in _recorded(case, entry)
              if c not in (EvidenceCheck.CHIP, EvidenceCheck.FACE, EvidenceCheck.LIVENESS)]
    details = [d for d in entry.get("check_details", []) if d not in (CHIP_CHECK_METHOD, FACE_CHECK_METHOD)]
    if case.checks.get(Check.CHIP) == chip.VALID:
        checks.append(EvidenceCheck.CHIP)
        details.append(CHIP_CHECK_METHOD)
    checks += [EvidenceCheck.FACE, EvidenceCheck.LIVENESS]
    details.append(FACE_CHECK_METHOD)
    entry["checks"] = [str(c) for c in checks]
    entry["check_details"] = details
    entry["time"] = clock.utc_now().isoformat(timespec="seconds")
    identity.evidence = [entry, *identity.evidence[1:]]  # a new list: the JSON column sees the change
