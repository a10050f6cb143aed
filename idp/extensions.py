"""Unbound extension singletons, ``init_app``'d by the factory."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from flask import request as flask_request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect


class NoCredentials(MissingAuthorizationError):
    """RFC 6750 §3.1: a request with no credentials gets a bare challenge, without an error code."""

    def get_body(self) -> list[tuple[str, str]]:
        return []

    def get_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                ("WWW-Authenticate", f'Bearer realm="{self.realm}"')]


class BearerProtector(ResourceProtector):
    """Bearer tokens from the ``Authorization`` header or, on a form POST, the ``access_token`` field.

    RFC 6750 §2.2 (form-encoded body parameter), which OIDC Core §5.3.1 allows at userinfo.
    """

    def parse_request_authorization(self, request: Any) -> Any:
        if request.headers.get("Authorization"):
            return super().parse_request_authorization(request)
        if flask_request.method == "POST" and flask_request.mimetype == "application/x-www-form-urlencoded":
            token = flask_request.form.get("access_token")
            if token:
                return self.get_token_validator("bearer"), token
        raise NoCredentials("Bearer", "userinfo")


authorization = AuthorizationServer()
require_oauth = BearerProtector()
babel = Babel()
csrf = CSRFProtect()
