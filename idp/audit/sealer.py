"""The background sealer of deferred audit sealing (``AUDIT_SEALING = "deferred"``, idp.audit.chain).

Each serving process runs one, started with its first request (after gunicorn forks, so every
worker has its own), so the chain grows while any instance runs; sealers of different processes
take turns on the head row. A pass that fails (the database away) is retried at the next interval:
events wait unsealed, nothing is lost.
"""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from idp.audit.chain import DEFERRED
from idp.audit.chain import seal_all

log = logging.getLogger(__name__)


class Sealer:
    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        self.factory = factory
        self.interval = interval
        self._stop = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        """Start this process's thread unless it runs (a forked worker starts its own)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
            self._thread.start()

    def run_once(self) -> int:
        with self.factory() as db:
            return seal_all(db)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception as exc:  # the database away, say: the events wait for the next pass
                log.warning("audit sealing pass failed: %s", type(exc).__name__)

    def stop(self) -> None:
        """End the thread after its current pass (tests; a server's threads end with the process)."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(10)


def init_app(app: Flask) -> None:
    if app.config["AUDIT_SEALING"] != DEFERRED:
        return
    sealer = Sealer(app.extensions["idp.db"], float(app.config["AUDIT_SEAL_INTERVAL"]))
    app.extensions["idp.audit_sealer"] = sealer
    app.before_request(sealer.ensure_running)
