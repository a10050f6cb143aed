"""OAuth 2.0 Token Exchange (RFC 8693) between agencies, as an Authlib grant.

An agency's back-end that holds a citizen's access token (issued to it, or for its API) exchanges
it for a token to another agency's registered API. The rules, each refused with RFC 8693 §2.2.2's
codes:

- the caller is a confidential client the operator allowed to exchange at all
  (``unauthorized_client``), and allowed this very pair of caller and API (``invalid_target``);
- ``subject_token`` is an active access token of this IdP with a person behind it, and the
  caller is the party it was issued to or its audience (``invalid_grant``);
- scopes are only narrowed (``invalid_scope``) and must be accepted by the API (``invalid_target``);
- the new token names the caller as actor (``act``, §4.1) and carries the citizen's ``acr``,
  ``amr`` and ``auth_time``; there is no refresh token; with a DPoP proof it is bound to its key.

Each exchange is audited, and shown to the citizen as done "on your behalf"; each refusal is audited.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749 import UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant
from authlib.oauth2.rfc6749.grants import TokenEndpointMixin
from sqlalchemy import select

from idp import audit
from idp.db import get_session
from idp.disclosure.log import Via
from idp.disclosure.log import record_disclosure
from idp.oidc import dpop_requests
from idp.oidc import resource_servers
from idp.oidc import tokens
from idp.oidc.agency_models import ExchangePermission
from idp.oidc.agency_models import ResourceServer
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.models import Client
from idp.oidc.models import Token
from idp.oidc.resource_servers import InvalidTargetError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SINGLE = ("subject_token", "subject_token_type", "requested_token_type", "scope", "actor_token",
          "actor_token_type")


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS  # "none": a public client hears unauthorized_client

    def validate_token_request(self) -> None:
        client: Client = self.authenticate_token_endpoint_client()
        self.request.client = client
        try:
            self._validate(client)
        except OAuth2Error as err:
            subject: Token | None = getattr(self.request, "subject", None)
            audit.record(get_session(), audit.Event.TOKEN_EXCHANGE_REFUSED, client_id=client.id,
                         user_id=subject.user_id if subject is not None else None, error=err.error)
            raise

    def _validate(self, client: Client) -> None:
        db = get_session()
        form = self.request.form
        if client.is_public:
            raise UnauthorizedClientError("A public client cannot exchange tokens.")
        if db.scalar(select(ExchangePermission.id).where(ExchangePermission.client_id == client.id)) is None:
            raise UnauthorizedClientError("This client is not allowed to exchange tokens.")
        for name in SINGLE:
            if len(form.getlist(name)) > 1:
                raise InvalidRequestError(f"Repeated '{name}' parameter.")
        if not form.get("subject_token"):
            raise InvalidRequestError("Missing 'subject_token'.")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
        if form.get("requested_token_type") not in (None, "", ACCESS_TOKEN_TYPE):
            raise InvalidRequestError(f"Only {ACCESS_TOKEN_TYPE} can be issued.")
        if form.get("actor_token"):
            raise InvalidRequestError("actor_token is not supported: the authenticated client is the actor.")
        server = resource_servers.resolve_target(db, [*form.getlist("resource"), *form.getlist("audience")],
                                                 scope=None)
        if server is None:
            raise InvalidTargetError("Name the API with resource (or audience).")
        if not resource_servers.exchange_allowed(db, client, server):
            raise InvalidTargetError("This client is not allowed to exchange tokens for this API.")
        subject = self._subject(db, client, str(form["subject_token"]))
        self.request.subject = subject
        self.request.exchange_scope = self._scope(subject, server)
        self.request.target = server
        # RFC 9449 §5: bound to the proof's key; clients registered for DPoP must send one.
        self.request.dpop = dpop_requests.proof_for_token_request(client)

    @staticmethod
    def _subject(db: Any, client: Client, value: str) -> Token:
        row = tokens.find_access_token(db, value) if len(value) <= 4096 else None
        if (row is None or row.is_expired() or row.is_revoked() or not row.client.active
                or row.user is None or not row.user.is_active):
            raise InvalidGrantError("The subject_token is not an active access token of a person.")
        holder = row.client_id == client.id
        if not holder and row.resource is not None:
            own = resource_servers.of_client(db, client)
            holder = own is not None and own.identifier == row.resource
        if not holder:
            raise InvalidGrantError("The subject_token was neither issued to this client nor meant for its API.")
        return row

    def _scope(self, subject: Token, server: ResourceServer) -> str:
        held = subject.scope.split()
        asked = list(dict.fromkeys((self.request.payload.scope or "").split()))
        if asked:
            wider = [s for s in asked if s not in held]
            if wider:
                raise InvalidScopeError(f"The scope {wider[0][:100]!r} is not in the subject_token.")
            resource_servers.check_accepts(server, " ".join(asked))
            scope = [s for s in asked if s not in resource_servers.PROTOCOL_SCOPES]
        else:
            scope = [s for s in held if s in server.scopes and s not in resource_servers.PROTOCOL_SCOPES]
        if not scope:
            raise InvalidTargetError("The API accepts none of the scopes of the subject_token.")
        return " ".join(scope)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        db = get_session()
        client: Client = self.request.client
        subject: Token = self.request.subject
        server: ResourceServer = self.request.target
        scope: str = self.request.exchange_scope
        assert subject.user is not None
        act: dict[str, Any] = {"sub": client.client_id}
        if subject.act:
            act["act"] = subject.act  # RFC 8693 §4.1: the earlier actor, nested
        # The same family as the subject token: revoking the citizen's grant revokes this too.
        context = tokens.GrantContext(auth_time=subject.auth_time, acr=subject.acr, amr=list(subject.amr),
                                      sid=subject.sid, family=subject.family)
        token = tokens.generate(db, client=client, user=subject.user, scope=scope, context=context,
                                resource=server.identifier, act=act, refresh=False,
                                dpop_jkt=self.request.dpop.jkt if self.request.dpop else None)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        resource_servers.record_data_use(db, user_id=subject.user.id, client=client,
                                         source_client_id=subject.client_id, server=server, scope=scope)
        # The new token names the person to the other agency's API (its ``sub``); scopes say what
        # that API may then do, and the data_uses row above says so on Connected e-Services.
        record_disclosure(db, user_id=subject.user.id, client=client, claims=["sub"], acr=subject.acr,
                          via=Via.TOKEN_EXCHANGE, reference=subject.family)
        audit.record(db, audit.Event.TOKEN_EXCHANGED, user_id=subject.user.id, client_id=client.id, commit=False,
                     resource=server.identifier, scope=scope, subject_client=subject.client.client_id)
        self.save_token(token)
        db.commit()
        return 200, token, self.TOKEN_RESPONSE_HEADER
