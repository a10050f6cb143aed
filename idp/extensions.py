"""Unbound extension singletons, ``init_app``'d by the factory."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from flask import request as flask_request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect


class BearerProtector(ResourceProtector):
    """Bearer tokens from the ``Authorization`` header or, on a form POST, the ``access_token`` field.

    RFC 6750 §2.2 (form-encoded body parameter), which OIDC Core §5.3.1 allows at userinfo.
    """

    def parse_request_authorization(self, request: Any) -> Any:
        if not request.headers.get("Authorization") and flask_request.method == "POST" \
                and flask_request.mimetype == "application/x-www-form-urlencoded":
            token = flask_request.form.get("access_token")
            if token:
                return self.get_token_validator("bearer"), token
        return super().parse_request_authorization(request)


authorization = AuthorizationServer()
require_oauth = BearerProtector()
babel = Babel()
csrf = CSRFProtect()
