"""Letting the IdP's clock run to a given moment, for tests that seed events on chosen days."""

from __future__ import annotations

import datetime as dt
from typing import Any


def move_to(clock: Any, when: dt.datetime) -> None:
    """Let the IdP's clock run forward to ``when`` (it only goes forward)."""
    delta = (when - clock.utc_now()).total_seconds()
    assert delta > 0
    clock.advance(delta)


def next_midnight(clock: Any) -> dt.datetime:
    """Midnight UTC two days from today: tests seed from there on, and from the day before it, which
    is then still ahead of the clock whatever the time of day (at 23:30 tomorrow's midnight is not)."""
    today = clock.utc_now().date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC) + dt.timedelta(days=2)
