"""Client authentication at /token, /introspect and /revoke: one method per request, and errors
that say what is wrong.

Authlib tries every allowed method in turn and, when none fits, answers with the list of all of
them. Here the request's credentials decide the one method it used (RFC 6749 §2.3: "The client
MUST NOT use more than one authentication method in each request"), only that method is tried,
and a failure names what the client is registered for and what the request sent.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_plus

from authlib.oauth2.rfc6749 import ClientAuthentication
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidRequestError

from idp.oidc.models import Client


class AuthMethod(StrEnum):
    """``token_endpoint_auth_method`` values (RFC 7591 §2, OIDC Core §9)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


_FAILED = {
    AuthMethod.CLIENT_SECRET_BASIC: "The client_id or client secret in the Authorization header is not correct.",
    AuthMethod.CLIENT_SECRET_POST: "The client_id or client_secret in the request body is not correct.",
    AuthMethod.PRIVATE_KEY_JWT: "Send both client_assertion and client_assertion_type "
                                "(urn:ietf:params:oauth:client-assertion-type:jwt-bearer).",
    AuthMethod.NONE: "The request carries no client credentials and no client_id.",
}


def presented_methods(request: Any) -> list[AuthMethod]:
    """The authentication methods a request carries credentials for, without reading them.

    ``client_id`` alone is not a method (RFC 6749 §4.1.3 sends it beside any of them).
    """
    found = []
    scheme = (request.headers.get("Authorization") or "").strip().split(" ", 1)[0]
    if scheme.lower() == "basic":
        found.append(AuthMethod.CLIENT_SECRET_BASIC)
    form = request.form
    if form.get("client_secret"):
        found.append(AuthMethod.CLIENT_SECRET_POST)
    if form.get("client_assertion") or form.get("client_assertion_type"):
        found.append(AuthMethod.PRIVATE_KEY_JWT)
    return found


def basic_credentials(header: str) -> tuple[str, str]:
    """The ``client_id`` and secret in an ``Authorization: Basic`` header.

    RFC 7617 §2: base64 of ``user-id ":" password``, without control characters. RFC 6749
    §2.3.1: both were form-urlencoded first, so each is percent-decoded (``+`` is a space) as
    UTF-8. Authlib's parser, which this replaces, let a header that is not ASCII or base64 that
    is not UTF-8 escape as a 500, and percent-decoded ``%00`` into a NUL.

    :raises InvalidClientError: anything else, with 401 and a challenge (RFC 6749 §5.2)
    """
    _scheme, _, token = header.strip().partition(" ")
    try:
        decoded = base64.b64decode(token.strip().encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error) as exc:  # UnicodeEncodeError: a header that is not ASCII
        raise _invalid("The Authorization header is not Basic credentials: "
                       "base64 of the UTF-8 text client_id:client_secret.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid("The Basic credentials have no colon between client_id and client_secret.")
    try:
        client_id, secret = unquote_plus(client_id, errors="strict"), unquote_plus(secret, errors="strict")
    except UnicodeDecodeError as exc:
        raise _invalid("The Basic credentials are not percent-encoded UTF-8 (RFC 6749 section 2.3.1).") from exc
    if not client_id or not secret:
        raise _invalid("The Basic credentials need both a client_id and a client_secret.")
    if any(ord(c) < 0x20 or c == "\x7f" for c in client_id + secret):
        raise _invalid("The Basic credentials contain control characters (RFC 7617 section 2).")
    return client_id, secret


def authenticate_client_secret_basic(query_client: Callable[[str], Client | None], request: Any) -> Client | None:
    """``client_secret_basic`` for Authlib's registry, over :func:`basic_credentials`; as
    Authlib's own, an unknown client is an error and a wrong secret is ``None``."""
    client_id, secret = basic_credentials(request.headers.get("Authorization") or "")
    client = query_client(client_id)
    if client is None:
        raise _invalid("The client does not exist on this server.")
    return client if client.check_client_secret(secret) else None


def used_instead(method: str) -> str:
    return "sent no client credentials" if method == AuthMethod.NONE else f"used {method}"


def _invalid(description: str) -> InvalidClientError:
    # RFC 6749 §5.2: 401 (with a WWW-Authenticate challenge, which Authlib adds for 401).
    return InvalidClientError(status_code=401, description=description)


class OneMethodClientAuthentication(ClientAuthentication):  # type: ignore[misc]
    """Authlib's registry of methods, deciding on the single method the request used.

    ``client_secret_basic`` is this module's strict parser rather than Authlib's.
    """

    def __init__(self, query_client: Callable[[str], Client | None]) -> None:
        super().__init__(query_client)
        self.register(AuthMethod.CLIENT_SECRET_BASIC, authenticate_client_secret_basic)

    def authenticate(self, request: Any, methods: list[str], endpoint: str) -> Client:
        presented = presented_methods(request)
        if len(presented) > 1:
            raise InvalidRequestError(
                f"The request authenticates the client in more than one way ({' and '.join(presented)}); "
                "use only one (RFC 6749 section 2.3).")
        method = presented[0] if presented else AuthMethod.NONE
        if method not in methods:
            raise _invalid("This endpoint requires client authentication." if method == AuthMethod.NONE
                           else f"This endpoint does not accept {method}.")
        seen: list[Client] = []
        client = self._call(method, request, seen)
        if client is None:
            if seen and seen[-1].token_endpoint_auth_method != method:
                raise _invalid(_mismatch(seen[-1], method))
            raise _invalid(_FAILED[method])
        # A confidential client never authenticates with "none" (RFC 6749 §3.2.1), at any endpoint.
        if not client.check_endpoint_auth_method(method, endpoint) or (
                method == AuthMethod.NONE and not client.check_endpoint_auth_method(method, "token")):
            raise _invalid(_mismatch(client, method))
        request.auth_method = method
        return client

    def _call(self, method: str, request: Any, seen: list[Client]) -> Client | None:
        """Run the method's function, remembering which client it looked up, so that a failure
        can say what that client is registered for."""

        def query_client(client_id: Any) -> Client | None:
            client: Client | None = self.query_client(client_id)
            if client is not None:
                seen.append(client)
            return client

        func: Callable[..., Client | None] = self._methods[method]
        try:
            return func(query_client, request)
        except InvalidClientError as exc:
            # e.g. an assertion from a client registered for a secret: say that, not "no keys".
            if seen and seen[-1].token_endpoint_auth_method != method:
                raise _invalid(_mismatch(seen[-1], method)) from exc
            raise


def _mismatch(client: Client, method: str) -> str:
    return f"This client authenticates with {client.token_endpoint_auth_method}; the request {used_instead(method)}."
