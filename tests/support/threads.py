"""Running one piece of work in several threads at once, as parallel requests arrive."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(count: int, work: Callable[[threading.Barrier], None]) -> None:
    """``work(barrier)`` in ``count`` threads; each waits on the barrier right before the racy step.

    An exception in any thread fails the caller: a thread's own exception would otherwise only be
    printed, and the test would pass on what the other threads did.
    """
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            work(barrier)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
