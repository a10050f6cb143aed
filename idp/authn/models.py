"""Authenticators a person holds besides the password, and the failure counters that guard them.

Secrets are never stored in the clear: TOTP seeds are AES-GCM encrypted (they must be read
back to compute codes), recovery codes are hashed (they only need comparing), and WebAuthn
keeps only public keys.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base
from idp.db import Created
from idp.db import Hash


class TotpCredential(Base):
    """An RFC 6238 generator: an app on a phone, or a hardware token handed out at a counter."""

    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # The highest time step accepted: that code and every earlier one are refused (replay).
    last_step: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[Created]
    last_used_at: Mapped[dt.datetime | None]


class WebAuthnCredential(Base):
    """A passkey or security key. ``hardware_bound`` marks one whose attestation chained to an
    operator-trusted root and that cannot be synced: the only kind that reaches AAL3."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(default=0)
    transports: Mapped[list[str]] = mapped_column(default=list)
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    attestation_format: Mapped[str] = mapped_column(String(32), default="none")
    discoverable: Mapped[bool] = mapped_column(default=False)
    user_verifying: Mapped[bool] = mapped_column(default=False)
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    hardware_bound: Mapped[bool] = mapped_column(default=False)
    # Set when the sign counter went backwards: a clone may exist; the credential is refused.
    suspected_clone_at: Mapped[dt.datetime | None]
    created_at: Mapped[Created]
    last_used_at: Mapped[dt.datetime | None]


class RecoveryCode(Base):
    """One of ten single-use look-up secrets, shown once and stored as a digest."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[Hash]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[Created]


class Throttle(Base):
    """Consecutive failures for one key (a factor of an account, or a client address).

    Kept in the database so every server process sees the same count.
    """

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime | None]
    blocked_until: Mapped[dt.datetime | None]
    suspended_at: Mapped[dt.datetime | None]
