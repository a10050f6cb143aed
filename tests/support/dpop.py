"""A DPoP client for tests (RFC 9449): a key of its own, and a proof per request, made with joserfc."""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey
from joserfc.jwk import Key
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey

from idp.oidc.dpop import ath_for

ISSUER = "http://localhost"


def new_key(alg: str = "ES256") -> Key:
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "PS256":
        return RSAKey.generate_key(2048)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    raise ValueError(alg)


def sign(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str) -> str:
    with warnings.catch_warnings():  # joserfc warns about EdDSA (RFC 9864) and none
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(header, claims, key, algorithms=[alg])


@dataclass
class DPoPKey:
    """One client key: ``proof(...)`` signs a proof for one request; ``nonce`` is the last one the server gave."""

    alg: str = "ES256"
    key: Any = None
    nonce: str | None = None
    header_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.key is None:
            self.key = new_key(self.alg)

    @property
    def jkt(self) -> str:
        return str(self.key.thumbprint())

    def proof(self, method: str, url: str, *, access_token: str | None = None, iat: int | None = None,
              jti: str | None = None, nonce: str | None = None, header: dict[str, Any] | None = None,
              **claims: Any) -> str:
        body: dict[str, Any] = {"jti": secrets.token_urlsafe(16) if jti is None else jti, "htm": method,
                                "htu": url if "://" in url else ISSUER + url,
                                "iat": int(time.time()) if iat is None else iat}
        if access_token is not None:
            body["ath"] = ath_for(access_token)
        if (nonce or self.nonce) is not None:
            body["nonce"] = nonce or self.nonce
        body.update(claims)
        head = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.key.as_dict(private=False)}
        head.update(self.header_extra)
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not None}  # None: leave the member out
        return sign(head, body, self.key, str(head.get("alg", self.alg)))

    def remember(self, response: Any) -> Any:
        """Keep the server's ``DPoP-Nonce`` for the next proof, as a client does."""
        if response.headers.get("DPoP-Nonce"):
            self.nonce = response.headers["DPoP-Nonce"]
        return response
