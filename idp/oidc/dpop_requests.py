"""DPoP at this IdP's endpoints: the proof of the current request, nonces, replay, who must use it.

:mod:`idp.oidc.dpop` holds the rules; this module feeds them the request (the ``DPoP`` header,
method, the endpoint's URL as discovery publishes it), the server's nonces, and records each
accepted proof's ``jti`` in the database so that "once" holds across instances (RFC 9449 §11.1).
The token endpoint (:mod:`idp.oidc.grants`), userinfo (:mod:`idp.oidc.endpoints`) and the
pushed authorization endpoint (:func:`jkt_for_pushed_request`) call it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import current_app
from flask import request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.db import get_session
from idp.oidc import dpop
from idp.oidc.models import Client
from idp.oidc.models import UsedDPoPProof

NONCE_HEADER = "DPoP-Nonce"
PROOF_HEADER = "DPoP"
PRUNE_EVERY = 200


class TokenEndpointDPoPError(OAuth2Error):
    """A DPoP failure at the token (or pushed authorization) endpoint: 400, with the current nonce.

    RFC 9449 §5: ``invalid_dpop_proof``; §8: ``use_dpop_nonce`` with the nonce in ``DPoP-Nonce``.
    """

    status_code = 400

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), (NONCE_HEADER, current_nonce())]


def fapi_profile(client: Client) -> str | None:
    """The client's ``fapi_profile`` (``"fapi2"`` or None), read from the model when it has the
    field and from the registered metadata otherwise."""
    value = getattr(client, "fapi_profile", None) or client.client_metadata.get("fapi_profile")
    return str(value) if value else None


def client_requires_dpop(client: Client) -> bool:
    """RFC 9449 §5.2: ``dpop_bound_access_tokens: true`` means "MUST reject token requests from
    this client that do not contain the DPoP header"; FAPI 2.0 clients are sender-constrained by DPoP."""
    return client.client_metadata.get("dpop_bound_access_tokens") is True or fapi_profile(client) == "fapi2"


def nonce_required(client: Client | None) -> bool:
    """Whether proofs must carry a server nonce: for every client by ``DPOP_NONCE_REQUIRED``, and
    for FAPI 2.0 clients always (RFC 9449 §8 leaves it to the server)."""
    setting = current_app.config["DPOP_NONCE_REQUIRED"]
    everyone = setting.strip().lower() in ("1", "true", "yes", "on") if isinstance(setting, str) else bool(setting)
    return everyone or (client is not None and fapi_profile(client) == "fapi2")


def _nonce_secret() -> bytes:
    # A key for nonces only, derived from the server's secret (never the secret itself).
    return hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"idp dpop nonce", hashlib.sha256).digest()


def current_nonce() -> str:
    """The nonce to hand out now (``DPoP-Nonce``); the same on every instance."""
    lifetime = int(current_app.config["DPOP_NONCE_LIFETIME"])
    return dpop.nonce_for(_nonce_secret(), now=clock.timestamp(), lifetime=lifetime)


def endpoint_url() -> str:
    """This request's endpoint as discovery publishes it (issuer + path), the ``htu`` to expect."""
    return str(current_app.config["ISSUER"]) + request.script_root + request.path


def sent_proof() -> bool:
    return PROOF_HEADER in request.headers


def check_proof(*, client: Client | None, access_token: str | None = None) -> dpop.VerifiedProof | None:
    """Verify the request's DPoP proof, if it has one, and record its ``jti``; None without one.

    :param client: the client the request is from or the token belongs to (nonce rules, audit)
    :param access_token: at a resource, the token sent with the proof (``ath``)
    :raises dpop.DPoPError: the proof is invalid, replayed, or lacks a current nonce
    """
    proofs = request.headers.getlist(PROOF_HEADER)
    if not proofs:
        return None
    if len(proofs) > 1:  # RFC 9449 §4.3 item 1
        raise dpop.InvalidProof("Send exactly one DPoP header.")
    cfg = current_app.config
    now = clock.timestamp()
    window = int(cfg["DPOP_PROOF_WINDOW"])
    nonces = dpop.accepted_nonces(_nonce_secret(), now=now, lifetime=int(cfg["DPOP_NONCE_LIFETIME"]))
    proof = dpop.verify_proof(proofs[0], expected_method=request.method, expected_url=endpoint_url(), now=now,
                              window=window, access_token=access_token, nonces=nonces,
                              nonce_required=nonce_required(client))
    db = get_session()
    if not record_jti(db, proof, window=window):
        refuse(db, client, reason="proof_replayed")
        raise dpop.InvalidProof("This DPoP proof was already used; sign a new one (a new jti) for each request.")
    return proof


