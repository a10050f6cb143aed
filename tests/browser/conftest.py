"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and the IdP served in-process.

The IdP runs on a background thread (werkzeug) bound to 127.0.0.1, and the browser opens it as
``http://localhost:PORT``: WebAuthn refuses IP addresses as RP ids, and the IdP derives its RP id
and origin from ``ISSUER``. Passkeys live in Chromium's virtual authenticator (CDP ``WebAuthn``),
one per test. No ``playwright install``: the browser is the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from idp import create_app
from idp import migrate
from idp.db import engine_of

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm; Debian's wrapper check misfires
]
# A passkey on a platform authenticator that verifies the user (Touch ID / Windows Hello-like).
PASSKEY_AUTHENTICATOR = {
    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
    "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
}
TIMEOUT_MS = 10_000
# Chromium's virtual authenticator answers a conditional (autofill) request at once, without the
# person choosing the passkey: the sign-in page would sign in by itself as it loads. Tests of the
# password form and of the passkey button browse as a browser without conditional UI does.
NO_CONDITIONAL_UI = """
if (window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
}
"""


def _missing_tool(message: str) -> None:
    """A missing browser skips on a workstation and fails in CI, where the suite must really run."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def chromium() -> str:
    """Autouse, so a missing browser skips (or fails, in CI) before a server is started for nothing."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing_tool(f"browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    """One headless Chromium for the session; Playwright's own browsers are never downloaded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class _Deferred:
    """A WSGI app set after the server has bound its port (the issuer needs the port)."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class LiveIdp:
    app: Flask
    url: str  # http://localhost:PORT, the issuer and WebAuthn origin

    def db(self) -> Session:
        """A new SQLAlchemy session on the server's database (use it in a ``with`` block)."""
        session: Session = self.app.extensions["idp.db"]()
        return session


def _serve(server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"serve-{server.server_port}", daemon=True)
    thread.start()
    return thread


def _stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    thread.join(10)
    server.server_close()


@contextmanager
def serve_idp(folder: Path, keys_dir: Path, database_url: str) -> Iterator[LiveIdp]:
    """The IdP on 127.0.0.1:<free port>, issuer ``http://localhost:<port>``, on ``database_url``."""
    deferred = _Deferred()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, deferred, threaded=True)
    issuer = f"http://localhost:{server.server_port}"
    config = {
        "TESTING": True,
        "ISSUER": issuer,  # no SERVER_NAME: url_for must build for the Host the browser sends
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "KEYS_DIR": str(keys_dir),
        "MAIL_OUTBOX_DIR": str(folder / "outbox"),
    }
    os.environ["IDP_INSTANCE_PATH"] = str(folder / "instance")
    try:
        app = create_app(config)
    finally:
        os.environ.pop("IDP_INSTANCE_PATH", None)
    migrate.upgrade(app)
    deferred.app = app
    thread = _serve(server)
    try:
        yield LiveIdp(app=app, url=issuer)
    finally:
        _stop(server, thread)
        engine_of(app).dispose()


@pytest.fixture
def live_idp(tmp_path: Path, keys_dir: Path, database_url: str) -> Iterator[LiveIdp]:
    """The IdP on a fresh database, for one test."""
    with serve_idp(tmp_path, keys_dir, database_url) as live:
        yield live


@dataclass
class EService:
    """The e-Service's side of the redirect: what its callback page received."""

    redirect_uri: str
    callbacks: list[dict[str, str]]


@pytest.fixture
def eservice() -> Iterator[EService]:
    """A stand-in e-Service on another origin (``http://localhost:<port>/cb``) that shows a page.

    A real server rather than ``page.route``: Playwright does not route the target of a redirect,
    and the authorization response is one.
    """
    callbacks: list[dict[str, str]] = []

    @Request.application  # type: ignore[misc]
    def callback(request: Request) -> Response:
        if request.path != "/cb":
            return Response("not found", status=404)
        callbacks.append(request.args.to_dict())
        return Response("<!doctype html><title>e-Service</title><p>Back at the e-Service</p>",
                        mimetype="text/html")

    server = make_server("127.0.0.1", 0, callback, threaded=True)
    thread = _serve(server)
    try:
        yield EService(redirect_uri=f"http://localhost:{server.server_port}/cb", callbacks=callbacks)
    finally:
        _stop(server, thread)


def new_context(browser: Any, *, conditional_ui: bool = False) -> Any:
    """A fresh browser profile (no cookies), in English so the assertions read the English texts."""
    ctx = browser.new_context(locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    if not conditional_ui:
        ctx.add_init_script(NO_CONDITIONAL_UI)
    return ctx


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh profile of a browser without conditional UI (see ``NO_CONDITIONAL_UI``)."""
    ctx = new_context(browser)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@dataclass
class Authenticator:
    """Chromium's virtual authenticator attached to one page, driven over CDP."""

    cdp: Any
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        creds: list[dict[str, Any]] = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})[
            "credentials"]
        return creds

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified})

    def add_credential(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})


def add_authenticator(page: Any, **overrides: Any) -> Authenticator:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {**PASSKEY_AUTHENTICATOR, **overrides}
    auth_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
    return Authenticator(cdp=cdp, id=auth_id)


@pytest.fixture
def authenticator(page: Any) -> Authenticator:
    """A passkey-capable platform authenticator (resident keys, user verification) for ``page``."""
    return add_authenticator(page)
