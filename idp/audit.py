"""Audit events for security decisions.

Only internal ids and codes go in (PDPA: no email, name, address or secret); the admin
console issue chains and exports these rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp.authn.models import AuditEvent


def record(db: Session, event: str, *, user_id: int | None = None, client_id: int | None = None,
           commit: bool = True, **details: Any) -> None:
    """Append one event; committed at once unless the caller commits it with its own change."""
    db.add(AuditEvent(event=event, user_id=user_id, client_id=client_id, details=details))
    if commit:
        db.commit()
