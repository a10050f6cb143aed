"""Every domain's models, imported so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.db import Base
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Token
from idp.oidc.models import UsedAssertion

__all__ = ["AuthSession", "AuthorizationCode", "Base", "Client", "Consent", "Token", "UsedAssertion", "User"]
