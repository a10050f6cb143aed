"""The person and their signed-in sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base
from idp.db import Created
from idp.db import Hash


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random and never shown: the seed of every subject identifier, so that neither the
    # row id nor the email leaks into tokens.
    subject_seed: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    ial: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")
    locale: Mapped[str | None] = mapped_column(String(8))
    # The WebAuthn user handle: random, so an authenticator never learns the email or row id.
    webauthn_handle: Mapped[str | None] = mapped_column(String(64), unique=True)
    # An IANA zone name for times shown to the person; None: the service's (BABEL_DEFAULT_TIMEZONE).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[Created]

    def get_user_id(self) -> int:
        return self.id

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class AuthSession(Base):
    """A browser sign-in. The cookie holds only ``id``; ending the row ends the session everywhere."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[dt.datetime]
    amr: Mapped[list[str]]
    acr: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[Created]
    ended_at: Mapped[dt.datetime | None]
    # Idle timeouts of AAL2/AAL3 count from here; touched at most once a minute.
    last_active_at: Mapped[dt.datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Role(Base):
    """A staff role held by an account (admin, proofing_officer, auditor, support)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_by: Mapped[int | None]
    granted_at: Mapped[Created]


class PasswordReset(Base):
    """One emailed reset link (SP 800-63B-4 §4.2: an issued recovery code sent to the address of record).

    The link's secret is stored as its SHA-256 only. The row also keeps how far the person got
    after opening it (``redeemed_at``, then ``factor_at`` or ``lost_factors``), so that the steps
    that follow are judged on the server, not on what the browser says.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[Hash] = mapped_column(unique=True)
    created_at: Mapped[Created]
    expires_at: Mapped[dt.datetime]
    # The link was opened and its secret spent: it never works again.
    redeemed_at: Mapped[dt.datetime | None]
    # A second factor (or a recovery code) was presented after the link.
    factor_at: Mapped[dt.datetime | None]
    # The person said every second factor is lost: they go when the password is set.
    lost_factors: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[dt.datetime | None]


class EmailCode(Base):
    """A sign-up waiting for its email address to be confirmed, in the browser that signed up.

    The browser holds a random handle (``handle_hash`` is its digest); the six-digit code sent to
    the address is kept as a keyed digest bound to that handle. A sign-up with an address that
    already has an account gets a row too, with no account and no code, so that both cases look
    and count the same and no code ever works for it. ``next_url`` is where the sign-up was going
    (an authorization request), for the link in the email to continue the same journey.
    """

    __tablename__ = "email_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle_hash: Mapped[Hash] = mapped_column(unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[Hash]
    next_url: Mapped[str] = mapped_column(String(2048), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    sends: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[Created]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
