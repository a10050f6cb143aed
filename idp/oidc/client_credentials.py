"""The ``client_credentials`` grant (RFC 6749 §4.4): an agency's back-end acting for itself.

Only confidential clients, and only the scopes the operator granted that client for machine use
(:func:`idp.oidc.resource_servers.machine_scopes`); nothing about a person: no user claims, no
ID token, no refresh token ("A refresh token SHOULD NOT be included", §4.4.3). With ``resource``
(RFC 8707) the token is for that registered API alone. With a DPoP proof (RFC 9449) the token is
bound to its key; clients registered for DPoP, FAPI 2.0 clients among them, must send one.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749 import UnauthorizedClientError
from authlib.oauth2.rfc6749 import grants

from idp.db import get_session
from idp.db import utc_now
from idp.oidc import dpop_requests
from idp.oidc import resource_servers
from idp.oidc import tokens
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.models import Client


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    # "none" authenticates a public client by its id only, so that it hears why it is refused
    # (unauthorized_client) rather than that it does not exist.
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        client: Client = self.authenticate_token_endpoint_client()
        self.request.client = client
        db = get_session()
        allowed = resource_servers.machine_scopes(db, client)
        if client.is_public or not allowed:
            raise UnauthorizedClientError("This client may not use client_credentials.")
        requested = list(dict.fromkeys((self.request.payload.scope or "").split())) or allowed
        refused = [s for s in requested if s not in allowed]
        if refused:
            raise InvalidScopeError(f"The scope {refused[0][:100]!r} was not granted to this client.")
        scope = " ".join(requested)
        self.request.target = resource_servers.resolve_target(
            db, self.request.form.getlist("resource"), scope=scope)
        self.request.machine_scope = scope
        # RFC 9449 §5: a proof binds the token to its key; clients registered for DPoP (and FAPI 2.0
        # clients) must send one.
        self.request.dpop = dpop_requests.proof_for_token_request(client)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        db = get_session()
        target = self.request.target
        context = tokens.GrantContext(auth_time=utc_now(), acr="", amr=[], sid=None,
                                      family=tokens.open_machine_family(db, "client"))
        token = tokens.generate(db, client=self.request.client, user=None, scope=self.request.machine_scope,
                                context=context, resource=target.identifier if target else None, refresh=False,
                                dpop_jkt=self.request.dpop.jkt if self.request.dpop else None)
        self.save_token(token)
        db.commit()
        return 200, token, self.TOKEN_RESPONSE_HEADER
