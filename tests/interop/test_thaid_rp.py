"""An e-Service written for ThaID signs in to a live idp with nothing changed but its discovery URL.

The relying party follows the conventions of ETDA's sample ThaID relying parties (``ETDA/ThaiD-Python-RP``,
read for its conventions, not copied): Flask with Authlib's ``flask_client``, the provider registered by
name with its ``server_metadata_url`` and ThaID scopes that double as claim names (``openid pid ial
given_name_en family_name_en``), the client id and secret in the Flask config as ``THAID_CLIENT_ID`` /
``THAID_CLIENT_SECRET``, no PKCE, and the person's details read from ``token["userinfo"]`` (the ID
token Authlib checked). Only ``THAID_WELL_KNOWN_URL`` points at this IdP. The operator registers it
with those scopes, ``--allow-national-id`` for ``pid`` and ``--no-pkce`` (docs/thaid-migration.md).

The person proves their identity first with the remote card check (the demo registry's Kanya
Wongsawat), so the ETDA identity level is 1.3 (docs/assurance.md §2a).
"""

from __future__ import annotations

import email
import re
import secrets
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pyotp
import pytest
from flask import Flask
from flask import jsonify
from flask import session
from flask import url_for

from tests.interop.browser import TIMEOUT
from tests.interop.browser import Browser
from tests.interop.browser import Person
from tests.interop.browser import form
from tests.interop.conftest import REDIRECT_URI
from tests.interop.conftest import LiveIdp
from tests.interop.conftest import missing_library

try:
    from authlib.integrations.flask_client import OAuth
except ImportError:
    missing_library("Authlib")

pytestmark = pytest.mark.interop

RP_BASE = "https://rp.example"
#: ThaID's scopes this e-Service uses: each is also the name of the claim it gets.
THAID_SCOPE = "openid pid ial given_name_en family_name_en"
#: The demo registry's Kanya Wongsawat (idp/data/registry.json): fictitious, like everyone in it.
KANYA_CARD = {"number": "1999900001052", "laser_code": "ME5-5000005-05", "given_name": "Kanya",
              "family_name": "Wongsawat", "given_name_th": "กัญญา", "family_name_th": "วงศ์สวัสดิ์",
              "birthdate": "1995-05-05"}
KANYA_CONTACT = "kanya@example.com"


def thaid_rp(well_known_url: str, client_id: str, client_secret: str) -> Flask:
    """The e-Service as written for ThaID; ``well_known_url`` is the one line that changes."""
    app = Flask(__name__)
    app.secret_key = secrets.token_hex(16)
    app.config.update(THAID_CLIENT_ID=client_id, THAID_CLIENT_SECRET=client_secret, SERVER_NAME="rp.example",
                      PREFERRED_URL_SCHEME="https")
    oauth = OAuth(app)
    oauth.register(name="thaid", server_metadata_url=well_known_url, client_kwargs={"scope": THAID_SCOPE})

    @app.route("/login")
    def login() -> Any:
        return oauth.thaid.authorize_redirect(url_for("auth", _external=True))

    @app.route("/cb")
    def auth() -> Any:
        token = oauth.thaid.authorize_access_token()
        session["user"] = token["userinfo"]
        return jsonify(user=dict(token["userinfo"]), scope=token.get("scope"))

    return app


def _prove_identity(browser: Browser, idp: LiveIdp) -> None:
    """At the IdP: sign in, submit the card details, then the code sent to the registry's contact address."""
    http = browser.http
    page = http.get(idp.issuer + "/proofing/start", timeout=TIMEOUT)  # the sign-in page first
    action, fields = form(page.text, 'autocomplete="current-password"')
    page = http.post(urljoin(page.url, action), timeout=TIMEOUT,
                     data={**fields, "email": browser.person.email, "password": browser.person.password})
    action, fields = form(page.text, 'name="laser_code"')
    page = http.post(urljoin(page.url, action), data={**fields, **KANYA_CARD}, timeout=TIMEOUT)
    assert "/proofing/confirm" in page.url, page.text
    action, fields = form(page.text, 'name="code"')
    page = http.post(urljoin(page.url, action), data={**fields, "code": _code_sent_to(idp, KANYA_CONTACT)},
                     timeout=TIMEOUT)
    assert page.status_code == 200, page.text


def _code_sent_to(idp: LiveIdp, address: str) -> str:
    outbox = Path(idp.env.get("IDP_MAIL_OUTBOX_DIR") or Path(idp.env["IDP_INSTANCE_PATH"]) / "outbox")
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        body = message.get_body(preferencelist=("plain",))
        match = re.search(r"\b(\d{6})\b", body.get_content() if body is not None else "")
        if message["To"] == address and match:
            return match.group(1)
    raise AssertionError(f"no code for {address} in {outbox}")


def test_a_thaid_relying_party_signs_in_with_only_its_discovery_url_changed(live_idp: LiveIdp) -> None:
    person = Person(f"thaid-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18), pyotp.random_base32())
    live_idp.cli("users", "create", "--email", person.email, "--password", person.password, "--name", "Kanya W.")
    registered = live_idp.add_client("--no-pkce", "--allow-national-id", *[
        arg for scope in THAID_SCOPE.split() for arg in ("--scope", scope)])
    browser = Browser(person)
    _prove_identity(browser, live_idp)

    rp = thaid_rp(live_idp.issuer + "/.well-known/openid-configuration", registered["client_id"],
                  registered["client_secret"]).test_client()
    login = rp.get(RP_BASE + "/login")
    assert login.status_code == 302
    callback = browser.authorize(login.headers["Location"])
    assert callback.startswith(REDIRECT_URI)
    done = rp.get(callback)
    assert done.status_code == 200, done.text
    user = done.json["user"]
    assert user["pid"] == KANYA_CARD["number"]
    assert user["given_name_en"] == "Kanya" and user["family_name_en"] == "Wongsawat"
    assert user["ial"] == "1.3"  # the remote card check, as the level policy names it
    assert user["iss"] == live_idp.issuer and registered["client_id"] in user["aud"]
    assert browser.filled == ["consent"]  # signed in already while proving; the national ID needs consent
