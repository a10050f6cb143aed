"""Registry verifiers: ask an authoritative source whether the evidence a person typed is genuine.

IAL2 remote proofing (NIST SP 800-63A-4) needs the evidence validated against its issuing source:
for a Thai ID card that is the population register of the Department of Provincial Administration
(DOPA), which knows each card's laser code, whether the card is still valid and the person's
details of record. This module hides *how* that source is reached behind one small interface,
:class:`Verifier`, chosen by configuration (``PROOFING_VERIFIER``, an import path
``"package.module:Class"``), so that a deployment can plug in its own connector:

* :class:`FileRegistry` (the default) answers from a JSON file of fictitious citizens, for demos,
  development and tests (``idp/data/registry.json``, listed in ``docs/registry-api.md``);
* :class:`HttpRegistry` asks a registry gateway over HTTPS with mutual TLS, in the JSON format of
  ``docs/registry-api.md``.

A verifier never raises on a lookup: every failure becomes a :class:`RegistryResult` (``unavailable``
when the registry could not answer), so the proofing flow always has an outcome to record and show.
Evidence and registry records are personal data: nothing here logs them, and their ``repr`` hides
them so they do not leak into logs through tracebacks either.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import unicodedata
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
from idp.proofing.plugins import load_plugin
from idp.proofing.thai_id import normalise_laser_code
from idp.proofing.thai_id import normalise_national_id
from idp.proofing.thai_id import normalise_passport_number
from idp.proofing.thai_id import valid_laser_code
from idp.proofing.thai_id import valid_national_id
from idp.proofing.thai_id import valid_passport_number

log = logging.getLogger(__name__)

# Evidence kinds
THAI_ID_CARD = "thai_id_card"
PASSPORT = "passport"
EVIDENCE_KINDS = (THAI_ID_CARD, PASSPORT)

# Outcomes
MATCH = "match"  # the document exists, is valid and every detail typed agrees with the record
MISMATCH = "mismatch"  # the document exists but a detail differs, or it is revoked
NOT_FOUND = "not_found"  # no such document (or the evidence is malformed, so none can match)
UNAVAILABLE = "unavailable"  # the registry could not answer: try again later
OUTCOMES = (MATCH, MISMATCH, NOT_FOUND, UNAVAILABLE)

# Reason codes: for the case record and audit, not to be shown verbatim to the applicant (telling a
# stranger which detail is wrong would let them guess a birthdate one field at a time).
LASER_CODE_MISMATCH = "laser_code_mismatch"
BIRTHDATE_MISMATCH = "birthdate_mismatch"
NAME_MISMATCH = "name_mismatch"
CARD_REVOKED = "card_revoked"
PASSPORT_REVOKED = "passport_revoked"
DOCUMENT_NOT_FOUND = "document_not_found"
INVALID_EVIDENCE = "invalid_evidence"
REGISTRY_UNAVAILABLE = "registry_unavailable"
REGISTRY_ERROR = "registry_error"

# What a match returns about the person: the registry's canonical data, never the typed evidence.
RECORD_FIELDS = ("national_id", "given_name", "family_name", "given_name_th", "family_name_th", "birthdate",
                 "contact_email", "contact_phone", "photo_ref")
_REQUIRED_RECORD_FIELDS = ("given_name", "family_name", "birthdate")

DEFAULT_VERIFIER = "idp.proofing.verifiers:FileRegistry"
DEFAULT_REGISTRY_FILE = Path(__file__).resolve().parent.parent / "data" / "registry.json"
FILE_ISSUER = "TH-DOPA (demo file)"
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.5
MAX_RESPONSE_BYTES = 64 * 1024

_REASON = re.compile(r"[a-z0-9_]{1,64}")
_sleep = time.sleep  # the back-off wait; tests record it instead of waiting
_MAX_REASONS = 16
_MAX_FIELD = 256


@dataclass(frozen=True)
class Evidence:
    """What the applicant typed in, as on the document (English names as printed on the card).

    Only ``kind`` appears in ``repr``: the rest is personal data.
    """

    kind: str  # THAI_ID_CARD | PASSPORT
    number: str = field(repr=False)  # national ID (13 digits) or passport number; separators allowed
    laser_code: str | None = field(repr=False)  # ID card only
    given_name: str = field(repr=False)
    family_name: str = field(repr=False)
    given_name_th: str | None = field(repr=False)
    family_name_th: str | None = field(repr=False)
    birthdate: str = field(repr=False)  # ISO 8601 yyyy-mm-dd, Gregorian calendar

    def normalised_number(self) -> str:
        """The document number without separators (and upper case for passports)."""
        if self.kind == PASSPORT:
            return normalise_passport_number(self.number)
        return normalise_national_id(self.number)

    def as_json(self) -> dict[str, Any]:
        """The evidence as sent to a registry (``docs/registry-api.md``): numbers normalised."""
        laser = normalise_laser_code(self.laser_code) if self.kind == THAI_ID_CARD and self.laser_code else None
        return {
            "kind": self.kind,
            "number": self.normalised_number(),
            "laser_code": laser,
            "given_name": self.given_name.strip(),
            "family_name": self.family_name.strip(),
            "given_name_th": self.given_name_th.strip() if self.given_name_th else None,
            "family_name_th": self.family_name_th.strip() if self.family_name_th else None,
            "birthdate": self.birthdate.strip(),
        }


@dataclass(frozen=True)
class RegistryResult:
    """A registry's answer about one piece of evidence."""

    outcome: str  # one of OUTCOMES
    reasons: tuple[str, ...]  # reason codes (above); empty on a match
    record: dict[str, Any] | None = field(repr=False)  # canonical data (RECORD_FIELDS), on a match only
    issuer: str  # who vouched: e.g. "TH-DOPA" (Department of Provincial Administration)
    checked_at: dt.datetime  # UTC

    @property
    def matched(self) -> bool:
        return self.outcome == MATCH


