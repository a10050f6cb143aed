"""``private_key_jwt`` client authentication (OIDC Core §9, RFC 7523) with the IdP's own limits."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from flask import request
from flask import url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import GuestProtocol
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError

from idp import outbound
from idp.db import get_session
from idp.db import utc_now
from idp.oidc import fapi
from idp.oidc.models import Client
from idp.oidc.models import UsedAssertion
from idp.oidc.storage import query_client

# What a client may sign its assertion with (token_endpoint_auth_signing_alg_values_supported);
# joserfc would otherwise take only its "recommended" RS256, ES256 and HS256.
ASSERTION_ALGS = ["RS256", "ES256", "PS256"]


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        """The ``aud`` values that name this server for the endpoint being called.

        RFC 7523 §3: ``aud`` identifies the authorization server, and "the token endpoint URL
        of the authorization server MAY be used"; OIDC Core §9: it "SHOULD be the URL of the
        Authorization Server's Token Endpoint". So: the issuer or the token endpoint,
        everywhere. At introspection (RFC 7662) and revocation (RFC 7009), where a client
        authenticates the same way, that endpoint's own URL is accepted too (RP libraries such
        as Authlib put the URL they post to in ``aud``); never another endpoint's URL.
        """
        issuer = current_app.config["ISSUER"]
        accepted = [issuer, issuer + url_for("oidc.token")]
        # RFC 9126 §2: the PAR endpoint "MUST accept its issuer identifier, token endpoint URL, or
        # pushed authorization request endpoint URL".
        if request.endpoint in ("oidc.introspect", "oidc.revoke", "oidc.par"):
            accepted.append(issuer + url_for(request.endpoint))
        return accepted

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """Authlib's, with the algorithms named: PS256 and ES256 only for a FAPI 2.0 client
        (FAPI 2.0 §5.4.1), and RS256 as well for the others."""
        # The client named by ``sub`` (read before the signature, as Authlib does) picks the rules.
        headers, claims = self.extract_assertion(assertion)
        client = query_client(claims.get("sub"))
        if client is not None and client.fapi:
            alg = headers.get("alg")
            if alg not in fapi.ASSERTION_ALGS:
                raise InvalidClientError(description=f"A FAPI 2.0 client signs its assertion with PS256 or ES256, "
                                                     f"not {str(alg)[:20]}.")
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except JoseError as exc:
            raise InvalidClientError(description=exc.description) from exc
        self.verify_claims(token.claims)
        return token.claims

    def extract_assertion(self, assertion: str) -> Any:
        """Authlib's, with JSON nested past Python's limit refused like any other bad JSON
        (Authlib and joserfc let ``RecursionError`` through, read before the signature)."""
        try:
            return super().extract_assertion(assertion)
        except RecursionError as exc:
            raise InvalidClientError(description="Invalid JWT assertion.") from exc

    def verify_claims(self, claims: Any) -> None:
        # FAPI 2.0 §5.3.2.1 item 8: "the issuer identifier value of the authorization server as a
        # string" is the only audience — not an array, not the token endpoint's URL.
        client = query_client(claims.get("sub"))
        if client is not None and client.fapi and claims.get("aud") != current_app.config["ISSUER"]:
            raise InvalidClientError(description="A FAPI 2.0 client's assertion must have the issuer identifier "
                                                 "as its aud, a single string.")
        # RFC 7523 §3 item 3: every audience must be this server; an array that also names
        # someone else is an assertion made for them as well.
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if not audiences or not all(isinstance(a, str) and a in self.get_audiences() for a in audiences):
            raise InvalidClientError(description="The assertion's aud must be the issuer or the token endpoint URL.")
        # RFC 6749 §2.3 / RFC 7521 §4.2: a client_id sent beside the assertion must be the same client.
        client_id = request.form.get("client_id")
        if client_id is not None and client_id != claims.get("sub"):
            raise InvalidClientError(description="The client_id parameter is not the assertion's iss and sub.")
        exp = claims.get("exp")
        limit = int(current_app.config["CLIENT_ASSERTION_MAX_LIFETIME"])
        if not isinstance(exp, int) or exp > time.time() + limit:
            raise InvalidClientError(description=f"The assertion's exp must be at most {limit} seconds ahead.")
        super().verify_claims(claims)

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        """RFC 7523 §3 item 7: a ``jti`` is accepted once. It is remembered until the assertion
        itself expires (its ``exp`` plus the clock-skew leeway), whatever the lifetime cap says,
        so no setting can make a copied assertion usable twice."""
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            return False
        db = get_session()
        until = dt.datetime.fromtimestamp(int(claims["exp"]) + self.leeway, dt.UTC)
        db.add(UsedAssertion(client_id=str(claims["sub"]), jti=jti, expires_at=max(until, utc_now())))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            return False
        return True

    def resolve_client_public_key(self, client: Client) -> KeySet | Callable[[GuestProtocol], KeySet]:
        meta = client.client_metadata
        if meta.get("jwks"):
            return KeySet.import_key_set(meta["jwks"])  # type: ignore[arg-type]
        if meta.get("jwks_uri"):
            # joserfc calls this with the assertion's header, so the key set is fetched knowing the kid.
            return lambda token: keys_from_jwks_uri(client, kid=token.headers().get("kid"))
        raise InvalidClientError(description="The client has no registered keys.")


def keys_from_jwks_uri(client: Client, *, kid: Any) -> KeySet:
    """The client's keys from its ``jwks_uri``, through the outbound fetcher and its caches.

    A ``kid`` missing from the cached set fetches the set again (the client rotated its keys,
    OIDC Core §10.1.1), but at most once per ``OUTBOUND_KEY_REFETCH_INTERVAL`` per client. This runs
    at ``/token`` before the client is authenticated, so anyone who knows a ``client_id`` can
    trigger it: the success cache, the failure cache, one fetch in flight per URL and this limit
    keep that to a few fetches a minute per client, whatever they send (docs/security.md#fetcher).

    :raises InvalidClientError: the set could not be fetched or used, or has no key ``kid``
    """
    uri = str(client.client_metadata["jwks_uri"])
    fetcher = outbound.fetcher()
    interval = float(current_app.config["OUTBOUND_KEY_REFETCH_INTERVAL"])
    try:
        keys = _key_set(fetcher.fetch_json(uri, media_types=outbound.JWK_SET))
        if isinstance(kid, str) and not _has_kid(keys, kid) and fetcher.may_refresh(client.client_id, every=interval):
            keys = _key_set(fetcher.fetch_json(uri, media_types=outbound.JWK_SET, refresh=True))
    except outbound.FetchError as exc:
        raise InvalidClientError(description=f"The client's jwks_uri could not be used: {exc}") from exc
    if isinstance(kid, str) and not _has_kid(keys, kid):
        raise InvalidClientError(description=f"The client's jwks_uri has no key with kid {kid[:100]!r}.")
    return keys


def _key_set(document: Any) -> KeySet:
    try:
        return KeySet.import_key_set(document)
    except (JoseError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise outbound.BadResponse("the document is not a JWK Set.") from exc


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys)

