"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and the IdP served in-process.

The IdP runs on a background thread (werkzeug) bound to 127.0.0.1, and the browser opens it as
``http://localhost:PORT``: WebAuthn refuses IP addresses as RP ids, and the IdP derives its RP id
and origin from ``ISSUER``. Passkeys live in Chromium's virtual authenticator (CDP ``WebAuthn``),
one per test. No ``playwright install``: the browser is the system's ``/usr/bin/chromium``.

The journeys of issue 11 run once in Thai and once in English (the ``lang`` fixture: the browser's
language) and photograph each step to ``screenshots/<test>/<lang>/NN-step.png`` (gitignored), so a
reviewer can look at every page a person saw after ``make test``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext
from flask_babel import ngettext
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from examples.eservice.app import create_app as create_eservice
from idp import create_app
from idp import migrate
from idp.cli.demo import DEMO_CLIENT_NAME
from idp.cli.demo import DEMO_CLIENT_NAME_TH
from tests.factories import make_client
from tests.support.apps import close_app

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
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
#: The journeys' languages, and the browser language (Accept-Language) a person of each has.
LANGUAGES = ("th", "en")
BROWSER_LOCALES = {"th": "th-TH", "en": "en-US"}
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

    def mail_to(self, address: str) -> list[str]:
        """The messages sent to ``address``, oldest first, as the outbox's readable ``.txt`` copies
        (headers, a blank line, the text), which is what a developer reads with ``cat``."""
        outbox = Path(self.app.config["MAIL_OUTBOX_DIR"])
        texts = [path.read_text(encoding="utf-8") for path in sorted(outbox.glob("*.txt"))] if outbox.is_dir() else []
        return [text for text in texts if f"\nTo: {address}\n" in "\n" + text.partition("\n\n")[0] + "\n"]

    def words(self, lang: str, message: str, plural: str | None = None, **values: Any) -> str:
        """``message`` as the IdP says it in ``lang`` (its catalogue), to look for on a page;
        with ``plural``, the form for ``num``."""
        with self.app.test_request_context(), force_locale(lang):
            return ngettext(message, plural, **values) if plural is not None else gettext(message, **values)


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
        close_app(app)


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


@dataclass
class DemoEService:
    """The demo e-Service (``examples/eservice``), the reference RP, registered at the live IdP."""

    url: str  # http://localhost:PORT
    name: str
    name_th: str
    client_id: str


@pytest.fixture
def demo_eservice(live_idp: LiveIdp) -> Iterator[DemoEService]:
    """The demo e-Service on ``http://localhost:<free port>``, under the names ``idp demo seed`` gives it.

    Threaded: its renew page calls its own licence API over HTTP.
    """
    deferred = _Deferred()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, deferred, threaded=True)
    base = f"http://localhost:{server.server_port}"
    name, name_th = DEMO_CLIENT_NAME, DEMO_CLIENT_NAME_TH
    registered = make_client(live_idp.app, name=name, name_th=name_th,
                             redirect_uris=[f"{base}/callback"], post_logout_redirect_uris=[f"{base}/"])
    deferred.app = create_eservice({
        "ESERVICE_ISSUER": live_idp.url, "ESERVICE_CLIENT_ID": registered.client.client_id,
        "ESERVICE_CLIENT_SECRET": registered.client_secret, "ESERVICE_REDIRECT_URI": f"{base}/callback",
        "ESERVICE_POST_LOGOUT_REDIRECT_URI": f"{base}/"})
    thread = _serve(server)
    try:
        yield DemoEService(url=base, name=name, name_th=name_th, client_id=registered.client.client_id)
    finally:
        _stop(server, thread)


def new_context(browser: Any, *, conditional_ui: bool = False, locale: str = "en-US",
                user_agent: str | None = None) -> Any:
    """A fresh browser profile (no cookies); in English unless ``locale`` says otherwise."""
    ctx = browser.new_context(locale=locale, **({"user_agent": user_agent} if user_agent else {}))
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


# -- The journeys, in Thai and in English --------------------------------------------------------------


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    """The person's language: their browser's (Accept-Language), so every page and email is in it."""
    return str(request.param)


@dataclass
class Screenshots:
    """``screenshots/<test>/<lang>/``, numbered in the order the steps happened (in any browser)."""

    folder: Path
    taken: int = 0

    def take(self, page: Any, name: str) -> None:
        self.taken += 1
        page.screenshot(path=str(self.folder / f"{self.taken:02d}-{name}.png"), full_page=True)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest, lang: str) -> Screenshots:
    """This test's folder for this language, emptied of an earlier run's pictures."""
    folder = SCREENSHOTS / request.node.originalname / lang
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


@dataclass
class Journey:
    """One person's browser on a journey in one language: each step is checked and photographed."""

    page: Any
    lang: str
    live: LiveIdp
    shots: Screenshots

    def step(self, name: str) -> None:
        """The IdP's page is in the person's language; the picture is ``NN-name.png``."""
        self.page.wait_for_load_state()
        if self.page.url.startswith(self.live.url + "/"):
            assert self.page.get_attribute("html", "lang") == self.lang, (name, self.page.url)
        self.shots.take(self.page, name)

    def words(self, message: str, plural: str | None = None, **values: Any) -> str:
        return self.live.words(self.lang, message, plural, **values)

    def submit(self, form: str, button: str = "button[type=submit]") -> None:
        """Press ``button`` of the form ``form`` (a selector) and wait for the next page."""
        with self.page.expect_navigation():
            self.page.click(f"{form} {button}")


@contextlib.contextmanager
def browsing(browser: Any, live: LiveIdp, lang: str, shots: Screenshots, *,
             locale: str | None = None, user_agent: str | None = None) -> Iterator[Journey]:
    """A fresh browser profile whose language is ``lang`` (or ``locale``), on its journey."""
    ctx = new_context(browser, locale=locale or BROWSER_LOCALES[lang], user_agent=user_agent)
    try:
        yield Journey(page=ctx.new_page(), lang=lang, live=live, shots=shots)
    finally:
        ctx.close()


@pytest.fixture
def journey(browser: Any, live_idp: LiveIdp, lang: str, screenshots: Screenshots) -> Iterator[Journey]:
    """A person whose browser speaks ``lang``."""
    with browsing(browser, live_idp, lang, screenshots) as started:
        yield started