@runtime_checkable
class Verifier(Protocol):
    """Checks evidence against an authoritative source. ``verify`` must not raise."""

    def verify(self, evidence: Evidence) -> RegistryResult: ...


def load_verifier(config: Mapping[str, Any]) -> Verifier:
    """The verifier named by ``PROOFING_VERIFIER`` (``"package.module:Class"``), built with ``config``.

    Raises ``ValueError``, ``ImportError`` or ``TypeError`` on a bad setting, so a misconfigured IdP fails at start-up
    rather than on the first applicant.
    """
    verifier: Verifier = load_plugin(config, "PROOFING_VERIFIER", DEFAULT_VERIFIER, Verifier, "verify(evidence)")
    return verifier


def evidence_errors(evidence: Evidence) -> tuple[str, ...]:
    """The evidence fields that are malformed (``"kind"``, ``"number"``, ``"laser_code"``, …).

    Verifiers refuse malformed evidence without asking the registry; a form can use this to
    point at the field to correct.
    """
    if evidence.kind not in EVIDENCE_KINDS:
        return ("kind",)
    errors: list[str] = []
    number = evidence.number if isinstance(evidence.number, str) else ""
    if evidence.kind == THAI_ID_CARD:
        if not valid_national_id(number):
            errors.append("number")
        if not isinstance(evidence.laser_code, str) or not valid_laser_code(evidence.laser_code):
            errors.append("laser_code")
    elif not valid_passport_number(number):
        errors.append("number")
    for name in ("given_name", "family_name"):
        value = getattr(evidence, name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD:
            errors.append(name)
    for name in ("given_name_th", "family_name_th"):
        value = getattr(evidence, name)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_FIELD):
            errors.append(name)
    if not isinstance(evidence.birthdate, str) or _iso_date(evidence.birthdate.strip()) is None:
        errors.append("birthdate")
    return tuple(errors)


def same_name(typed: str | None, recorded: str | None) -> bool:
    """Names compared as people type them: case, Unicode form and runs of spaces do not matter."""
    return _name_key(typed) == _name_key(recorded)


