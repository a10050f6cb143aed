"""Unbound extension singletons, ``init_app``'d by the factory."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

authorization = AuthorizationServer()
require_oauth = ResourceProtector()
babel = Babel()
csrf = CSRFProtect()
