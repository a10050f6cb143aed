"""Face verifiers: is the person holding the camera the person the card belongs to, and alive?

Remote proofing at ETDA IAL 2.2 and 2.3 (and NDID enrolment) needs a face comparison against the
card holder's reference photo and a liveness check (docs/assurance.md). As with the registry
(:mod:`idp.proofing.verifiers`), *how* that is done sits behind one small interface,
:class:`FaceVerifier`, chosen by configuration (``PROOFING_FACE_VERIFIER``, ``"package.module:Class"``):

* :class:`FileFaceVerifier` (the default) decides from a JSON file of fictitious people and the
  SHA-256 digests of their demo selfies, for development and tests (``idp/data/faces.json``);
* :class:`HttpFaceVerifier` asks a vendor's or DOPA's face service with JSON over HTTPS, in the
  format of ``docs/face-api.md``, with the registry adapter's timeouts, retries and size caps.

Images are personal data of the most sensitive kind (biometric data, PDPA section 26): they are
held in memory for the call only, never logged, never in a ``repr``, never stored. What the proofing
case keeps is the decision, a score bucket and reason codes (:class:`FaceResult`).
A verifier never raises: every failure is a result (``unavailable``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Protocol
from typing import runtime_checkable
from urllib.parse import urlsplit

import requests

from idp import clock
from idp.config import is_loopback_host
from idp.proofing import verifiers
from idp.proofing.plugins import load_plugin
from idp.proofing.thai_id import normalise_national_id
from idp.proofing.thai_id import valid_national_id

log = logging.getLogger(__name__)

# Outcomes of the comparison
MATCH = "match"  # the selfie is the reference's person
NO_MATCH = "no_match"  # it is not (or not surely enough)
UNAVAILABLE = "unavailable"  # the service could not answer: try again later
OUTCOMES = (MATCH, NO_MATCH, UNAVAILABLE)

# Liveness decisions
LIVE = "pass"
NOT_LIVE = "fail"
UNKNOWN = "unknown"  # not decided (the service was down, or the image was refused before)
LIVENESS = (LIVE, NOT_LIVE, UNKNOWN)

# Reason codes (for the case and audit; the applicant is told in general words)
FACE_MISMATCH = "face_mismatch"
LIVENESS_FAILED = "liveness_failed"
NO_REFERENCE = "no_reference"  # the service holds no reference photo for this person
BAD_IMAGE = "bad_image"  # not a JPEG or PNG, empty, or too large
FACE_UNAVAILABLE = "face_service_unavailable"
FACE_ERROR = "face_service_error"

# Score buckets: what the case keeps of a score (a raw score says more than a decision needs).
HIGH = "high"  # >= 0.9
MEDIUM = "medium"  # >= 0.7
LOW = "low"
BUCKETS = (HIGH, MEDIUM, LOW)

DEFAULT_FACE_VERIFIER = "idp.proofing.face:FileFaceVerifier"
DEFAULT_FACE_FILE = Path(__file__).resolve().parent.parent / "data" / "faces.json"
FILE_ISSUER = "face check (demo file)"
DEFAULT_TIMEOUT = 10.0
MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_RESPONSE_BYTES = 16 * 1024
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


@dataclass(frozen=True)
class FaceReference:
    """Whom the selfie must show: the card's number, and the chip's photo when one was read.

    A service such as DOPA's compares against the photo it holds for ``national_id``; a vendor may
    need ``photo`` (the chip's, in memory only). Neither appears in ``repr``.
    """

    national_id: str = field(repr=False)
    photo: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FaceResult:
    """A face service's decision: comparison, liveness, a score bucket, reason codes, who decided."""

    outcome: str  # one of OUTCOMES
    liveness: str  # one of LIVENESS
    score: str | None  # one of BUCKETS, when the service gave a score
    reasons: tuple[str, ...]
    issuer: str
    checked_at: dt.datetime  # UTC

    @property
    def passed(self) -> bool:
        """Same person, and alive: what ETDA IAL 2.2 asks of the face step."""
        return self.outcome == MATCH and self.liveness == LIVE


@runtime_checkable
class FaceVerifier(Protocol):
    """Compares a selfie with a reference and checks liveness. ``verify`` must not raise."""

    def verify(self, selfie: bytes, reference: FaceReference) -> FaceResult: ...


def load_face_verifier(config: Mapping[str, Any]) -> FaceVerifier:
    """The verifier named by ``PROOFING_FACE_VERIFIER`` (``"package.module:Class"``), built with ``config``.

    Raises ``ValueError``, ``ImportError`` or ``TypeError`` on a bad setting, at start-up rather than
    on the first applicant.
    """
    verifier: FaceVerifier = load_plugin(config, "PROOFING_FACE_VERIFIER", DEFAULT_FACE_VERIFIER, FaceVerifier,
                                         "verify(selfie, reference)")
    return verifier


def image_ok(data: bytes, limit: int = MAX_IMAGE_BYTES) -> bool:
    """A JPEG or PNG by its first bytes, not empty, at most ``limit`` bytes (nothing is decoded)."""
    return isinstance(data, bytes) and 0 < len(data) <= limit and data.startswith(_IMAGE_MAGIC)


def bucket(score: float) -> str:
    """What the case keeps of a similarity score in [0, 1]."""
    return HIGH if score >= 0.9 else MEDIUM if score >= 0.7 else LOW


def _result(outcome: str, liveness: str, reasons: tuple[str, ...], issuer: str,
            score: str | None = None) -> FaceResult:
    return FaceResult(outcome=outcome, liveness=liveness, score=score, reasons=reasons, issuer=issuer,
                      checked_at=clock.utc_now())


def _refusal(selfie: bytes, reference: FaceReference, issuer: str) -> FaceResult | None:
    """The result for input no service should see (bad image, malformed number), else None."""
    if not image_ok(selfie) or (reference.photo is not None and not image_ok(reference.photo)):
        return _result(NO_MATCH, UNKNOWN, (BAD_IMAGE,), issuer)
    if not isinstance(reference.national_id, str) or not valid_national_id(reference.national_id):
        return _result(NO_MATCH, UNKNOWN, (NO_REFERENCE,), issuer)
    return None


class FileFaceVerifier:
    """Decides from a JSON file of FICTITIOUS people (``PROOFING_FACE_FILE``, docs/face-api.md).

    Each person (by national ID) lists the SHA-256 digests of selfies that show them, each with the
    liveness outcome to report: a known digest is a match with that liveness; any other image of a
    listed person is no match; a person not listed has no reference photo. It stands in for the
    face service the way :class:`~idp.proofing.verifiers.FileRegistry` stands in for the registry.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        path = Path(config.get("PROOFING_FACE_FILE") or DEFAULT_FACE_FILE)
        data = json.loads(path.read_text(encoding="utf-8"))
        self.issuer = str(data.get("issuer") or FILE_ISSUER)
        self._people: dict[str, dict[str, str]] = {}
        for person in data["people"]:
            number = normalise_national_id(person["national_id"])
            if not valid_national_id(number):
                raise ValueError(f"{path}: malformed national ID ending {number[-4:]!r}")
            selfies: dict[str, str] = {}
            for selfie in person["selfies"]:
                digest = str(selfie["sha256"]).lower()
                if len(digest) != 64 or selfie.get("liveness") not in (LIVE, NOT_LIVE):
                    raise ValueError(f"{path}: bad selfie entry for national ID ending {number[-4:]!r}")
                selfies[digest] = selfie["liveness"]
            self._people[number] = selfies

    def verify(self, selfie: bytes, reference: FaceReference) -> FaceResult:
        try:
            refused = _refusal(selfie, reference, self.issuer)
            if refused is not None:
                return refused
            selfies = self._people.get(normalise_national_id(reference.national_id))
            if selfies is None:
                return _result(NO_MATCH, UNKNOWN, (NO_REFERENCE,), self.issuer)
            digest = hashlib.sha256(selfie).hexdigest()
            liveness = next((v for d, v in selfies.items() if hmac.compare_digest(d, digest)), None)
            if liveness is None:
                return _result(NO_MATCH, LIVE, (FACE_MISMATCH,), self.issuer, LOW)
            reasons = () if liveness == LIVE else (LIVENESS_FAILED,)
            return _result(MATCH, liveness, reasons, self.issuer, HIGH)
        except Exception as exc:  # a verifier never raises: a bug here must not become a 500
            log.error("face file verifier failed: %s", type(exc).__name__)
            return _result(UNAVAILABLE, UNKNOWN, (FACE_ERROR,), self.issuer)


class HttpFaceVerifier:
    """A face service reached with JSON over HTTPS (``docs/face-api.md``).

    Settings: ``PROOFING_FACE_URL`` (https://, or http:// to a loopback host for tests),
    ``PROOFING_FACE_TIMEOUT`` (seconds to connect and for each read; default 10),
    ``PROOFING_FACE_RETRIES`` (extra attempts after connection errors, 5xx and 429; default 2),
    ``PROOFING_FACE_BACKOFF`` (first back-off, doubled each retry; default 0.5),
    ``PROOFING_FACE_CLIENT_CERT`` / ``_CLIENT_KEY`` (mutual TLS) and ``PROOFING_FACE_CA``.

    The same outbound rules as :class:`~idp.proofing.verifiers.HttpRegistry`: a fixed, configured
    address (never one a client supplied), no redirects (the images are never re-sent elsewhere),
    a read timeout is not retried, the answer is capped at 16 KiB and must arrive within the timeout.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        url = config.get("PROOFING_FACE_URL")
        if not url or not isinstance(url, str):
            raise ValueError("PROOFING_FACE_URL must be set to use HttpFaceVerifier")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"PROOFING_FACE_URL must be an absolute https:// URL, got {url!r}")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("PROOFING_FACE_URL must use https:// (http:// only to a loopback host)")
        if parts.username or parts.password:
            raise ValueError("PROOFING_FACE_URL must not carry credentials; use a client certificate")
        self.url = url
        self.issuer = parts.hostname
        self.timeout = float(config.get("PROOFING_FACE_TIMEOUT", DEFAULT_TIMEOUT))
        self.retries = int(config.get("PROOFING_FACE_RETRIES", verifiers.DEFAULT_RETRIES))
        self.backoff = float(config.get("PROOFING_FACE_BACKOFF", verifiers.DEFAULT_BACKOFF))
        if self.timeout <= 0 or self.retries < 0 or self.backoff < 0:
            raise ValueError("PROOFING_FACE_TIMEOUT must be > 0, RETRIES and BACKOFF >= 0")
        cert = config.get("PROOFING_FACE_CLIENT_CERT")
        key = config.get("PROOFING_FACE_CLIENT_KEY")
        ca = config.get("PROOFING_FACE_CA")
        if key and not cert:
            raise ValueError("PROOFING_FACE_CLIENT_KEY needs PROOFING_FACE_CLIENT_CERT")
        for name, path in (("CLIENT_CERT", cert), ("CLIENT_KEY", key), ("CA", ca)):
            if path and not Path(path).is_file():
                raise ValueError(f"PROOFING_FACE_{name}: {path!r} is not a readable file")
        self.cert: tuple[str, str] | str | None = (str(cert), str(key)) if key else (str(cert) if cert else None)
        self.verify_tls: str | bool = str(ca) if ca else True

    def verify(self, selfie: bytes, reference: FaceReference) -> FaceResult:
        try:
            refused = _refusal(selfie, reference, self.issuer)
            if refused is not None:
                return refused
            body = {
                "reference": {
                    "national_id": normalise_national_id(reference.national_id),
                    "photo": base64.b64encode(reference.photo).decode() if reference.photo else None,
                },
                "selfie": base64.b64encode(selfie).decode(),
            }
        except Exception as exc:
            log.error("face service: unusable input (%s)", type(exc).__name__)
            return _result(NO_MATCH, UNKNOWN, (BAD_IMAGE,), self.issuer)
        request_id = uuid.uuid4().hex
        attempts = self.retries + 1
        for attempt in range(attempts):
            if attempt:
                verifiers._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._ask(body, request_id)
            except verifiers._Retry as exc:
                log.warning("face service %s: %s (attempt %d of %d, request %s)",
                            self.issuer, exc, attempt + 1, attempts, request_id)
            except verifiers._GiveUp as exc:
                log.warning("face service %s: %s (request %s)", self.issuer, exc, request_id)
                reason = FACE_ERROR if exc.reason == verifiers.REGISTRY_ERROR else FACE_UNAVAILABLE
                return _result(UNAVAILABLE, UNKNOWN, (reason,), self.issuer)
            except Exception as exc:  # anything unforeseen: unavailable, never raised
                log.error("face service %s: unexpected %s (request %s)", self.issuer, type(exc).__name__, request_id)
                return _result(UNAVAILABLE, UNKNOWN, (FACE_ERROR,), self.issuer)
        return _result(UNAVAILABLE, UNKNOWN, (FACE_UNAVAILABLE,), self.issuer)

    def _ask(self, body: dict[str, Any], request_id: str) -> FaceResult:
        headers = {"Accept": "application/json", "X-Request-ID": request_id}
        with requests.Session() as session:
            try:
                response = session.post(self.url, json=body, headers=headers, timeout=self.timeout,
                                        cert=self.cert, verify=self.verify_tls, stream=True,
                                        allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise verifiers._GiveUp(FACE_UNAVAILABLE, "TLS failure") from exc
            except requests.exceptions.ConnectionError as exc:  # includes ConnectTimeout
                raise verifiers._Retry(type(exc).__name__) from exc
            except requests.exceptions.RequestException as exc:  # ReadTimeout and the rest
                raise verifiers._GiveUp(FACE_UNAVAILABLE, type(exc).__name__) from exc
            with response:
                status = response.status_code
                if status >= 500 or status == 429:
                    raise verifiers._Retry(f"HTTP {status}")
                if status != 200:
                    raise verifiers._GiveUp(verifiers.REGISTRY_ERROR, f"HTTP {status}")
                try:
                    raw = verifiers._read_capped(response, MAX_RESPONSE_BYTES, time.monotonic() + self.timeout)
                except requests.exceptions.RequestException as exc:
                    raise verifiers._GiveUp(FACE_UNAVAILABLE, f"reading the answer: {type(exc).__name__}") from exc
        result = _parse_answer(raw, self.issuer)
        if result is None:
            raise verifiers._GiveUp(verifiers.REGISTRY_ERROR, "malformed answer")
        return result


def _parse_answer(raw: bytes, default_issuer: str) -> FaceResult | None:
    """The service's JSON answer as a result, or None when it does not follow docs/face-api.md."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    outcome = data.get("outcome")
    liveness = data.get("liveness", UNKNOWN)
    score = data.get("score")
    reasons = data.get("reasons", [])
    issuer = data.get("issuer", default_issuer)
    if outcome not in OUTCOMES or liveness not in LIVENESS:
        return None
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1):
        return None
    if not isinstance(reasons, list) or len(reasons) > verifiers._MAX_REASONS:
        return None
    if not all(isinstance(r, str) and verifiers._REASON.fullmatch(r) for r in reasons):
        return None
    if not isinstance(issuer, str) or not issuer.strip() or len(issuer) > verifiers._MAX_FIELD:
        return None
    if outcome == MATCH and liveness != LIVE and LIVENESS_FAILED not in reasons:
        reasons = [*reasons, LIVENESS_FAILED]
    if outcome == NO_MATCH and not reasons:
        reasons = [FACE_MISMATCH]
    if outcome == UNAVAILABLE:
        liveness = UNKNOWN
        if FACE_UNAVAILABLE not in reasons:
            reasons = [FACE_UNAVAILABLE, *reasons]
    return _result(outcome, liveness, tuple(reasons), issuer.strip(),
                   bucket(float(score)) if score is not None else None)
