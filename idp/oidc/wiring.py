"""Authlib wiring for the OpenID Provider: the protocol parts registered once, the keyring per app.

Kept out of the package's ``__init__`` so that importing any ``idp.oidc`` module (tokens, models)
does not import the views, which import half the application back (a cycle when a service module
is the first thing imported)."""

from __future__ import annotations

from flask import Flask

from idp.db import engine_of
from idp.extensions import authorization
from idp.extensions import require_oauth
from idp.keyring import Keyring
from idp.oidc.client_auth import PrivateKeyJWT
from idp.oidc.client_credentials import ClientCredentialsGrant
from idp.oidc.client_methods import OneMethodClientAuthentication
from idp.oidc.dpop_validator import DPoPTokenValidator
from idp.oidc.endpoints import BearerTokenValidator
from idp.oidc.endpoints import EndSessionEndpoint
from idp.oidc.endpoints import IntrospectionEndpoint
from idp.oidc.endpoints import RevocationEndpoint
from idp.oidc.grants import AuthorizationCodeGrant
from idp.oidc.grants import OpenIDCode
from idp.oidc.grants import RefreshTokenGrant
from idp.oidc.grants import S256CodeChallenge
from idp.oidc.par import PushedAuthorizationEndpoint
from idp.oidc.storage import query_client
from idp.oidc.storage import save_token
from idp.oidc.token_exchange import TokenExchangeGrant
from idp.oidc.views import bp

__all__ = ["bp", "init_app"]

_registered: list[bool] = []


def init_app(app: Flask) -> None:
    cfg = app.config
    retire_after = max(int(cfg["ACCESS_TOKEN_LIFETIME"]), int(cfg["ID_TOKEN_LIFETIME"])) + 60
    app.extensions["idp.keyring"] = Keyring(engine_of(app), cfg.get("KEYS_SECRET") or cfg["SECRET_KEY"],
                                            retire_after=retire_after,
                                            refresh_every=float(cfg["KEYS_REFRESH_SECONDS"]))
    authorization.init_app(app, query_client=query_client, save_token=save_token)
    if _registered:
        return  # the singletons hold no per-app state beyond config; register protocol parts once
    _registered.append(True)
    # One method per request, decided by the credentials sent (idp.oidc.client_methods); Authlib
    # has no public hook for the registry, which it otherwise creates on the first registration.
    authorization._client_auth = OneMethodClientAuthentication(query_client)
    authorization.register_client_auth_method("private_key_jwt", PrivateKeyJWT())
    authorization.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode()])
    authorization.register_grant(RefreshTokenGrant)
    authorization.register_grant(ClientCredentialsGrant)
    authorization.register_grant(TokenExchangeGrant)
    authorization.register_endpoint(RevocationEndpoint)
    authorization.register_endpoint(IntrospectionEndpoint)
    authorization.register_endpoint(EndSessionEndpoint)
    authorization.register_endpoint(PushedAuthorizationEndpoint)
    require_oauth.register_token_validator(BearerTokenValidator())
    require_oauth.register_token_validator(DPoPTokenValidator())
