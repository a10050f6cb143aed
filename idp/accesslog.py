"""The access log of ``idp serve``: one line per request, free of secrets and personal data.

A line holds the method, the path, the status and the duration, nothing else: no client address
(personal data), no query string (authorization codes, ``state``, ``login_hint`` and tokens travel
there), no headers. Paths carry secrets too (``/verify-email/<token>``), so a request that matched a
route is logged by the route's pattern, not by the values in it; only static files are logged as
requested. A path that matched nothing is logged with its long segments blanked out, since a
mistyped link may still hold a token.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from werkzeug.wsgi import ClosingIterator

LOGGER = "idp.access"
LONG_SEGMENT = 20  # an unmatched path's segments of this length or more are blanked out
# Probes and scrapes come every few seconds: logged only when they do not succeed.
QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.scrape"})
_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def logged_path(environ: dict[str, Any]) -> str:
    """The path as the log shows it (see the module's docstring)."""
    request = environ.get("werkzeug.request")  # the app's Request, with the rule that matched
    rule = getattr(request, "url_rule", None)
    if rule is not None and rule.endpoint != "static":
        return str(environ.get("SCRIPT_NAME", "")) + str(rule.rule)
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    path = "".join(c if " " < c < "\x7f" else "?" for c in path)  # one request, one line
    if rule is None:
        path = "/".join("…" if len(segment) >= LONG_SEGMENT else segment for segment in path.split("/"))
    return path[:200] or "/"


def line(method: str, path: str, status: str, seconds: float) -> str:
    return f"{method} {path} {status} {seconds * 1000:.0f}ms"


class AccessLog:
    """WSGI middleware that writes :func:`line` to the ``idp.access`` logger when a response ends."""

    def __init__(self, app: _WSGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(LOGGER)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        status, path, quiet = ["-"], [""], [False]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            path[0] = logged_path(environ)  # now: Flask forgets its request once the response is returned
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            quiet[0] = status[0] == "200" and getattr(rule, "endpoint", None) in QUIET_ENDPOINTS
            return start_response(status_line, headers, exc_info)

        def done() -> None:
            if quiet[0]:
                return
            method = "".join(c for c in str(environ.get("REQUEST_METHOD", "-"))[:10] if c.isalpha()) or "-"
            self.logger.info(line(method, path[0] or logged_path(environ), status[0], time.perf_counter() - started))

        try:
            body = self.app(environ, start)
        except BaseException:
            status[0] = "500"
            done()
            raise
        return ClosingIterator(body, [done])


def configure(stream: Any = None) -> None:
    """Send the access log to stderr (``idp serve``'s workers call this once)."""
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
