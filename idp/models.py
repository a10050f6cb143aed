"""Every domain's models, imported so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from idp.accounts.models import AuthSession
from idp.accounts.models import User
from idp.authn.models import AuditEvent
from idp.authn.models import RecoveryCode
from idp.authn.models import Throttle
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.db import Base
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Token
from idp.oidc.models import UsedAssertion

__all__ = ["AuditEvent", "AuthSession", "AuthorizationCode", "Base", "Client", "Consent", "RecoveryCode", "Throttle",
           "Token", "TotpCredential", "UsedAssertion", "User", "WebAuthnCredential"]
