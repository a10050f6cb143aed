"""The IdP's notion of "now", in one place so that tests can move it.

Assurance depends on time (reauthentication windows of hours and days, throttling delays,
TOTP steps); tests must see those expire without sleeping. Production never shifts it.
"""

from __future__ import annotations

import datetime as dt
import time

_offset = 0.0


def timestamp() -> float:
    return time.time() + _offset


def utc_now() -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp(), dt.UTC)


def advance(seconds: float) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    _offset += seconds


def reset() -> None:
    global _offset
    _offset = 0.0
