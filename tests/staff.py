"""Staff members for console tests: an account with roles and a TOTP, signed in at AAL2, and for
admins a security key used in the session (the console's rule for the admin role)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from idp.accounts import roles as staff_roles
from idp.accounts.service import find_by_email
from idp.authn import totp
from idp.db import get_session
from tests.factories import make_user
from tests.flows import csrf_of
from tests.flows import sign_in
from tests.support.soft_authenticator import SoftAuthenticator

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_staff(app: Flask, email: str, *roles: str) -> int:
    """An account holding ``roles`` (none: a plain citizen), with a TOTP; its id."""
    with app.app_context():
        db = get_session()
        user = find_by_email(db, email)
        if user is None:
            make_user(app, email, name="Staff " + email.split("@")[0])
            user = find_by_email(db, email)
        for role in roles:
            staff_roles.grant(db, user, role)
        if not db.scalar(_totp_count(user.id)):
            totp.import_secret(db, user, TOTP_SECRET, name="Token", config=app.config)
        return user.id


def _totp_count(user_id: int) -> Any:
    from sqlalchemy import func
    from sqlalchemy import select

    from idp.authn.models import TotpCredential

    return select(func.count()).select_from(TotpCredential).where(TotpCredential.user_id == user_id)


def browser(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def csrf(client: FlaskClient) -> str:
    return csrf_of(client.get("/signin").text)


def post(client: FlaskClient, url: str, **data: Any) -> Any:
    """A console form post with the CSRF token (``data`` values may be lists for repeated fields)."""
    return client.post(url, data={"csrf_token": csrf(client), **data})


def totp_step_up(client: FlaskClient, clock: Any, next_url: str = "/console/") -> None:
    page = client.get("/signin/more?aal=2&next=" + next_url)
    clock.advance(30)  # a TOTP step no earlier code used
    response = client.post("/signin/more?aal=2", data={
        "csrf_token": csrf_of(page.text), "next": next_url, "method": "totp",
        "code": totp.code_at(TOTP_SECRET, totp.current_step())})
    assert response.status_code == 302, response.text


def key_step_up(client: FlaskClient, key: SoftAuthenticator, next_url: str = "/console/") -> Any:
    """Use a registered security key in this session (``/signin/more?with=webauthn``)."""
    token = csrf(client)
    options = client.post("/webauthn/authenticate/options", json={"step_up": True, "aal": 2},
                          headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.text
    done = client.post("/webauthn/authenticate", json={"credential": key.get(options.json), "next": next_url},
                       headers={"X-CSRFToken": token})
    assert done.status_code == 200, done.text
    return done


def register_key(client: FlaskClient, key: SoftAuthenticator, name: str = "Admin key") -> None:
    token = csrf(client)
    options = client.post("/webauthn/register/options", json={"kind": "security-key"}, headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.text
    done = client.post("/webauthn/register", json={"credential": key.create(options.json), "name": name},
                       headers={"X-CSRFToken": token})
    assert done.status_code == 200, done.text


def staff_client(app: Flask, clock: Any, email: str, *roles: str, aal: int = 2) -> FlaskClient:
    """Signed in as a staff member holding ``roles``: password, then TOTP (``aal=2``).

    An admin also registers a security key and uses it, so admin pages open.
    """
    make_staff(app, email, *roles)
    client = browser(app)
    assert sign_in(client, email).status_code == 302
    if aal >= 2:
        totp_step_up(client, clock)
        if "admin" in roles:
            key = SoftAuthenticator(user_verified=False)
            register_key(client, key)
            key_step_up(client, key)
            client.admin_key = key  # type: ignore[attr-defined]
    return client


def admin_client(app: Flask, clock: Any, email: str = "admin@example.com") -> FlaskClient:
    return staff_client(app, clock, email, "admin")
