"""The identity provider as Authlib's Flask client sees it: registration and discovery."""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.flask_client import FlaskOAuth2App
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from flask import current_app
from requests.adapters import BaseAdapter

from .errors import EServiceError


def register_idp(app: Flask) -> None:
    """Register the IdP with Authlib; discovery is fetched on first use, not now.

    That keeps ``create_app()`` working while the IdP is still starting. For tests,
    ``ESERVICE_SERVER_METADATA`` (a dict) replaces discovery and ``ESERVICE_HTTP_ADAPTER``
    (a requests adapter) replaces the network, as httpx's MockTransport would.
    """
    issuer = app.config["ESERVICE_ISSUER"]
    if metadata := app.config.get("ESERVICE_SERVER_METADATA"):
        source = dict(metadata)  # Authlib adds the JWKS to it: keep the caller's dict clean
    else:  # Discovery §4: "any terminating / MUST be removed before appending /.well-known"
        source = {"server_metadata_url": issuer.rstrip("/") + "/.well-known/openid-configuration"}
    OAuth(app).register(
        "idp",
        client_id=app.config["ESERVICE_CLIENT_ID"],
        client_secret=app.config["ESERVICE_CLIENT_SECRET"],
        client_kwargs={
            "scope": app.config["ESERVICE_SCOPE"],
            "code_challenge_method": "S256",  # the IdP refuses authorization requests without it
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": 10,  # seconds; a stuck IdP should give an error page, not a hang
        },
        client_cls=client_class(app.config.get("ESERVICE_HTTP_ADAPTER")),
        **source,
    )


def client_class(adapter: BaseAdapter | None) -> type[FlaskOAuth2App]:
    """Authlib's Flask client, or one whose HTTP requests all go through ``adapter``."""
    if adapter is None:
        return FlaskOAuth2App

    class AdaptedSession(OAuth2Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.mount("http://", adapter)
            self.mount("https://", adapter)

    return type("AdaptedFlaskOAuth2App", (FlaskOAuth2App,), {"client_cls": AdaptedSession})


def http_session() -> requests.Session:
    """A ``requests`` session for this e-Service's other HTTP calls (its licence API)."""
    session = requests.Session()
    if adapter := current_app.config.get("ESERVICE_HTTP_ADAPTER"):
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def idp() -> FlaskOAuth2App:
    """The current app's IdP client (one per app, so tests can build many apps)."""
    client: FlaskOAuth2App = current_app.extensions["authlib.integrations.flask_client"].idp
    return client


def provider_metadata() -> dict[str, Any]:
    """Load discovery once and make sure it describes the issuer we trust.

    OIDC Discovery §4.3: "The issuer value returned MUST be identical to the Issuer URL
    that was used as the prefix to /.well-known/openid-configuration".
    """
    metadata: dict[str, Any] = idp().load_server_metadata()
    expected, found = current_app.config["ESERVICE_ISSUER"], metadata.get("issuer")
    if found != expected:  # often just a trailing slash in ESERVICE_ISSUER
        raise EServiceError("Wrong identity provider", "Its discovery document names another issuer.",
                            status=502, detail=f"expected {expected!r}, found {found!r}")
    return metadata
