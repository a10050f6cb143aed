"""Reading a throttle key's count where the app keeps it: in Redis for address keys when the
app has one (``IDP_REDIS_URL``), in the database otherwise, so one test reads both ways."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.authn import throttle
from idp.authn.address_throttle import KEY_PREFIX
from idp.authn.models import Throttle
from idp.redis_store import SESSION_INFO


def failures_of(db: Session, key: str) -> int:
    store = db.info.get(SESSION_INFO)
    if store is not None and not throttle.is_account_key(key):
        return int(store.client.hget(KEY_PREFIX + key, "f") or 0)
    return db.scalar(select(Throttle.failures).where(Throttle.key == key)) or 0


def stored_row(db: Session, key: str) -> Throttle | None:
    """The database's row of a key (none for an address key while Redis holds it)."""
    return db.scalar(select(Throttle).where(Throttle.key == key))
