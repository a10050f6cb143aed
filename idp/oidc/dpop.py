"""DPoP proofs (RFC 9449): the rules, with no Flask and no database.

A DPoP proof is a JWT the client signs with a key of its own for one HTTP request; the
public key travels in the proof's header, and tokens issued or used with it are bound to that
key's RFC 7638 thumbprint (``jkt``). A stolen token is then useless without the private key.
This module checks one proof against the request it came with (:func:`verify_proof`), makes
and recognises server nonces (:func:`nonce_for`), and computes ``ath`` and ``jkt``.
joserfc does every JOSE operation; nothing here parses or verifies signatures by hand.

Errors (one root, a subclass per answer the client gets)::

    DPoPError
     ├── InvalidProof    -> invalid_dpop_proof (RFC 9449 §5, §7.1)
     └── NonceNeeded     -> use_dpop_nonce (RFC 9449 §8, §9)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import ECKey
from joserfc.jwk import Key
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey
from joserfc.jwk import import_key
from joserfc.jws import JWSRegistry

#: RFC 9449 §4.2: asymmetric algorithms only ("MUST NOT be none or an identifier for a symmetric
#: algorithm"); the FAPI 2.0 Security Profile §5.4 allows PS256, ES256 and EdDSA.
ALGORITHMS = ("ES256", "PS256", "EdDSA")
PROOF_TYPE = "dpop+jwt"
#: Members of a JWK that only a private (or symmetric) key has (RFC 7518 §6, RFC 8037 §2).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
KEY_TYPES = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}
MIN_RSA_BITS = 2048
MAX_PROOF_LENGTH = 4096
MAX_JTI_LENGTH = 255
#: RFC 9449 §10: the ``dpop_jkt`` authorization request parameter, a base64url SHA-256 thumbprint.
JKT_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]")


class DPoPError(Exception):
    """A proof that cannot be accepted; ``error`` is the code the client receives."""

    error = "invalid_dpop_proof"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidProof(DPoPError):
    """RFC 9449 §4.3: one of the checks failed; the message says which."""


class NonceNeeded(DPoPError):
    """RFC 9449 §8: the proof must carry the server's current nonce (sent in ``DPoP-Nonce``)."""

    error = "use_dpop_nonce"


@dataclass(frozen=True)
class VerifiedProof:
    """What a verified proof establishes: the key (``jkt``) and the values kept against replay."""

    jkt: str
    jti: str
    iat: int


class _QuietEdDSA(EdDSAAlgorithm):
    """joserfc's EdDSA without its RFC 9864 deprecation warning.

    RFC 9449 clients (openid-client among them) sign proofs with ``alg: EdDSA``; the key is
    held to Ed25519 in :func:`_public_key`, which is what RFC 9864's ``Ed25519`` names.
    """

    security_warning = None  # type: ignore[assignment]


class _ProofRegistry(JWSRegistry):
    """joserfc's registry sized for proofs: an RSA public key in the header passes 512 bytes."""

    max_header_length = 2048
    max_payload_length = 2048
    algorithms = {**JWSRegistry.algorithms, "EdDSA": _QuietEdDSA()}


_REGISTRY = _ProofRegistry(algorithms=list(ALGORITHMS))


def b64url_sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode("ascii")).digest()).rstrip(b"=").decode()


def ath_for(access_token: str) -> str:
    """RFC 9449 §4.2: ``ath`` is the base64url SHA-256 of the access token's ASCII octets."""
    return b64url_sha256(access_token)


