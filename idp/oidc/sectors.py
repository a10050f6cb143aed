"""Pairwise sectors: which e-Services receive the same ``sub`` for a person (OIDC Core §8.1).

The pairwise ``sub`` is keyed by the host of ``sector_identifier_uri``, else by the single host of
the redirect URIs. Two rules keep an agency from joining a sector that is not its own:

- the sector identifier is fetched (through :mod:`idp.outbound`) at registration and on every
  change, and must list every redirect URI of the client (OIDC Registration §5: "the values
  registered in sector_identifier_uri MUST be a JSON array of redirect_uri values", and the
  provider "MUST validate that all the redirect_uris are included");
- a client joining a sector that a client of another agency already uses waits for an admin
  (dynamic registration) or needs the admin's explicit confirmation (console, CLI).

Clients with ``public`` subjects all see one ``sub`` per person, so they count as one sector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from idp import outbound
from idp.oidc.models import Client

PUBLIC = "public subject identifiers"


def sector_host(metadata: Mapping[str, Any]) -> str | None:
    """OIDC Core §8.1: the host of ``sector_identifier_uri``, else of the redirect URIs if they
    have one host (several hosts without a sector identifier are refused at registration)."""
    uri = metadata.get("sector_identifier_uri")
    if uri:
        return urlsplit(str(uri)).hostname or str(uri)
    hosts = {urlsplit(u).hostname or u for u in metadata.get("redirect_uris", [])}
    return hosts.pop() if len(hosts) == 1 else None


def sharing_key(metadata: Mapping[str, Any]) -> str | None:
    """What a client shares its ``sub`` values with: its sector host, or :data:`PUBLIC`."""
    return PUBLIC if metadata.get("subject_type") == "public" else sector_host(metadata)


def document_problem(metadata: Mapping[str, Any]) -> str | None:
    """Fetch ``sector_identifier_uri`` (fresh: the agency may just have changed it) and say what is
    wrong with it, or ``None`` when it lists every redirect URI (or there is none to check)."""
    uri = metadata.get("sector_identifier_uri")
    if not uri:
        return None
    try:
        document = outbound.fetcher().fetch_json(str(uri), media_types=outbound.JSON, refresh=True)
    except outbound.FetchError as exc:
        return f"sector_identifier_uri could not be fetched: {exc}"
    if not isinstance(document, list) or not all(isinstance(v, str) for v in document):
        return "sector_identifier_uri must return a JSON array of redirect URIs."
    missing = [u for u in metadata.get("redirect_uris", []) if u not in document]
    if missing:
        return (f"The document at sector_identifier_uri does not list the redirect URI {missing[0]!r}; "
                "it must list every redirect URI of this e-Service.")
    return None


def agency_of(client: Client) -> str | None:
    """The agency whose initial access token registered ``client``; ``None`` for the operator's own
    (console, CLI), which nothing ties to any agency."""
    return client.initial_token.agency if client.initial_token is not None else None


def joins(metadata: Mapping[str, Any], *, client: Client | None) -> bool:
    """Whether storing ``metadata`` puts ``client`` (``None``: a new one) into a sector it is not in."""
    return client is None or sharing_key(client.client_metadata) != sharing_key(metadata)


def foreign_sharers(db: Session, metadata: Mapping[str, Any], *, agency: str | None,
                    exclude: Client | None = None) -> list[Client]:
    """The other clients in ``metadata``'s sector that do not belong to ``agency``.

    Clients without an agency (the operator's) belong to none: sharing with them is never assumed.
    Sectors are computed from each client's metadata, the same function the ``sub`` uses, so the
    two cannot disagree; registration is rare enough to read the clients for it.
    """
    key = sharing_key(metadata)
    if key is None:
        return []
    others = db.scalars(select(Client).options(selectinload(Client.initial_token)).order_by(Client.id))
    return [c for c in others if c is not exclude and sharing_key(c.client_metadata) == key
            and (agency is None or agency_of(c) != agency)]


def describe_sharers(metadata: Mapping[str, Any], others: list[Client]) -> str:
    """A sentence for the admin: who already uses the sector and what joining means."""
    names = ", ".join(f"{c.name!r} ({agency_of(c) or 'registered by an admin'})" for c in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    key = sharing_key(metadata)
    where = PUBLIC if key == PUBLIC else f"the pairwise sector {key}"
    return (f"{where[0].upper()}{where[1:]} is already used by {names}{more}: they would receive the same "
            "subject identifier (sub) for every person as this e-Service. Join only if they belong to the "
            "same agency (console: tick “Join this sector”; CLI: --join-sector).")
