"""Clients, authorization codes, tokens and consents, stored hashed (never the secret itself).

The models implement the small interfaces Authlib asks for (``get_client_id``,
``check_redirect_uri`` ...) so Authlib can drive them without its plain-text mixins.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ColumnElement
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import case
from sqlalchemy import text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from idp.accounts.models import User
from idp.crypto import check_secret
from idp.db import Base
from idp.db import Created
from idp.db import Hash
from idp.db import utc_now


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    client_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    trusted: Mapped[bool] = mapped_column(default=False)
    require_pkce: Mapped[bool] = mapped_column(default=True)
    # active: works; pending: registered dynamically, waits for an admin; disabled: stopped by an admin
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Why a dynamic registration waits for an admin (codes, see idp.oidc.registration).
    review_reasons: Mapped[list[str]] = mapped_column(default=list)
    # A rotated secret keeps working until ``previous_secret_expires_at`` (the grace period).
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[dt.datetime | None]
    # RFC 7592: the bearer token of the client configuration endpoint, hashed.
    registration_access_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The initial access token (so the agency) a dynamic registration came with.
    initial_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("initial_access_tokens.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[Created]
    updated_at: Mapped[dt.datetime | None]

    initial_token: Mapped[InitialAccessToken | None] = relationship()  # the console reads it; protocol paths never do

    @hybrid_property
    def active(self) -> bool:
        return self.status == "active"

    @active.inplace.setter
    def _active_setter(self, value: bool) -> None:
        self.status = "active" if value else "disabled"

    @active.inplace.expression
    @classmethod
    def _active_expression(cls) -> ColumnElement[bool]:
        return cls.status == "active"

    @active.inplace.update_expression
    @classmethod
    def _active_update(cls, value: Any) -> list[tuple[Any, Any]]:
        """``update(Client).values(active=False)`` writes the status, not a comparison."""
        if isinstance(value, bool):
            return [(cls.status, "active" if value else "disabled")]
        return [(cls.status, case((value, "active"), else_="disabled"))]

    # -- Authlib ClientMixin -------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED, so there is never a default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.scopes)
        requested = (scope or "").split()
        return " ".join(s for s in dict.fromkeys(requested) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match (OAuth 2.0 Security BCP §4.1.3).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret_hash:
            return False
        if check_secret(client_secret, expected_hash=self.client_secret_hash):
            return True
        # The secret before the last rotation, during its grace period.
        return (self.previous_secret_hash is not None and self.previous_secret_expires_at is not None
                and self.previous_secret_expires_at > utc_now()
                and check_secret(client_secret, expected_hash=self.previous_secret_hash))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        # introspection and revocation: any of the confidential methods the client holds
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")

    # -- metadata ----------------------------------------------------------------------
    @property
    def redirect_uris(self) -> list[str]:
        return list(self.client_metadata.get("redirect_uris", []))

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        return list(self.client_metadata.get("post_logout_redirect_uris", []))

    @property
    def token_endpoint_auth_method(self) -> str:
        return str(self.client_metadata.get("token_endpoint_auth_method", "client_secret_basic"))

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def scopes(self) -> list[str]:
        return str(self.client_metadata.get("scope", "openid profile email offline_access")).split()

    @property
    def id_token_signed_response_alg(self) -> str:
        return str(self.client_metadata.get("id_token_signed_response_alg", "RS256"))

    @property
    def subject_type(self) -> str:
        return str(self.client_metadata.get("subject_type", "pairwise"))

    @property
    def name_th(self) -> str | None:
        value = self.client_metadata.get("client_name#th")
        return str(value) if value else None

    @property
    def logo_uri(self) -> str | None:
        value = self.client_metadata.get("logo_uri")
        return str(value) if value else None

    @property
    def allowed_claims(self) -> set[str] | None:
        """Claims the e-Service may ask for one by one (the ``claims`` parameter); ``None``: any."""
        value = self.client_metadata.get("allowed_claims")
        return set(value) if isinstance(value, list) else None

    @property
    def default_acr_values(self) -> list[str]:
        return list(self.client_metadata.get("default_acr_values", []))

    @property
    def fapi(self) -> bool:
        """Registered for the FAPI 2.0 Security Profile (``fapi_profile: "fapi2"``, :mod:`idp.oidc.fapi`)."""
        return self.client_metadata.get("fapi_profile") == "fapi2"

    @property
    def requires_par(self) -> bool:
        """Its authorization requests must come through the PAR endpoint (RFC 9126 §6)."""
        return self.fapi or self.client_metadata.get("require_pushed_authorization_requests") is True

    def display_name(self, locale: str | None) -> str:
        """The name in the reader's language: Thai when there is one and they read Thai."""
        if locale and locale.startswith("th") and self.name_th:
            return self.name_th
        return self.name


