"""The delivery record of back-channel logout: one row per e-Service and ended session.

The row says where a logout token must go and how that went, nothing about the person: the
session (``sid``) names the account only through ``auth_sessions``, and the token itself (with the
person's ``sub``) is made afresh at each attempt, never stored. ``last_error`` is a short code
(``timeout``, ``http_503`` …), never the e-Service's answer.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base
from idp.db import Created


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # to be sent at next_attempt_at (also while an attempt holds it: see delivery.claim)
    DELIVERED = "delivered"  # the e-Service answered 200 (or 204)
    FAILED = "failed"  # given up: attempts used up, or the address is one the IdP never posts to


class LogoutDelivery(Base):
    __tablename__ = "logout_deliveries"
    __table_args__ = (Index("ix_logout_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # why the session ended (signout, account_disabled …)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[Created]
    delivered_at: Mapped[dt.datetime | None]
