"""The audit log's tables: the events, and the one-row head of their hash chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base
from idp.db import Created


class AuditEvent(Base):
    """A security decision, with internal ids only (no email, no address, no secret).

    Append-only and hash-chained: ``hash`` covers the event and ``prev_hash``, the hash of the
    event before it (by ``seq``), so an edited, deleted or reordered event breaks the chain
    (``idp audit verify``).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int | None] = mapped_column(unique=True)
    at: Mapped[Created] = mapped_column(index=True)  # the console's and dashboard's time ranges
    event: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(index=True)  # whom it concerns
    actor_id: Mapped[int | None] = mapped_column(index=True)  # who did it, when not the person themselves
    client_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last link, one row: appending is a compare-and-set on ``seq``, so concurrent
    writers in several processes never fork the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))
