"""Back-channel logout, live: the demo e-Service, signed in, is signed out by the IdP's logout token
when the citizen signs out at the IdP (the browser never goes back to the e-Service in between)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from examples.eservice.app import create_app
from tests.interop.conftest import Account
from tests.interop.conftest import LiveIdp
from tests.support.serving import free_port

pytestmark = pytest.mark.interop

HEADERS = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def eservice(live_idp: LiveIdp) -> Iterator[tuple[str, Flask]]:
    port = free_port()
    base = f"http://localhost:{port}"
    client = live_idp.cli("clients", "add", "--name", "Restaurant licence (back-channel demo)",
                          "--redirect-uri", f"{base}/callback", "--post-logout-redirect-uri", f"{base}/",
                          # the address the server listens on: the IdP resolves nothing but loopback here
                          "--backchannel-logout-uri", f"http://127.0.0.1:{port}/backchannel-logout",
                          "--join-sector")
    app = create_app({"ESERVICE_ISSUER": live_idp.issuer, "ESERVICE_CLIENT_ID": client["client_id"],
                      "ESERVICE_CLIENT_SECRET": client["client_secret"], "ESERVICE_REDIRECT_URI": f"{base}/callback",
                      "ESERVICE_POST_LOGOUT_REDIRECT_URI": f"{base}/"})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base, app
    finally:
        server.shutdown()
        thread.join(5)


def _form(html: str, marker: str) -> tuple[str, dict[str, str]]:
    """The POST form containing ``marker``: its action and hidden fields."""
    for match in re.finditer(r'(?s)<form method="post" action="([^"]*)">(.*?)</form>', html):
        if marker in match.group(2):
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2)))
            return match.group(1).replace("&amp;", "&"), {k: v.replace("&amp;", "&") for k, v in hidden.items()}
    raise AssertionError(f"no form with {marker!r}")


def test_signing_out_at_the_idp_signs_the_demo_eservice_out_through_the_back_channel(
        live_idp: LiveIdp, account: Account, eservice: tuple[str, Flask]) -> None:
    base, app = eservice
    browser = requests.Session()
    page: Any = browser.get(f"{base}/login", headers=HEADERS, timeout=10)
    action, fields = _form(page.text, 'autocomplete="current-password"')
    page = browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10,
                        data={**fields, "email": account.email, "password": account.password})
    if 'name="decision"' in page.text:
        action, fields = _form(page.text, 'name="decision"')
        page = browser.post(live_idp.issuer + action, headers=HEADERS, timeout=10,
                            data={**fields, "decision": "allow"})
    assert page.url == f"{base}/" and account.name in page.text
    # The citizen signs out at the IdP, not at the e-Service.
    home = browser.get(live_idp.issuer + "/", headers=HEADERS, timeout=10)
    action, fields = _form(home.text, "Sign out")
    assert browser.post(live_idp.issuer + action, data=fields, headers=HEADERS, timeout=10).status_code == 200
    ended = app.extensions["eservice.ended_sessions"]
    deadline = time.monotonic() + 15
    while not ended._sids and time.monotonic() < deadline:  # the logout token arrives in the background
        time.sleep(0.1)
    assert ended._sids, f"no logout token arrived:\n{live_idp.log_tail()}"
    # The e-Service's own session is over: its page no longer knows the citizen, and signing in
    # again goes back to the IdP, which asks for the password (its session ended too).
    page = browser.get(f"{base}/", headers=HEADERS, timeout=10)
    assert account.name not in page.text and "Sign in with Digital ID" in page.text
    again = browser.get(f"{base}/login", headers=HEADERS, timeout=10)
    assert 'autocomplete="current-password"' in again.text
