"""A Thai ID card's chip, read over NFC by a mobile app or by the officer's reader at a counter.

The card's chip holds the holder's data (number, names in Thai and English, dates) and photo,
signed by the card issuer, so a genuine read proves the card is genuine (OIDC4IDA ``vcrypt``, the
"chip" of ETDA IAL 2.3). DOPA's applet and its signing scheme are not public, so the IdP models a
read as a JWS (docs/face-api.md, "Chip reads"): the reader submits

    {"format": "th-id-chip/1", "jws": "<compact JWS>"}

whose payload is the data groups as JSON, signed by a card-issuer key from the JWKS file
``PROOFING_CHIP_ISSUERS_JWKS``. joserfc verifies the signature; this module then checks the data
and compares it with what the person typed and the registry answered. A read whose data differs
fails: the chip is the stronger source, and a difference means another card.

The photo is returned in memory, for the face comparison of the same request, and never stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import clock
from idp.proofing.face import image_ok
from idp.proofing.thai_id import normalise_national_id
from idp.proofing.thai_id import valid_national_id
from idp.proofing.verifiers import same_name

FORMAT = "th-id-chip/1"
ALGORITHMS = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_PHOTO_BYTES = 64 * 1024  # a card's chip holds a small JPEG (a few KB)

# Outcomes
VALID = "valid"
INVALID = "invalid"

# Reason codes
CHIP_MALFORMED = "chip_malformed"  # not the format, or a data group missing or malformed
CHIP_SIGNATURE_INVALID = "chip_signature_invalid"  # tampered, or not a JWS
CHIP_ISSUER_UNKNOWN = "chip_issuer_unknown"  # signed by a key the IdP does not trust
CHIP_EXPIRED = "chip_card_expired"
CHIP_DATA_MISMATCH = "chip_data_mismatch"  # the chip's data differs from the typed evidence or the registry
CHIP_NOT_CONFIGURED = "chip_not_configured"

_TEXT_FIELDS = ("cid", "given_name_th", "family_name_th", "given_name_en", "family_name_en")
_DATE_FIELDS = ("birthdate", "date_of_issuance", "date_of_expiry")


@dataclass(frozen=True)
class ChipData:
    """The data groups of a genuine read. Only ``issuer`` shows in ``repr``."""

    issuer: str  # the signing key's id (``kid``), naming the card issuer
    national_id: str = field(repr=False)
    given_name_th: str = field(repr=False)
    family_name_th: str = field(repr=False)
    given_name: str = field(repr=False)  # English, as printed
    family_name: str = field(repr=False)
    birthdate: str = field(repr=False)  # ISO 8601, Gregorian
    date_of_issuance: str = field(repr=False)
    date_of_expiry: str = field(repr=False)
    photo: bytes = field(repr=False)


@dataclass(frozen=True)
class ChipResult:
    """``valid`` with the data, or ``invalid`` with reason codes (and the data when it was genuine)."""

    outcome: str
    reasons: tuple[str, ...]
    data: ChipData | None = field(repr=False)
    checked_at: dt.datetime

    @property
    def valid(self) -> bool:
        return self.outcome == VALID


@dataclass(frozen=True)
class Expected:
    """What the chip must agree with: the person's typed evidence and the registry's record."""

    national_id: str = field(repr=False)
    given_name: str | None = field(repr=False)
    family_name: str | None = field(repr=False)
    given_name_th: str | None = field(repr=False)
    family_name_th: str | None = field(repr=False)
    birthdate: str | None = field(repr=False)


def load_issuers(config: Mapping[str, Any]) -> KeySet | None:
    """The card issuers' public keys (``PROOFING_CHIP_ISSUERS_JWKS``), or None: chip reads are off.

    Raises ``ValueError`` for a file that is not a JWKS of public keys, at start-up.
    """
    path = config.get("PROOFING_CHIP_ISSUERS_JWKS")
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = KeySet.import_key_set(data)
    except (OSError, ValueError, KeyError, JoseError) as exc:
        raise ValueError(f"PROOFING_CHIP_ISSUERS_JWKS: {path!r} is not a readable JWKS ({type(exc).__name__})") from exc
    if not keys.keys or any(key.is_private for key in keys.keys):
        raise ValueError("PROOFING_CHIP_ISSUERS_JWKS must hold the card issuer's public keys only")
    return keys


def trusted_issuers(extensions: dict[str, Any], config: Mapping[str, Any]) -> KeySet | None:
    """The card issuers' keys, loaded once per app (kept in ``app.extensions``; tests may replace them)."""
    if "idp.chip_issuers" not in extensions:
        extensions["idp.chip_issuers"] = load_issuers(config)
    return extensions["idp.chip_issuers"]  # type: ignore[no-any-return]


