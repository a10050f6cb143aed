"""When logout tokens are sent: right after the commit that ended the session, in the background.

The first attempt runs in a small thread pool as soon as the transaction that queued it commits,
not inside the request: the person's sign-out page must not wait for e-Services (each POST may
take up to ``BACKCHANNEL_LOGOUT_DEADLINE``, and a person may have used several), and a slow or
broken e-Service must not turn a sign-out into an error. Nothing is lost if the process stops
first: the delivery row is already committed, and the next runner sends it. Retries run from
``idp logout deliver`` (cron, or a systemd timer) and, so that they also happen without one, from
this pool at most every ``BACKCHANNEL_LOGOUT_SWEEP_EVERY`` seconds after a request. Runners
claim rows one by one (:func:`idp.backchannel.delivery.claim`), so they can all run at once.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait

from flask import Flask
from flask import Response
from flask import current_app
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from idp import outbound
from idp.backchannel import delivery

_log = logging.getLogger(__name__)
_KICK = "idp.backchannel.kick"  # Session.info: the app whose dispatcher runs after this session commits


class Dispatcher:
    """One per application: a pool of two threads that run :func:`delivery.deliver_due`."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._pool: ThreadPoolExecutor | None = None
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def kick(self) -> None:
        """Send whatever is due now, in the background."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="idp-logout")
            future = self._pool.submit(self._run)
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def sweep_if_due(self) -> None:
        every = float(self._app.config["BACKCHANNEL_LOGOUT_SWEEP_EVERY"] or 0)
        if every <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._swept < every:
                return
            self._swept = now
        self.kick()

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for the attempts under way (tests, and a clean shutdown); whether all finished."""
        with self._lock:
            pending = set(self._futures)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _run(self) -> None:
        from idp.db import get_session

        try:
            with self._app.app_context():
                delivery.deliver_due(get_session(), settings=delivery.Settings.of(self._app.config),
                                     keyring=self._app.extensions["idp.keyring"], fetcher=outbound.fetcher())
        except Exception:  # a background thread has nobody to raise to; the row stays due for the next runner
            _log.exception("back-channel logout delivery run failed")


def dispatcher(app: Flask | None = None) -> Dispatcher:
    found: Dispatcher = (app or current_app).extensions["idp.backchannel"]
    return found


def kick_after_commit(db: Session) -> None:
    """Ask for a delivery run once ``db``'s transaction commits (nothing if it rolls back)."""
    if has_app_context() and current_app.config.get("BACKCHANNEL_LOGOUT_IMMEDIATE", True):
        db.info[_KICK] = current_app._get_current_object()  # type: ignore[attr-defined]


@event.listens_for(Session, "after_commit")
def _after_commit(db: Session) -> None:
    app = db.info.pop(_KICK, None)
    if app is not None and "idp.backchannel" in app.extensions:
        app.extensions["idp.backchannel"].kick()


@event.listens_for(Session, "after_rollback")
def _after_rollback(db: Session) -> None:
    db.info.pop(_KICK, None)


def init_app(app: Flask) -> None:
    app.extensions["idp.backchannel"] = Dispatcher(app)

    @app.after_request
    def _sweep(response: Response) -> Response:
        app.extensions["idp.backchannel"].sweep_if_due()
        return response
