"""Plain functions that persist rows for tests."""

from __future__ import annotations

from typing import Any

from flask import Flask

from idp.accounts import service
from idp.accounts.models import User
from idp.db import get_session
from idp.oidc.clients import NewClient
from idp.oidc.clients import create_client

PASSWORD = "a long enough passphrase"
REDIRECT_URI = "https://rp.example/cb"


def make_user(app: Flask, email: str = "citizen@example.com", *, password: str = PASSWORD,
              name: str = "Somchai Jaidee") -> User:
    with app.app_context():
        return service.create_user(get_session(), email=email, password=password, name=name, email_verified=True)


def make_client(app: Flask, **kwargs: Any) -> NewClient:
    kwargs.setdefault("name", "Restaurant licence")
    kwargs.setdefault("redirect_uris", [REDIRECT_URI])
    kwargs.setdefault("post_logout_redirect_uris", ["https://rp.example/bye"])
    # Most tests make several e-Services on rp.example; tests of the sector rule pass False.
    kwargs.setdefault("join_sector", True)
    with app.app_context():
        return create_client(get_session(), **kwargs)