def read(document: bytes | str, *, issuers: KeySet | None, expected: Expected | None,
         today: dt.date | None = None) -> ChipResult:
    """Verify a chip read and compare it with ``expected``. Never raises on bad input."""
    if issuers is None:
        return _fail(CHIP_NOT_CONFIGURED)
    raw = document.encode() if isinstance(document, str) else document
    if len(raw) > MAX_DOCUMENT_BYTES:
        return _fail(CHIP_MALFORMED)
    try:
        outer = json.loads(raw)
    except (ValueError, RecursionError):
        return _fail(CHIP_MALFORMED)
    if not isinstance(outer, dict) or outer.get("format") != FORMAT or not isinstance(outer.get("jws"), str):
        return _fail(CHIP_MALFORMED)
    try:
        signed = jws.deserialize_compact(outer["jws"], issuers, algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        return _fail(CHIP_ISSUER_UNKNOWN)
    except (JoseError, ValueError, TypeError):
        return _fail(CHIP_SIGNATURE_INVALID)
    kid = signed.protected.get("kid")
    data = _data(signed.payload, issuer=str(kid) if isinstance(kid, str) and kid else "card issuer")
    if data is None:
        return _fail(CHIP_MALFORMED)
    today = today or clock.utc_now().date()
    if dt.date.fromisoformat(data.date_of_expiry) < today:
        return _fail(CHIP_EXPIRED, data)
    if expected is not None and not _agrees(data, expected):
        return _fail(CHIP_DATA_MISMATCH, data)
    return ChipResult(outcome=VALID, reasons=(), data=data, checked_at=clock.utc_now())


def _fail(reason: str, data: ChipData | None = None) -> ChipResult:
    return ChipResult(outcome=INVALID, reasons=(reason,), data=data, checked_at=clock.utc_now())


def _data(payload: bytes, *, issuer: str) -> ChipData | None:
    try:
        groups = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(groups, dict):
        return None
    for name in _TEXT_FIELDS:
        value = groups.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            return None
    for name in _DATE_FIELDS:
        value = groups.get(name)
        if not isinstance(value, str) or len(value) != 10:
            return None
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return None
    number = normalise_national_id(groups["cid"])
    if not valid_national_id(number):
        return None
    photo_text = groups.get("photo")
    if not isinstance(photo_text, str) or len(photo_text) > MAX_PHOTO_BYTES * 4 // 3 + 4:
        return None
    try:
        photo = base64.b64decode(photo_text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not image_ok(photo, MAX_PHOTO_BYTES):
        return None
    return ChipData(issuer=issuer[:64], national_id=number, given_name_th=groups["given_name_th"].strip(),
                    family_name_th=groups["family_name_th"].strip(), given_name=groups["given_name_en"].strip(),
                    family_name=groups["family_name_en"].strip(), birthdate=groups["birthdate"],
                    date_of_issuance=groups["date_of_issuance"], date_of_expiry=groups["date_of_expiry"], photo=photo)


def _agrees(data: ChipData, expected: Expected) -> bool:
    """Every detail known on both sides is the same (names as people type them: case and spaces aside)."""
    if data.national_id != normalise_national_id(expected.national_id):
        return False
    if expected.birthdate and expected.birthdate != data.birthdate:
        return False
    pairs = ((expected.given_name, data.given_name), (expected.family_name, data.family_name),
             (expected.given_name_th, data.given_name_th), (expected.family_name_th, data.family_name_th))
    return all(same_name(known, read_) for known, read_ in pairs if known)
