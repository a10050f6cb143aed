"""Recovery codes: ten single-use look-up secrets (SP 800-63B-4 §3.1.2), shown once.

Each code is twelve characters of Crockford base32 (60 bits), printed as ``xxxx-xxxx-xxxx``
in lower case. The alphabet has no ``i``, ``l``, ``o`` or ``u``; when typed, ``o`` is read as
``0`` and ``i``/``l`` as ``1``, so a misread character still works. Only digests are stored:
60 bits is below the 112 that a plain hash would need, so the digest is an HMAC under a key
derived from the server's secret (a stolen table alone cannot be brute-forced) and salted with
the user id (one guess never tests every account's codes at once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import audit
from idp import clock
from idp.accounts.models import User
from idp.assurance import policy
from idp.assurance.policy import Factor
from idp.authn.models import RecoveryCode
from idp.crypto import derive_key

COUNT = 10
LENGTH = 12
GROUP = 4
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case: 5 bits a character
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1"})
_DASHES = str.maketrans("", "", "-\u2010\u2011\u2012\u2013\u2014\u2212")  # hyphens a copy and paste may bring


def generate(db: Session, user: User) -> list[str]:
    """Replace the person's codes with ten new ones and return them in the clear (show once)."""
    codes = [_new_code() for _ in range(COUNT)]
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(user.id, _canonical(code))) for code in codes)
    audit.record(db, audit.Event.RECOVERY_CODES_GENERATED, user_id=user.id, commit=False, count=COUNT)
    db.commit()
    return codes


def verify(db: Session, user: User, code: str) -> Factor | None:
    """The recovery factor when ``code`` is one of the person's unused codes (now spent), else ``None``.

    Throttling is the caller's job (``idp.authn.throttle``).
    """
    canonical = _canonical(code)
    if len(canonical) != LENGTH or any(c not in ALPHABET for c in canonical):
        return None
    # One conditional UPDATE finds and spends the code, so two racing requests cannot both use it.
    result = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(user.id, canonical),
               RecoveryCode.used_at.is_(None))
        .values(used_at=clock.utc_now())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return None
    audit.record(db, audit.Event.RECOVERY_CODE_USED, user_id=user.id, commit=False, remaining=remaining(db, user.id))
    db.commit()
    return Factor(policy.RECOVERY, clock.timestamp())


def remaining(db: Session, user_id: int) -> int:
    """How many unused codes the person has left."""
    count = db.scalar(select(func.count()).select_from(RecoveryCode)
                      .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))
    return int(count or 0)


def format_code(code: str) -> str:
    """``abcd-efgh-jkmn``: the printed form of a canonical code."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def _new_code() -> str:
    return format_code("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def _canonical(code: str) -> str:
    """Lower case, without spaces or hyphens, with confusable letters read as digits."""
    cleaned = "".join((code or "").split()).translate(_DASHES).lower()
    return cleaned.translate(_CONFUSABLE)


def _digest(user_id: int, canonical: str) -> str:
    key = derive_key(current_app.config["SECRET_KEY"], purpose="recovery-codes")
    return hmac.new(key, f"{user_id}:{canonical}".encode(), hashlib.sha256).hexdigest()
