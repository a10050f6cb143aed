"""Registering authorization-details types, and finding the ones a request names.

Every change is audited in the same commit, with the staff member (or ``None`` for the command
line) as actor. A type is never deleted: codes and tokens may still carry details of it, and the
audit trail names it; it is made inactive instead, which refuses new requests for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.db import utc_now
from idp.rar.definitions import Definition
from idp.rar.models import AuthorizationDetailsType


def save_type(db: Session, definition: Definition, *, by: int | None) -> tuple[AuthorizationDetailsType, bool]:
    """Register ``definition``, or replace the type of that name; the row and whether it is new."""
    row = db.scalar(select(AuthorizationDetailsType).where(AuthorizationDetailsType.name == definition.name))
    created = row is None
    if row is None:
        row = AuthorizationDetailsType(name=definition.name, created_by=by)
        db.add(row)
    else:
        row.updated_at = utc_now()
    row.json_schema = definition.schema
    row.display = definition.display
    row.client_ids = definition.clients
    row.active = definition.active
    event = audit.Event.AUTHZ_DETAILS_TYPE_REGISTERED if created else audit.Event.AUTHZ_DETAILS_TYPE_UPDATED
    audit.record(db, event, commit=False, by=by, type=definition.name, active=definition.active,
                 clients=definition.clients)
    db.commit()
    return row, created


def list_types(db: Session) -> list[AuthorizationDetailsType]:
    return list(db.scalars(select(AuthorizationDetailsType).order_by(AuthorizationDetailsType.name)))


def get_type(db: Session, name: str) -> AuthorizationDetailsType | None:
    return db.scalar(select(AuthorizationDetailsType).where(AuthorizationDetailsType.name == name))


def active_types(db: Session, names: Iterable[str]) -> dict[str, AuthorizationDetailsType]:
    """The active types among ``names``, by name (one query for a whole request)."""
    wanted = sorted({n for n in names if isinstance(n, str) and len(n) <= 100})
    if not wanted:
        return {}
    rows = db.scalars(select(AuthorizationDetailsType).where(AuthorizationDetailsType.name.in_(wanted),
                                                             AuthorizationDetailsType.active.is_(True)))
    return {row.name: row for row in rows}


def active_type_names(db: Session) -> list[str]:
    """What discovery lists as ``authorization_details_types_supported`` (RFC 9396 §10)."""
    return list(db.scalars(select(AuthorizationDetailsType.name).where(AuthorizationDetailsType.active.is_(True))
                           .order_by(AuthorizationDetailsType.name)))


def definition_of(row: AuthorizationDetailsType) -> Definition:
    return Definition(name=row.name, schema=row.json_schema, display=row.display, clients=row.client_ids,
                      active=row.active)
