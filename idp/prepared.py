"""Documents that only change with configuration or a key rotation, served as prepared bytes.

Discovery and the JWKS are what relying parties fetch most (every library on every start, many
on a timer) and they depend on nothing in the request. Going through Flask for them costs a
request context, the session, the guards and the hooks: several times the work of the answer. So
a thin WSGI layer in front of the app answers a plain ``GET``/``HEAD`` of either path itself,
with the bytes the Flask views would send, the same headers, a strong ``ETag``
(RFC 9110 §8.8.3) and ``304 Not Modified`` for a matching ``If-None-Match`` (§13.1.2). Anything
else (another method, a query string) goes to Flask as before.

The JWKS is asked of the keyring each time (it notices a rotation by the keys directory's
modification time), so a new key is published by the next request, as before.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import Flask

from idp.keyring import KeyringError

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/jwks.json"
_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Prepared:
    """One document: its bytes, its ETag and the headers of a 200 and of a 304."""

    def __init__(self, body: str, cache_control: str, security_headers: list[tuple[str, str]]) -> None:
        self.source = body
        self.body = body.encode()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'
        common = [("Cache-Control", cache_control), ("ETag", self.etag), *security_headers]
        self.ok = [("Content-Type", "application/json"), ("Content-Length", str(len(self.body))), *common]
        self.not_modified = common

    def matches(self, if_none_match: str) -> bool:
        """``If-None-Match``: ``*`` or a list holding this ETag (weak comparison, as §13.1.2 says)."""
        if if_none_match.strip() == "*":
            return True
        tags = (tag.strip() for tag in if_none_match.split(","))
        return any(tag.removeprefix("W/") == self.etag for tag in tags)


class PreparedDocuments:
    """WSGI middleware answering ``GET``/``HEAD`` of discovery and the JWKS (see the module)."""

    def __init__(self, wsgi_app: _WSGIApp, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self._discovery: Prepared | None = None
        self._jwks: Prepared | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if path not in (DISCOVERY, JWKS) or method not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        document = self._discovery_document(environ) if path == DISCOVERY else self._jwks_document()
        if document is None:  # not ready (no keys yet): Flask gives its usual answer
            return self.wsgi_app(environ, start_response)
        if document.matches(environ.get("HTTP_IF_NONE_MATCH", "")):
            start_response("304 Not Modified", list(document.not_modified))
            return []
        start_response("200 OK", list(document.ok))
        return [] if method == "HEAD" else [document.body]

    def _discovery_document(self, environ: dict[str, Any]) -> Prepared | None:
        # Built again when the view's copy went stale (the registered authorization-details
        # types are read again now and then, see idp.oidc.discovery.discovery_document).
        cached = self.app.extensions.get("idp.discovery")
        if self._discovery is None or cached is None or cached.fresh_until <= time.monotonic():
            with self.app.request_context(environ):  # the endpoints' paths are built as in the view
                from idp.oidc.discovery import discovery_document

                body = discovery_document()
            if self._discovery is None or self._discovery.source is not body:
                self._discovery = Prepared(body, DISCOVERY_CACHE, self._security_headers())
        return self._discovery

    def _jwks_document(self) -> Prepared | None:
        try:
            body = self.app.extensions["idp.keyring"].jwks_json()
        except KeyringError:  # Flask's view reports a missing keys directory its own way
            return None
        if self._jwks is None or self._jwks.source is not body:
            self._jwks = Prepared(body, JWKS_CACHE, self._security_headers())
        return self._jwks

    def _security_headers(self) -> list[tuple[str, str]]:
        from idp.http import security_headers

        return security_headers(self.app.config["ISSUER"])


DISCOVERY_CACHE = "public, max-age=3600"
JWKS_CACHE = "public, max-age=300"


def init_app(app: Flask) -> None:
    """Installed last, outermost, so nothing else runs for these two documents."""
    app.wsgi_app = PreparedDocuments(app.wsgi_app, app)  # type: ignore[method-assign]