def record_jti(db: Session, proof: dpop.VerifiedProof, *, window: int) -> bool:
    """Remember the proof's ``jti`` for its key (committed); False when it was already there.

    The row lives until the proof's ``iat`` leaves the window, after which the proof is refused
    for its age anyway; ``idp db prune`` (:func:`idp.oidc.tokens.prune`) deletes it, and so does
    about one insert in :data:`PRUNE_EVERY`, so the table stays small between daily runs.
    """
    until = dt.datetime.fromtimestamp(proof.iat + window + 1, dt.UTC)
    if secrets.randbelow(PRUNE_EVERY) == 0:
        db.execute(delete(UsedDPoPProof).where(UsedDPoPProof.expires_at < clock.utc_now()))
    db.add(UsedDPoPProof(jkt=proof.jkt, jti=proof.jti, expires_at=until))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        return False
    return True


def refuse(db: Session, client: Client | None, *, reason: str, user_id: int | None = None) -> None:
    """Audit a refusal that says something about a token or key being misused (not a malformed
    proof, which anyone can send): a replayed proof, a key that is not the bound one."""
    audit.record(db, audit.Event.DPOP_REFUSED, client_id=client.id if client else None, user_id=user_id,
                 reason=reason)


def proof_for_token_request(client: Client) -> dpop.VerifiedProof | None:
    """The token request's proof (RFC 9449 §5), required of clients registered for DPoP.

    :raises TokenEndpointDPoPError: no proof from a client that must send one, or a bad proof
    """
    try:
        proof = check_proof(client=client)
    except dpop.DPoPError as exc:
        raise TokenEndpointDPoPError(exc.error, exc.description) from exc
    if proof is None and client_requires_dpop(client):
        raise TokenEndpointDPoPError("invalid_dpop_proof", "This client must send a DPoP proof (DPoP header).")
    return proof


def jkt_for_pushed_request(client: Client, data: Any) -> str | None:
    """The key a pushed authorization request binds its code to (RFC 9449 §10.1), or None.

    A DPoP proof sent to the PAR endpoint binds the code to its key; a ``dpop_jkt`` parameter
    binds it to that key; when both are sent they must name the same key. Store the result as
    the request's ``dpop_jkt`` so the code's redemption checks it.

    :raises TokenEndpointDPoPError: a bad proof, a malformed ``dpop_jkt``, or the two disagree
    """
    try:
        proof = check_proof(client=client)
    except dpop.DPoPError as exc:
        raise TokenEndpointDPoPError(exc.error, exc.description) from exc
    param = data.get("dpop_jkt") or None
    try:
        jkt = dpop.check_jkt_parameter(param) if param else None
    except dpop.DPoPError as exc:
        raise TokenEndpointDPoPError("invalid_request", exc.description) from exc
    if proof is not None and jkt is not None and proof.jkt != jkt:
        raise TokenEndpointDPoPError("invalid_dpop_proof", "dpop_jkt is not the thumbprint of the DPoP proof's key.")
    return proof.jkt if proof is not None else jkt


def add_nonce_header(response: Any) -> Any:
    """Hand out the current nonce on any response to a request that carried a proof (RFC 9449 §8.2:
    the server "MAY supply the new nonce value" in any response), so clients follow its rotation."""
    if sent_proof():
        response.headers[NONCE_HEADER] = current_nonce()
    return response
