"""Every domain's models, imported so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from idp.accounts.models import AuthSession
from idp.accounts.models import PasswordReset
from idp.accounts.models import Role
from idp.accounts.models import User
from idp.audit.models import AuditEvent
from idp.audit.models import AuditHead
from idp.authn.models import RecoveryCode
from idp.authn.models import Throttle
from idp.authn.models import TotpCredential
from idp.authn.models import WebAuthnCredential
from idp.backchannel.models import LogoutDelivery
from idp.db import Base
from idp.disclosure.models import ConsentReceipt
from idp.disclosure.models import Disclosure
from idp.oidc.agency_models import DataUse
from idp.oidc.agency_models import ExchangePermission
from idp.oidc.agency_models import MachineAccess
from idp.oidc.agency_models import ResourceServer
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import SigningKeyRecord
from idp.oidc.models import Token
from idp.oidc.models import TokenFamily
from idp.oidc.models import UsedAssertion
from idp.oidc.models import UsedDPoPProof
from idp.proofing.models import ProofingAttempt
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.rar.models import AuthorizationDetailsType

__all__ = [
           "AuditEvent",
           "AuditHead",
           "AuthSession",
           "AuthorizationCode",
           "AuthorizationDetailsType",
           "Base",
           "Client",
           "Consent",
           "ConsentReceipt",
           "DataUse",
           "Disclosure",
           "ExchangePermission",
           "LogoutDelivery",
           "MachineAccess",
           "PasswordReset",
           "ProofingAttempt",
           "ProofingCase",
           "RecoveryCode",
           "ResourceServer",
           "Role",
           "SigningKeyRecord",
           "Throttle",
           "Token",
           "TokenFamily",
           "TotpCredential",
           "UsedAssertion",
           "UsedDPoPProof",
           "User",
           "VerifiedIdentity",
           "WebAuthnCredential",
]
