"""The tamper-evident audit log: its tables, its vocabulary and its hash chain.

``from idp import audit; audit.record(db, audit.Event.SIGNIN, user_id=...)``. Searching and
exporting for auditors lives in :mod:`idp.audit.search` (imported by its users, not here, since it
reads accounts and clients).
"""

from __future__ import annotations

from idp.audit.chain import GENESIS
from idp.audit.chain import Break
from idp.audit.chain import chain_hash
from idp.audit.chain import observe
from idp.audit.chain import pending
from idp.audit.chain import record
from idp.audit.chain import seal
from idp.audit.chain import seal_pending
from idp.audit.chain import verify
from idp.audit.events import Event
from idp.audit.models import AuditEvent
from idp.audit.models import AuditHead

__all__ = [
    "GENESIS",
    "AuditEvent",
    "AuditHead",
    "Break",
    "Event",
    "chain_hash",
    "observe",
    "pending",
    "record",
    "seal",
    "seal_pending",
    "verify",
]