def normalise_url(url: str) -> str:
    """``url`` without query and fragment, normalised per RFC 9449 §4.3 (RFC 3986 §6.2.2, §6.2.3).

    Scheme and host lower-cased, the scheme's default port dropped, an empty path made ``/``,
    percent-encodings upper-cased and unreserved characters decoded. Both the proof's ``htu``
    and the endpoint's URL go through it, so equivalent spellings compare equal.

    :raises InvalidProof: ``url`` is not an absolute http(s) URL
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidProof("The proof's htu is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidProof("The proof's htu must be an absolute http or https URL.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
    path = re.sub(r"%[0-9A-Fa-f]{2}", _normalise_escape, parts.path) or "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def _normalise_escape(match: re.Match[str]) -> str:
    char = unquote(match.group(0))
    return char if _UNRESERVED.fullmatch(char) else match.group(0).upper()


def nonce_for(secret: bytes, *, now: float, lifetime: int, windows_back: int = 0) -> str:
    """The server nonce of the time window ``now`` falls in (or one ``windows_back`` before).

    An HMAC of the window's number under the server's secret: every instance computes the same
    nonce without sharing state, and a new one starts each ``lifetime`` seconds (RFC 9449 §8:
    "nonce values ... unpredictable", the server decides how long they last).
    """
    window = int(now // lifetime) - windows_back
    mac = hmac.new(secret, f"dpop-nonce:{window}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).rstrip(b"=").decode()


def accepted_nonces(secret: bytes, *, now: float, lifetime: int) -> tuple[str, str]:
    """The current window's nonce and the previous one's: a nonce handed out just before the
    window turned still works for one more ``lifetime``."""
    return (nonce_for(secret, now=now, lifetime=lifetime),
            nonce_for(secret, now=now, lifetime=lifetime, windows_back=1))


def check_jkt_parameter(value: str) -> str:
    """The ``dpop_jkt`` authorization request parameter (RFC 9449 §10), if well formed.

    :raises InvalidProof: not a base64url SHA-256 thumbprint
    """
    if not JKT_PATTERN.fullmatch(value):
        raise InvalidProof("dpop_jkt must be the base64url SHA-256 JWK thumbprint (43 characters).")
    return value


def verify_proof(proof: str, *, expected_method: str, expected_url: str, now: float, window: int,
                 access_token: str | None = None, nonces: Collection[str] = (),
                 nonce_required: bool = False) -> VerifiedProof:
    """Check a DPoP proof against the request it came with (RFC 9449 §4.3).

    :param expected_method: the request's HTTP method (``htm``)
    :param expected_url: the endpoint's URL (``htu``, compared after :func:`normalise_url`)
    :param now: the server's time, in seconds since the epoch
    :param window: how far ``iat`` may be from ``now``, either way, in seconds
    :param access_token: at a resource, the token presented with the proof (``ath``)
    :param nonces: the server nonces accepted now (:func:`accepted_nonces`)
    :param nonce_required: a proof without a nonce is refused with ``use_dpop_nonce``
    :raises InvalidProof: the proof fails a check
    :raises NonceNeeded: the proof lacks a current nonce and one is required, or has a stale one
    """
    if not proof or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidProof("The DPoP proof is missing or too long.")
    try:
        header = jws.extract_compact(proof.encode("ascii"), registry=_REGISTRY).protected
    except (JoseError, ValueError, TypeError, RecursionError, UnicodeError) as exc:
        raise InvalidProof("The DPoP proof is not a signed JWT.") from exc
    if header.get("typ") != PROOF_TYPE:
        raise InvalidProof(f"The DPoP proof's typ must be {PROOF_TYPE}.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise InvalidProof(f"The DPoP proof's alg must be one of {', '.join(ALGORITHMS)}.")
    key = _public_key(header.get("jwk"), alg=str(alg))
    try:
        claims = jwt.decode(proof, key, algorithms=[str(alg)], registry=_REGISTRY).claims
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise InvalidProof("The DPoP proof's signature does not verify with its jwk.") from exc
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidProof("The DPoP proof needs a jti (a unique string of at most 255 characters).")
    if claims.get("htm") != expected_method:
        raise InvalidProof("The DPoP proof's htm is not the method of this request.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalise_url(htu) != normalise_url(expected_url):
        raise InvalidProof("The DPoP proof's htu is not the URL of this endpoint.")
    iat = claims.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise InvalidProof("The DPoP proof needs an integer iat.")
    if abs(now - iat) > window:
        raise InvalidProof(f"The DPoP proof's iat is more than {window} seconds from the server's time.")
    _check_nonce(claims.get("nonce"), nonces=nonces, required=nonce_required)
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, ath_for(access_token)):
            raise InvalidProof("The DPoP proof's ath is not the hash of the access token sent with it.")
    return VerifiedProof(jkt=key.thumbprint(), jti=jti, iat=iat)


def _public_key(jwk: Any, *, alg: str) -> Key:
    """The proof's ``jwk`` header as a public key fit for ``alg`` (RFC 9449 §4.2: "MUST NOT
    contain a private key")."""
    if not isinstance(jwk, dict) or jwk.get("kty") not in KEY_TYPES:
        raise InvalidProof("The DPoP proof needs a jwk header with a public EC, RSA or OKP key.")
    if PRIVATE_MEMBERS & set(jwk):
        raise InvalidProof("The DPoP proof's jwk contains private key material.")
    try:
        key = import_key(jwk, jwk["kty"])
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidProof("The DPoP proof's jwk is not a valid key.") from exc
    if key.is_private:
        raise InvalidProof("The DPoP proof's jwk contains private key material.")
    if isinstance(key, RSAKey) and key.public_key.key_size < MIN_RSA_BITS:
        raise InvalidProof(f"The DPoP proof's RSA key must have at least {MIN_RSA_BITS} bits.")
    if alg == "EdDSA" and (not isinstance(key, OKPKey) or key.get("crv") != "Ed25519"):
        raise InvalidProof("An EdDSA DPoP proof needs an Ed25519 key.")
    return key


def _check_nonce(nonce: Any, *, nonces: Collection[str], required: bool) -> None:
    if nonce is None:
        if required:
            raise NonceNeeded("Authorization server requires nonce in DPoP proof.")
        return
    if not isinstance(nonce, str) or not any(hmac.compare_digest(nonce, n) for n in nonces):
        raise NonceNeeded("The DPoP proof's nonce is not current; use the one in the DPoP-Nonce header.")
