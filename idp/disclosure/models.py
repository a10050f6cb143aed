"""The disclosure log and the consent receipts, one row per event; the person's own data.

Neither table holds a claim's value: a disclosure names the claims released, a receipt names the
items consented to. The e-Service's name is copied at the time, so the record still reads when
the e-Service is deleted (its ``client_id`` then becomes ``NULL``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base


class Disclosure(Base):
    """One release of claims to an e-Service: which claims (names only), at what level, when, how."""

    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    service_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(index=True)
    # idp.disclosure.log.Via: authorization_code, refresh_token, userinfo, token_exchange, introspection
    via: Mapped[str] = mapped_column(String(32))
    claims: Mapped[list[str]]
    acr: Mapped[str] = mapped_column(String(100))
    # The authorization the release belongs to ("code:12", the token family), or another grant's id.
    reference: Mapped[str] = mapped_column(String(100))
    # RFC 9396 authorization_details released with the claims, when there were any.
    details: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class ConsentReceipt(Base):
    """A consent given or withdrawn, as the signed receipt (a JWS) the person may download."""

    __tablename__ = "consent_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    service_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # given | withdrawn
    items: Mapped[list[str]]
    issued_at: Mapped[dt.datetime]
    jws: Mapped[str] = mapped_column(Text)
