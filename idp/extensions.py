"""Unbound extension singletons, ``init_app``'d by the factory."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6749 import OAuth2Request
from flask import request as flask_request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect


class NoCredentials(MissingAuthorizationError):
    """RFC 6750 §3.1: a request with no credentials gets a bare challenge, without an error code."""

    def get_body(self) -> list[tuple[str, str]]:
        return []

    def get_headers(self) -> list[tuple[str, str]]:
        # RFC 9449 §7.1: the DPoP scheme is offered beside Bearer, with the proof algorithms.
        return [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                ("WWW-Authenticate", f'Bearer realm="{self.realm}"'),
                ("WWW-Authenticate", f'DPoP realm="{self.realm}", algs="ES256 PS256 EdDSA"')]


class BearerProtector(ResourceProtector):
    """Bearer tokens from the ``Authorization`` header or, on a form POST, the ``access_token`` field.

    RFC 6750 §2.2 (form-encoded body parameter), which OIDC Core §5.3.1 allows at userinfo.
    A token sent two ways is refused (RFC 6750 §2: "Clients MUST NOT use more than one method
    to transmit the token in each request"), the query string counting as one of them (§2.3).
    """

    def parse_request_authorization(self, request: Any) -> Any:
        ways = [bool(request.headers.get("Authorization")), "access_token" in flask_request.args,
                flask_request.mimetype == "application/x-www-form-urlencoded" and "access_token" in flask_request.form]
        if sum(ways) > 1:
            raise InvalidRequestError("The access token was sent in more than one way; send it once.")
        if request.headers.get("Authorization"):
            return super().parse_request_authorization(request)
        if flask_request.method == "POST" and flask_request.mimetype == "application/x-www-form-urlencoded":
            token = flask_request.form.get("access_token")
            if token:
                return self.get_token_validator("bearer"), token
        raise NoCredentials("Bearer", "userinfo")


class IdpAuthorizationServer(AuthorizationServer):
    """Authlib's Flask server, taking an already built request as it is: the authorization
    endpoint's parameters may come from a pushed request (RFC 9126, :mod:`idp.oidc.par`)."""

    def create_oauth2_request(self, request: Any) -> Any:
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)


authorization = IdpAuthorizationServer()
require_oauth = BearerProtector()
babel = Babel()
csrf = CSRFProtect()
