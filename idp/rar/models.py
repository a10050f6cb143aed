"""The authorization-details types an operator registered (RFC 9396 §2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.db import Base
from idp.db import Created


class AuthorizationDetailsType(Base):
    """One ``type`` value an e-Service may send in ``authorization_details``.

    ``json_schema`` is what every detail of the type must match; ``display`` holds the words the
    consent page uses (a title, a summary sentence and per-field labels, in Thai and English);
    ``client_ids`` lists the e-Services that may use it (``None``: every e-Service).
    """

    __tablename__ = "authorization_details_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    json_schema: Mapped[dict[str, Any]]
    display: Mapped[dict[str, Any]]
    client_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None]
    created_at: Mapped[Created]
    updated_at: Mapped[dt.datetime | None]

    def allows(self, client_id: str) -> bool:
        return self.client_ids is None or client_id in self.client_ids

    def as_definition(self) -> dict[str, Any]:
        """The type as a definition file holds it (``idp authz-types add --file``)."""
        return {"type": self.name, "schema": self.json_schema, "display": self.display,
                "clients": self.client_ids, "active": self.active}
