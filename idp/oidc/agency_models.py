"""Agencies' APIs and what the operator lets agencies do with each other.

- :class:`ResourceServer`: an agency's API registered by an admin (RFC 8707). Its ``identifier``
  is the ``resource`` a client names and the ``aud`` of the tokens issued for it; it introspects
  them with the credentials of its linked (confidential) client.
- :class:`MachineAccess`: the scopes an agency's back-end may get for itself (``client_credentials``).
- :class:`ExchangePermission`: one allowed pair for token exchange (RFC 8693): this client may
  exchange a citizen's token for a token to that resource server.
- :class:`DataUse`: one exchange, as the citizen sees it ("on your behalf").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from idp.db import Base
from idp.db import Created
from idp.oidc.models import Client


class ResourceServer(Base):
    __tablename__ = "resource_servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_th: Mapped[str | None] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    # The confidential client whose credentials the API uses at the introspection endpoint.
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), unique=True)
    created_by: Mapped[int | None]
    created_at: Mapped[Created]
    updated_at: Mapped[dt.datetime | None]

    client: Mapped[Client] = relationship(lazy="joined")

    def display_name(self, locale: str | None) -> str:
        if locale and locale.startswith("th") and self.name_th:
            return self.name_th
        return self.name


class MachineAccess(Base):
    __tablename__ = "machine_access"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    granted_by: Mapped[int | None]
    updated_at: Mapped[Created]


class ExchangePermission(Base):
    __tablename__ = "exchange_permissions"
    __table_args__ = (UniqueConstraint("client_id", "resource_server_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    resource_server_id: Mapped[int] = mapped_column(ForeignKey("resource_servers.id", ondelete="CASCADE"),
                                                    index=True)
    created_by: Mapped[int | None]
    created_at: Mapped[Created]

    client: Mapped[Client] = relationship(lazy="joined")
    resource_server: Mapped[ResourceServer] = relationship(lazy="joined")


class DataUse(Base):
    """A token exchange made with a citizen's token: who (``client``) got a token for which
    agency's API (``resource_server``), from the token another e-Service (``source_client``) held."""

    __tablename__ = "data_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    source_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    resource_server_id: Mapped[int | None] = mapped_column(ForeignKey("resource_servers.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[Created]

    client: Mapped[Client] = relationship(foreign_keys=[client_id], lazy="joined")
    resource_server: Mapped[ResourceServer | None] = relationship(lazy="joined")
