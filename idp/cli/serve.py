"""``idp serve``: gunicorn in front of the app (one worker per core by default).

It says where it listens once the socket is bound, and logs one line per request through
:mod:`idp.accesslog` (method, route, status, duration: no query strings, tokens or addresses).
The workers keep their metrics in files under ``PROMETHEUS_MULTIPROC_DIR`` (a private temporary
folder unless the operator names one), so ``/metrics`` from any worker adds up all of them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from idp import accesslog
from idp import create_app
from idp import metrics


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        accesslog.configure()
        return accesslog.AccessLog(create_app())


def _when_ready(server: Any) -> None:
    """gunicorn's hook once the sockets are bound: the address to open (the port, even when 0 was asked)."""
    for listener in server.LISTENERS:
        click.echo(f"idp: listening on {listener}/ (Ctrl-C stops)", err=True)


def _child_exit(_server: Any, worker: Any) -> None:
    metrics.worker_exited(worker.pid)


def _metrics_dir() -> tuple[Path, bool]:
    """The operator's folder (emptied of the last run's files), or a fresh private one to remove at exit."""
    named = os.environ.get(metrics.MULTIPROC_ENV)
    if named:
        Path(named).mkdir(mode=0o700, parents=True, exist_ok=True)
        return Path(named), False
    return Path(tempfile.mkdtemp(prefix="idp-metrics-")), True  # mkdtemp makes it 0700


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=0, type=int, help="Worker processes [default: one per core].")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the IdP."""
    directory, ours = _metrics_dir()
    metrics.enable_multiprocess(directory)  # before any worker counts anything
    arbiter = os.getpid()
    try:
        create_app()  # fail here, with the one-line reason, before gunicorn forks
        _run(host, port, workers, threads)
    finally:
        if ours and os.getpid() == arbiter:  # a worker leaves through here too (SystemExit)
            shutil.rmtree(directory, ignore_errors=True)


def _run(host: str, port: int, workers: int, threads: int) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers or (os.cpu_count() or 1),
        # gthread keeps connections alive (the sync worker closes each one and then waits for
        # the client to close its side, which idles the worker); threads overlap database waits.
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": None,  # idp.accesslog writes the lines, without query strings
        "errorlog": "-",
        "loglevel": "warning",
        "timeout": 30,
        "keepalive": 5,
        "preload_app": False,
        "when_ready": _when_ready,
        "child_exit": _child_exit,
    }).run()


def register(cli: click.Group) -> None:
    cli.add_command(serve_command)
