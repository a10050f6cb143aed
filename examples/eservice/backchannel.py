"""Back-channel logout, the e-Service's side (OpenID Connect Back-Channel Logout 1.0 §2.5-2.8).

When the citizen's Digital ID session ends (they sign out at the IdP, support disables the
account, the password is reset ...), the IdP POSTs a logout token to ``/backchannel-logout``.
The token is checked as §2.6 says, with joserfc against the IdP's published keys, and every
session of this e-Service signed in through that IdP session (same ``sid``) ends.

This demo keeps its sessions in signed cookies, which the IdP's request cannot reach. So the
e-Service remembers, on the server, which IdP sessions (``sid``) ended, and a cookie session that
names one of them is cleared on its next request: that is what ending it means here. A real
e-Service with several processes keeps this in its shared store (database, Redis) instead of in
memory, or keeps its sessions server-side keyed by ``sid`` and deletes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
from flask import current_app
from flask import jsonify
from flask import request
from flask import session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from .errors import EServiceError
from .provider import idp
from .provider import provider_metadata

EVENT = "http://schemas.openid.net/event/backchannel-logout"
ALGORITHMS = ["RS256", "ES256", "PS256"]
LEEWAY = 60  # seconds of clock difference allowed on iat and exp
REMEMBER = 24 * 3600  # an ended sid is remembered this long (longer than this e-Service's sessions)


class LogoutTokenError(ValueError):
    """The logout token fails one of §2.6's checks (the message says which)."""

    def __init__(self, message: str, *, signature: bool = False) -> None:
        super().__init__(message)
        self.signature = signature  # the signature did not check out (perhaps a key we have not fetched)


class EndedSessions:
    """The IdP sessions (``sid``) and people (``sub`` without ``sid``) logged out, with when."""

    def __init__(self) -> None:
        self._sids: dict[str, float] = {}
        self._subs: dict[str, float] = {}
        self._jtis: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, claims: Mapping[str, Any]) -> None:
        now = time.time()
        with self._lock:
            self._prune(now)
            if "sid" in claims:
                self._sids[str(claims["sid"])] = now
            else:  # §2.4: without sid, every session of that person at this e-Service
                self._subs[str(claims["sub"])] = now

    def replayed(self, jti: str, exp: float) -> bool:
        """Whether this ``jti`` was seen before (§2.6 item 10, "MAY"); remembered until it expires."""
        with self._lock:
            if jti in self._jtis:
                return True
            self._jtis[jti] = exp
            return False

    def has_ended(self, claims: Mapping[str, Any]) -> bool:
        """Whether the sign-in these ID token claims describe was logged out since."""
        with self._lock:
            if claims.get("sid") is not None and str(claims["sid"]) in self._sids:
                return True
            ended = self._subs.get(str(claims.get("sub")))
            return ended is not None and float(claims.get("iat", 0)) <= ended

    def _prune(self, now: float) -> None:
        for store in (self._sids, self._subs):
            for key in [k for k, at in store.items() if at < now - REMEMBER]:
                del store[key]
        for key in [k for k, exp in self._jtis.items() if exp < now - LEEWAY]:
            del self._jtis[key]


def ended_sessions() -> EndedSessions:
    found: EndedSessions = current_app.extensions["eservice.ended_sessions"]
    return found


def verify_logout_token(token: str, *, keys: KeySet, issuer: str, client_id: str,
                        now: float | None = None) -> dict[str, Any]:
    """§2.6: the checks an RP makes on a logout token before acting on it; its claims.

    :raises LogoutTokenError: any check fails
    """
    now = time.time() if now is None else now
    try:
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenError(f"not a JWT signed by the IdP ({exc.__class__.__name__})", signature=True) from exc
    if decoded.header.get("typ") != "logout+jwt":  # §2.4: explicitly typed, so no other JWT passes for one
        raise LogoutTokenError("typ is not logout+jwt")
    claims = dict(decoded.claims)
    aud = claims.get("aud")
    if claims.get("iss") != issuer:
        raise LogoutTokenError("iss is not the IdP")
    if aud != client_id and not (isinstance(aud, list) and client_id in aud):
        raise LogoutTokenError("aud is not this e-Service")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or iat > now + LEEWAY:
        raise LogoutTokenError("iat is missing or in the future")
    if not isinstance(exp, int | float) or exp < now - LEEWAY:
        raise LogoutTokenError("the token has expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise LogoutTokenError("events does not hold the back-channel logout event")
    if "nonce" in claims:  # §2.4: "A nonce Claim MUST NOT be present": an ID token is refused here
        raise LogoutTokenError("a logout token has no nonce")
    if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("sub"), str):
        raise LogoutTokenError("neither sid nor sub")
    if not isinstance(claims.get("jti"), str):
        raise LogoutTokenError("jti is missing")
    return claims


def _keys(refresh: bool) -> KeySet:
    return KeySet.import_key_set(idp().fetch_jwk_set(force=refresh))


def receive() -> tuple[Response, int]:
    """``POST /backchannel-logout``: 200 when the sessions were ended, 400 with the reason (§2.8)."""
    token = request.form.get("logout_token", "")
    config = current_app.config
    expected = {"issuer": config["ESERVICE_ISSUER"], "client_id": config["ESERVICE_CLIENT_ID"]}
    try:
        if not token:
            raise LogoutTokenError("logout_token is missing")
        provider_metadata()
        try:
            claims = verify_logout_token(token, keys=_keys(refresh=False), **expected)
        except LogoutTokenError as exc:
            if not exc.signature:
                raise
            # Perhaps signed with a key the IdP added since we fetched its keys: fetch them once more.
            claims = verify_logout_token(token, keys=_keys(refresh=True), **expected)
        if ended_sessions().replayed(claims["jti"], float(claims["exp"])):
            raise LogoutTokenError("this logout token was already used")
    except LogoutTokenError as exc:
        return _answer({"error": "invalid_request", "error_description": str(exc)}), 400
    except (requests.RequestException, RuntimeError, ValueError, EServiceError):
        # The IdP's keys could not be had: not the token's fault. The IdP tries again later.
        return _answer({"error": "temporarily_unavailable"}), 503
    ended_sessions().end(claims)
    return _answer({}), 200


def _answer(body: dict[str, str]) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"  # §2.8
    return response


def end_if_logged_out() -> None:
    """Before each request: a session whose IdP session was logged out ends here too."""
    claims = session.get("claims")
    if claims and ended_sessions().has_ended(claims):
        session.clear()