class InitialAccessToken(Base):
    """An admin's permission for one agency to register e-Services itself (RFC 7591 §3).

    The policy travels with the token: a registration within ``allowed_scopes`` and at most
    ``max_ial``/``max_aal`` can be approved automatically; anything more waits for an admin.
    """

    __tablename__ = "initial_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[Hash] = mapped_column(unique=True)
    agency: Mapped[str] = mapped_column(String(200))
    allowed_scopes: Mapped[list[str]] = mapped_column(default=list)
    max_ial: Mapped[int] = mapped_column(default=1)
    max_aal: Mapped[int] = mapped_column(default=2)
    created_by: Mapped[int | None]
    created_at: Mapped[Created]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    def usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > utc_now()


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[Hash] = mapped_column(unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    auth_time: Mapped[dt.datetime]
    acr: Mapped[str] = mapped_column(String(100))
    amr: Mapped[list[str]]
    sid: Mapped[str | None] = mapped_column(String(64))
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What the RP asked for (acr_values, preference order); the assurance rules read it.
    requested_acr: Mapped[list[str]] = mapped_column(default=list)
    # RFC 9396: the authorization_details the person approved, carried to every token of the code.
    authorization_details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # RFC 8707: the one registered resource server the tokens of this grant are for (their ``aud``).
    resource: Mapped[str | None] = mapped_column(String(2048))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[Created]
    # RFC 9449 §10: the thumbprint of the DPoP key that alone may redeem the code (``dpop_jkt``).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(lazy="joined")

    # -- Authlib AuthorizationCodeMixin ----------------------------------------------------
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)

    def is_expired(self) -> bool:
        return self.expires_at <= utc_now()


class TokenFamily(Base):
    """Every token issued from one authorization code, however often it was refreshed.

    The row is written with the code, before anything can be redeemed, so a replay can always
    mark it revoked. A token counts as revoked when its own ``revoked_at`` or its family's is set:
    a token written after the mark (by a winner whose transaction was still open when the loser
    of a race marked the family) is covered too (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
    """

    __tablename__ = "token_families"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[Created]
    revoked_at: Mapped[dt.datetime | None]
    # RFC 8707: the resource named at authorization; every token of the grant is for it alone.
    resource: Mapped[str | None] = mapped_column(String(2048))


class Token(Base):
    """One issued token pair. ``family`` ties every token from one code so reuse revokes them all.

    ``user_id`` is empty for a ``client_credentials`` token: an agency's back-end acting for
    itself, with no person behind it. ``resource`` is the token's ``aud`` (RFC 8707; empty: the
    issuer), ``act`` the RFC 8693 actor of an exchanged token.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(ForeignKey("token_families.id"), index=True)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_codes.id", ondelete="SET NULL"), index=True
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    access_token_hash: Mapped[Hash] = mapped_column(unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime]
    access_expires_at: Mapped[dt.datetime]
    refresh_expires_at: Mapped[dt.datetime | None]
    refresh_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    auth_time: Mapped[dt.datetime]
    acr: Mapped[str] = mapped_column(String(100))
    amr: Mapped[list[str]]
    sid: Mapped[str | None] = mapped_column(String(64))
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    authorization_details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # RFC 9449 §6: the DPoP key (its RFC 7638 thumbprint) the access token is bound to (``cnf.jkt``);
    # a public client's refresh token is bound to it too (§5). None: a bearer token.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    resource: Mapped[str | None] = mapped_column(String(2048))
    act: Mapped[dict[str, Any] | None]

    client: Mapped[Client] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")
    family_row: Mapped[TokenFamily] = relationship(lazy="joined", innerjoin=True)

    # -- Authlib TokenMixin ----------------------------------------------------------------
    def check_client(self, client: Client) -> bool:
        return self.client_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.access_expires_at <= utc_now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.family_row.revoked_at is not None

    def get_user(self) -> User | None:
        return self.user

    def get_client(self) -> Client:
        return self.client

    @property
    def holder_active(self) -> bool:
        """The token's person is active (a client's own token has none)."""
        return self.user is None or self.user.is_active


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]]
    granted_at: Mapped[Created]


class UsedAssertion(Base):
    """``jti`` values of client assertions already accepted (RFC 7523 §3 item 7)."""

    __tablename__ = "used_assertions"
    __table_args__ = (UniqueConstraint("client_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime]


class SigningKeyRecord(Base):
    """One of the IdP's own signing keys, shared by every instance (:mod:`idp.keyring`).

    The private key is PKCS#8 PEM encrypted with a passphrase derived from ``KEYS_SECRET`` (or
    ``SECRET_KEY``): the database alone does not give it away. At most one ``active`` key per
    algorithm (a partial unique index), so two instances running ``idp init`` at once cannot both
    make one.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (Index("uq_signing_keys_active_alg", "alg", unique=True,
                            sqlite_where=text("state = 'active'"), postgresql_where=text("state = 'active'")),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8))  # next, active, retired
    created_at: Mapped[dt.datetime]
    retired_at: Mapped[dt.datetime | None]
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)


class UsedDPoPProof(Base):
    """``jti`` values of DPoP proofs already accepted, per key (RFC 9449 §11.1).

    The unique constraint makes "once" hold across instances: of two requests with the same
    proof, the second insert fails. A row is kept while the proof's ``iat`` is within the window.
    """

    __tablename__ = "used_dpop_proofs"
    __table_args__ = (UniqueConstraint("jkt", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jkt: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class PushedAuthorizationRequest(Base):
    """An authorization request a client pushed (RFC 9126), until a browser brings its ``request_uri``.

    In the database, not in a process, so any instance resolves what another accepted. Only the
    hash of the ``request_uri``'s random part is kept. ``claimed_at`` is set once, atomically, by
    the first authorization request that uses it (single use, RFC 9126 §4); that browser holds the
    claim (``claim_hash``) while the person signs in, and ``completed_at`` marks the answer sent
    to the client (a code or an error), after which it is spent for everyone.
    """

    __tablename__ = "pushed_authorization_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_hash: Mapped[Hash] = mapped_column(unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # The pushed parameters, each name with its list of values (repeats are refused later, as at /authorize).
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[Created]
    expires_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    claim_hash: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[dt.datetime | None]
