"""The demo e-Service (Authlib's OIDC client) signs the demo citizen in against a live IdP and signs out."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from examples.eservice.app import create_app
from tests.interop.conftest import Account
from tests.interop.conftest import LiveIdp
from tests.support.serving import free_port

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def eservice(live_idp: LiveIdp) -> Iterator[str]:
    port = free_port()
    base = f"http://localhost:{port}"
    client = live_idp.cli("clients", "add", "--name", "Restaurant licence (demo)",
                          "--redirect-uri", f"{base}/callback", "--post-logout-redirect-uri", f"{base}/",
                          "--join-sector")
    app = create_app({"ESERVICE_ISSUER": live_idp.issuer, "ESERVICE_CLIENT_ID": client["client_id"],
                      "ESERVICE_CLIENT_SECRET": client["client_secret"], "ESERVICE_REDIRECT_URI": f"{base}/callback",
                      "ESERVICE_POST_LOGOUT_REDIRECT_URI": f"{base}/"})
    server = make_server("127.0.0.1", port, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base
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


def test_demo_citizen_signs_in_to_the_demo_eservice_and_out(live_idp: LiveIdp, account: Account,
                                                            eservice: str) -> None:
    browser = requests.Session()
    headers = {"Accept-Language": "en"}
    page: Any = browser.get(f"{eservice}/login", headers=headers, timeout=10)
    action, fields = _form(page.text, 'autocomplete="current-password"')
    page = browser.post(live_idp.issuer + action, headers=headers, timeout=10,
                        data={**fields, "email": account.email, "password": account.password})
    action, fields = _form(page.text, 'name="decision"')
    page = browser.post(live_idp.issuer + action, headers=headers, timeout=10, data={**fields, "decision": "allow"})
    assert page.url == f"{eservice}/"
    assert "urn:th:digitalid:ial1:aal1" in page.text and account.name in page.text
    action, fields = _form(page.text, "Sign out")
    page = browser.post(eservice + action, data=fields, headers=headers, timeout=10)
    assert page.url.startswith(f"{eservice}/")
    assert account.name not in page.text
    # the IdP session ended too: signing in again asks for the password
    again = browser.get(f"{eservice}/login", headers=headers, timeout=10)
    assert 'autocomplete="current-password"' in again.text
