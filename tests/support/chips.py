"""Chip reads for tests: the data groups of a FICTITIOUS card, signed by the test card issuer.

The issuer's private key lives here, under tests/, never in the package; the IdP trusts its public
half only when ``PROOFING_CHIP_ISSUERS_JWKS`` names ``ISSUERS_JWKS`` (docs/face-api.md).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey

FACES = Path(__file__).resolve().parent / "faces"
ISSUERS_JWKS = FACES / "chip-issuers.jwks.json"
ISSUER_KEY = ECKey.import_key(json.loads((FACES / "chip-issuer-private.jwk.json").read_text()))
CHIP_PHOTO = b"\xff\xd8\xff\xe0FICTITIOUS chip photo\xff\xd9"
SOMCHAI_LIVE = (FACES / "somchai-live.jpg").read_bytes()
SOMCHAI_SPOOF = (FACES / "somchai-spoof.jpg").read_bytes()
SOMSRI_LIVE = (FACES / "somsri-live.jpg").read_bytes()

SOMCHAI_CHIP = {
    "cid": "1999900001010", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
    "given_name_en": "Somchai", "family_name_en": "Jaidee", "birthdate": "1985-03-14",
    "date_of_issuance": "2020-01-01", "date_of_expiry": "2029-01-01",
    "photo": base64.b64encode(CHIP_PHOTO).decode(),
}


def chip_jws(key: ECKey = ISSUER_KEY, kid: str | None = "demo-card-issuer", **changes: Any) -> str:
    """The compact JWS of Somchai's chip (with ``changes``), signed by ``key``."""
    header = {"alg": "ES256", **({"kid": kid} if kid else {})}
    return jws.serialize_compact(header, json.dumps({**SOMCHAI_CHIP, **changes}).encode(), key)


def chip_document(key: ECKey = ISSUER_KEY, kid: str | None = "demo-card-issuer", **changes: Any) -> bytes:
    """What the Digital ID app (or the counter's reader) submits."""
    return json.dumps({"format": "th-id-chip/1", "jws": chip_jws(key, kid, **changes)}).encode()