def _name_key(name: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", name or "").casefold().split())


def _iso_date(value: str) -> dt.date | None:
    if len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _result(outcome: str, reasons: tuple[str, ...], issuer: str,
            record: dict[str, Any] | None = None) -> RegistryResult:
    return RegistryResult(outcome=outcome, reasons=reasons, record=record if outcome == MATCH else None,
                          issuer=issuer, checked_at=clock.utc_now())


class FileRegistry:
    """A registry read from a JSON file of FICTITIOUS citizens (``PROOFING_REGISTRY_FILE``).

    It applies the rules a real registry gateway is expected to apply (``docs/registry-api.md``):
    the document must exist; the laser code (ID card) and birthdate must be exactly those of record;
    names must agree ignoring case and spacing (Thai names only when typed); a revoked document is
    reported only once every detail matched, so that the registry never tells a stranger which
    cards are revoked.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        path = Path(config.get("PROOFING_REGISTRY_FILE") or DEFAULT_REGISTRY_FILE)
        data = json.loads(path.read_text(encoding="utf-8"))
        self.issuer = str(data.get("issuer") or FILE_ISSUER)
        self._cards: dict[str, dict[str, Any]] = {}
        self._passports: dict[str, dict[str, Any]] = {}
        for person in data["citizens"]:
            number = normalise_national_id(person["national_id"])
            if not valid_national_id(number) or not valid_laser_code(person["laser_code"]):
                raise ValueError(f"{path}: malformed national ID or laser code for entry {number[-4:]!r}")
            if number in self._cards:
                raise ValueError(f"{path}: national ID ending {number[-4:]!r} is listed twice")
            for name in _REQUIRED_RECORD_FIELDS:
                if not person.get(name):
                    raise ValueError(f"{path}: {name} missing for national ID ending {number[-4:]!r}")
            self._cards[number] = person
            passport = person.get("passport")
            if passport:
                self._passports[normalise_passport_number(passport["number"])] = person

    def verify(self, evidence: Evidence) -> RegistryResult:
        try:
            return self._verify(evidence)
        except Exception as exc:  # a verifier never raises: a bug here must not become a 500
            log.error("proofing file registry failed: %s", type(exc).__name__)
            return _result(UNAVAILABLE, (REGISTRY_ERROR,), self.issuer)

    def _verify(self, evidence: Evidence) -> RegistryResult:
        if evidence_errors(evidence):
            return _result(NOT_FOUND, (INVALID_EVIDENCE,), self.issuer)
        number = evidence.normalised_number()
        person = (self._cards if evidence.kind == THAI_ID_CARD else self._passports).get(number)
        if person is None:
            return _result(NOT_FOUND, (DOCUMENT_NOT_FOUND,), self.issuer)
        reasons: list[str] = []
        if evidence.kind == THAI_ID_CARD and (
                normalise_laser_code(evidence.laser_code or "") != normalise_laser_code(person["laser_code"])):
            reasons.append(LASER_CODE_MISMATCH)
        if evidence.birthdate.strip() != person["birthdate"]:
            reasons.append(BIRTHDATE_MISMATCH)
        if not self._names_agree(evidence, person):
            reasons.append(NAME_MISMATCH)
        if reasons:
            return _result(MISMATCH, tuple(reasons), self.issuer)
        if evidence.kind == THAI_ID_CARD and person.get("card_revoked"):
            return _result(MISMATCH, (CARD_REVOKED,), self.issuer)
        if evidence.kind == PASSPORT and person["passport"].get("revoked"):
            return _result(MISMATCH, (PASSPORT_REVOKED,), self.issuer)
        record = {name: person.get(name) for name in RECORD_FIELDS}
        record["national_id"] = normalise_national_id(person["national_id"])
        return _result(MATCH, (), self.issuer, record)

    @staticmethod
    def _names_agree(evidence: Evidence, person: Mapping[str, Any]) -> bool:
        if not (same_name(evidence.given_name, person["given_name"])
                and same_name(evidence.family_name, person["family_name"])):
            return False
        for name in ("given_name_th", "family_name_th"):
            typed = getattr(evidence, name)
            if typed and typed.strip() and person.get(name) and not same_name(typed, person[name]):
                return False
        return True


class _Retry(Exception):
    """A transient failure (connection error, 5xx, 429): worth another attempt."""


class _GiveUp(Exception):
    """A failure that another attempt will not fix; ``reason`` is the code to report."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class HttpRegistry:
    """A registry gateway reached with JSON over HTTPS (``docs/registry-api.md``).

    Settings (read from the config mapping): ``PROOFING_REGISTRY_URL`` (https://, or http:// to a
    loopback host for tests), ``PROOFING_REGISTRY_TIMEOUT`` (seconds, for connecting and for each
    read; default 5), ``PROOFING_REGISTRY_RETRIES`` (extra attempts after connection errors, 5xx and
    429; default 2), ``PROOFING_REGISTRY_BACKOFF`` (first back-off in seconds, doubled each retry;
    default 0.5), ``PROOFING_REGISTRY_CLIENT_CERT`` and ``PROOFING_REGISTRY_CLIENT_KEY`` (PEM files
    for mutual TLS), ``PROOFING_REGISTRY_CA`` (CA bundle that signs the gateway's certificate;
    the system store when unset).

    A read timeout is not retried: the gateway is up but slow, and asking again would double the
    applicant's wait and the gateway's load. An attempt waits at most ``timeout`` to connect and
    ``timeout`` for the answer to start, and refuses an answer that took longer than ``timeout``
    to arrive in full, so a lookup normally ends within about
    ``(retries + 1) × 2 × timeout + backoff × (2^retries − 1)`` seconds. (An answer trickling in,
    each byte just inside the timeout, is only refused once it is complete, and is at most 64 KiB.)
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        url = config.get("PROOFING_REGISTRY_URL")
        if not url or not isinstance(url, str):
            raise ValueError("PROOFING_REGISTRY_URL must be set to use HttpRegistry")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"PROOFING_REGISTRY_URL must be an absolute https:// URL, got {url!r}")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("PROOFING_REGISTRY_URL must use https:// (http:// only to a loopback host)")
        if parts.username or parts.password:
            raise ValueError("PROOFING_REGISTRY_URL must not carry credentials; use a client certificate")
        self.url = url
        self.issuer = parts.hostname  # who we asked, for results the registry itself did not give
        self.timeout = float(config.get("PROOFING_REGISTRY_TIMEOUT", DEFAULT_TIMEOUT))
        self.retries = int(config.get("PROOFING_REGISTRY_RETRIES", DEFAULT_RETRIES))
        self.backoff = float(config.get("PROOFING_REGISTRY_BACKOFF", DEFAULT_BACKOFF))
        if self.timeout <= 0 or self.retries < 0 or self.backoff < 0:
            raise ValueError("PROOFING_REGISTRY_TIMEOUT must be > 0, RETRIES and BACKOFF >= 0")
        cert = config.get("PROOFING_REGISTRY_CLIENT_CERT")
        key = config.get("PROOFING_REGISTRY_CLIENT_KEY")
        ca = config.get("PROOFING_REGISTRY_CA")
        if key and not cert:
            raise ValueError("PROOFING_REGISTRY_CLIENT_KEY needs PROOFING_REGISTRY_CLIENT_CERT")
        for name, path in (("CLIENT_CERT", cert), ("CLIENT_KEY", key), ("CA", ca)):
            if path and not Path(path).is_file():
                raise ValueError(f"PROOFING_REGISTRY_{name}: {path!r} is not a readable file")
        # requests takes (cert, key), or one PEM file holding both.
        self.cert: tuple[str, str] | str | None = (str(cert), str(key)) if key else (str(cert) if cert else None)
        self.verify_tls: str | bool = str(ca) if ca else True

    def verify(self, evidence: Evidence) -> RegistryResult:
        try:
            if evidence_errors(evidence):
                return _result(NOT_FOUND, (INVALID_EVIDENCE,), self.issuer)
            body = {"evidence": evidence.as_json()}
        except Exception as exc:  # not even an Evidence: still an outcome, never a 500
            log.error("proofing registry: unusable evidence object (%s)", type(exc).__name__)
            return _result(NOT_FOUND, (INVALID_EVIDENCE,), self.issuer)
        request_id = uuid.uuid4().hex
        attempts = self.retries + 1
        for attempt in range(attempts):
            if attempt:
                _sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._ask(body, request_id)
            except _Retry as exc:
                log.warning("proofing registry %s: %s (attempt %d of %d, request %s)",
                            self.issuer, exc, attempt + 1, attempts, request_id)
            except _GiveUp as exc:
                log.warning("proofing registry %s: %s (request %s)", self.issuer, exc, request_id)
                return _result(UNAVAILABLE, (exc.reason,), self.issuer)
            except Exception as exc:  # anything unforeseen: unavailable, never raised
                log.error("proofing registry %s: unexpected %s (request %s)",
                          self.issuer, type(exc).__name__, request_id)
                return _result(UNAVAILABLE, (REGISTRY_ERROR,), self.issuer)
        return _result(UNAVAILABLE, (REGISTRY_UNAVAILABLE,), self.issuer)

    def _ask(self, body: dict[str, Any], request_id: str) -> RegistryResult:
        """One attempt: a result, or :class:`_Retry` / :class:`_GiveUp`."""
        headers = {"Accept": "application/json", "X-Request-ID": request_id}
        with requests.Session() as session:  # closed each time: no sockets outlive the lookup
            try:
                response = session.post(self.url, json=body, headers=headers, timeout=self.timeout,
                                        cert=self.cert, verify=self.verify_tls, stream=True,
                                        allow_redirects=False)  # never re-send evidence elsewhere
            except requests.exceptions.SSLError as exc:
                raise _GiveUp(REGISTRY_UNAVAILABLE, "TLS failure") from exc
            except requests.exceptions.ConnectionError as exc:  # includes ConnectTimeout
                raise _Retry(type(exc).__name__) from exc
            except requests.exceptions.RequestException as exc:  # ReadTimeout and the rest
                raise _GiveUp(REGISTRY_UNAVAILABLE, type(exc).__name__) from exc
            with response:
                status = response.status_code
                if status >= 500 or status == 429:
                    raise _Retry(f"HTTP {status}")
                if status != 200:
                    raise _GiveUp(REGISTRY_ERROR, f"HTTP {status}")
                try:
                    raw = _read_capped(response, MAX_RESPONSE_BYTES, time.monotonic() + self.timeout)
                except requests.exceptions.RequestException as exc:
                    raise _GiveUp(REGISTRY_UNAVAILABLE, f"reading the answer: {type(exc).__name__}") from exc
        result = _parse_answer(raw)
        if result is None:
            raise _GiveUp(REGISTRY_ERROR, "malformed answer")
        return result


def _read_capped(response: requests.Response, limit: int, deadline: float) -> bytes:
    """The body, refused past ``limit`` bytes or (for an answer trickling in) past ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=8192):
        size += len(chunk)
        if size > limit:
            raise _GiveUp(REGISTRY_ERROR, f"answer larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise _GiveUp(REGISTRY_UNAVAILABLE, "answer too slow")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_answer(raw: bytes) -> RegistryResult | None:
    """The registry's JSON answer as a result, or None when it does not follow the format."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    outcome = data.get("outcome")
    reasons = data.get("reasons", [])
    issuer = data.get("issuer")
    if outcome not in OUTCOMES or not isinstance(reasons, list) or len(reasons) > _MAX_REASONS:
        return None
    if not all(isinstance(r, str) and _REASON.fullmatch(r) for r in reasons):
        return None
    if not isinstance(issuer, str) or not issuer.strip() or len(issuer) > _MAX_FIELD:
        return None
    record = None
    if outcome == MATCH:
        record = _clean_record(data.get("record"))
        if record is None:
            return None
    if outcome == UNAVAILABLE and REGISTRY_UNAVAILABLE not in reasons:
        reasons = [REGISTRY_UNAVAILABLE, *reasons]
    return _result(outcome, tuple(reasons), issuer.strip(), record)


def _clean_record(value: Any) -> dict[str, Any] | None:
    """The known fields of a registry record, checked; None when one is missing or malformed."""
    if not isinstance(value, dict):
        return None
    record: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        item = value.get(name)
        if item is not None and (not isinstance(item, str) or len(item) > _MAX_FIELD):
            return None
        record[name] = item.strip() if isinstance(item, str) and item.strip() else None
    if any(not record[name] for name in _REQUIRED_RECORD_FIELDS):
        return None
    if _iso_date(record["birthdate"]) is None:
        return None
    if record["national_id"] is not None:
        if not valid_national_id(record["national_id"]):
            return None
        record["national_id"] = normalise_national_id(record["national_id"])
    return record
