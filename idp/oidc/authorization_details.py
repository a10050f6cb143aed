"""The ``authorization_details`` request parameter (RFC 9396 Rich Authorization Requests).

An e-Service describes the transaction the person is about to approve ("pay a fee of ฿1,250.00
for a passport renewal, reference ABC-123") in types the operator registered
(:mod:`idp.rar`). The authorization endpoint (and pushed authorization requests) parse it with
:func:`parse_authorization_details`; the consent page shows it with :func:`render_details`; the
code, its tokens, the token response and introspection carry it unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from sqlalchemy.orm import Session

from idp.oidc.models import Client
from idp.rar import service
from idp.rar.definitions import DetailRejected
from idp.rar.definitions import Rendered
from idp.rar.definitions import check_detail
from idp.rar.definitions import render

# Bounds on what is parsed and then stored with the code and every token (a GET request is held
# to idp.oidc.authorize.MAX_REQUEST_URL anyway; a pushed request is not).
MAX_LENGTH = 4096
MAX_DETAILS = 10


class InvalidAuthorizationDetails(OAuth2Error):
    """RFC 9396 §5: "invalid_authorization_details: The AS MUST refuse to process any unknown
    authorization details type or authorization details not conforming to the respective type
    definition." """

    error = "invalid_authorization_details"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads would otherwise accept NaN and Infinity


def parse_authorization_details(raw: str | None, client: Client, *, db: Session | None = None,
                                redirect_uri: str | None = None) -> list[dict[str, Any]]:
    """The details of a request, each checked against its registered type.

    RFC 9396 §2: the parameter is "a JSON array of JSON objects", each with a ``type``. Refused
    with ``invalid_authorization_details``: malformed JSON, anything but an array of objects, an
    element without a string ``type``, a type not registered (or inactive), a type the operator
    did not open to this e-Service, and a detail its type's JSON Schema rejects. The description
    never repeats what the e-Service sent. An absent or empty parameter (or ``[]``) is no details.

    :param redirect_uri: the already verified redirect URI, for the authorization endpoint to
        send the error back to (RFC 6749 §4.1.2.1); ``None`` for a JSON error (PAR)
    :param db: the session to read types with (default: the request's)
    :raises InvalidAuthorizationDetails:
    """
    if not raw:
        return []

    def invalid(description: str) -> InvalidAuthorizationDetails:
        return InvalidAuthorizationDetails(description, redirect_uri=redirect_uri)

    if len(raw) > MAX_LENGTH:
        raise invalid(f"authorization_details is longer than {MAX_LENGTH} characters.")
    try:
        details = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise invalid("authorization_details is not valid JSON.") from exc
    if not isinstance(details, list):
        raise invalid("authorization_details must be a JSON array.")
    if len(details) > MAX_DETAILS:
        raise invalid(f"authorization_details has more than {MAX_DETAILS} elements.")
    for index, detail in enumerate(details):
        if not isinstance(detail, dict):
            raise invalid(f"authorization_details[{index}] is not a JSON object.")
        if not isinstance(detail.get("type"), str) or not detail["type"]:
            raise invalid(f"authorization_details[{index}] has no 'type'.")
    if db is None:
        from idp.db import get_session

        db = get_session()
    types = service.active_types(db, (d["type"] for d in details))
    for index, detail in enumerate(details):
        row = types.get(detail["type"])
        # Unknown and not-for-this-client read alike: the answer does not list another agency's types.
        if row is None or not row.allows(client.client_id):
            raise invalid(f"authorization_details[{index}] has a type this e-Service may not use.")
        try:
            check_detail(row.json_schema, detail)
        except DetailRejected as exc:
            raise invalid(f"authorization_details[{index}] {exc}") from exc
    return details


def render_details(db: Session, details: list[dict[str, Any]], locale: str) -> list[Rendered]:
    """The details as the consent page shows them, in the reader's language."""
    rows = service.active_types(db, (d["type"] for d in details))
    shown = []
    for detail in details:
        row = rows.get(detail["type"])
        if row is not None:  # checked moments ago; a type made inactive since cannot be approved anyway
            shown.append(render(service.definition_of(row), detail, locale))
    return shown


def types_of(details: list[dict[str, Any]]) -> list[str]:
    """The types alone: what the audit log keeps (amounts and references stay out of it)."""
    return sorted({str(d.get("type")) for d in details})
