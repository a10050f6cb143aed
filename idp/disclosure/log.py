"""The disclosure log: one row per release of claims to an e-Service, written where they leave.

What counts as released: every member of the ID token or userinfo response that is about the
person, by name (never the value): the scope and ``claims``-parameter claims, ``verified_claims``,
``national_id`` and ``sub`` (the person's pairwise identifier at that e-Service). The token's own
members (``iss aud exp iat nonce at_hash sid auth_time acr amr``) are not listed: they describe the
sign-in, not the person; the level (``acr``) has its own column. So for a release ``r`` the row
holds ``sorted(set(r) - NOT_PERSONAL)`` and nothing the e-Service did not receive.

Written by the token endpoint (ID token of the authorization code grant, in the transaction that
redeems the code), by userinfo, and by whoever else releases claims (token exchange, rich
authorization requests) through :func:`record_disclosure`. One INSERT each; nothing is read.
Rows live ``DISCLOSURE_RETENTION_DAYS`` and are deleted by ``idp db prune``, never earlier.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import csv_export
from idp.db import utc_now
from idp.disclosure.models import Disclosure
from idp.oidc.models import Client

# Members of an ID token or userinfo response that describe the token or the sign-in.
NOT_PERSONAL = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti", "nonce", "at_hash", "c_hash", "sid",
                          "auth_time", "acr", "amr", "azp"})
PAGE_SIZE = 20
EXPORT_FORMAT = "th-digitalid-disclosures/1"
CSV_HEADER = ("time_utc", "e_service", "client_id", "claims", "level", "via", "reference", "authorization_details")


class Via(StrEnum):
    """How the claims left the IdP."""

    AUTHORIZATION_CODE = "authorization_code"  # the ID token from a code
    REFRESH_TOKEN = "refresh_token"  # an ID token from a refresh (not issued today)
    USERINFO = "userinfo"
    TOKEN_EXCHANGE = "token_exchange"  # RFC 8693
    INTROSPECTION = "introspection"  # only if introspection ever returns claims about the person


def released_names(claims: Mapping[str, Any]) -> list[str]:
    """The names to record for a response holding ``claims``."""
    return sorted(name for name in claims if name not in NOT_PERSONAL)


def record_disclosure(db: Session, *, user_id: int, client: Client, claims: Iterable[str], acr: str,
                      via: Via | str, reference: str, details: list[dict[str, Any]] | None = None,
                      at: dt.datetime | None = None) -> Disclosure:
    """Add one log row (not committed: it goes with the caller's transaction).

    :param claims: the names released; pass the response itself through :func:`released_names`
    :param reference: the authorization (``tokens.family_of(code)``) or grant the release belongs to
    :param details: RFC 9396 ``authorization_details`` released with the claims, as JSON
    """
    row = Disclosure(user_id=user_id, client_id=client.id, service_name=client.name[:200], at=at or utc_now(),
                     via=str(Via(via)), claims=sorted(set(claims)), acr=acr[:100], reference=reference[:100],
                     details=details or None)
    db.add(row)
    return row


# -- reading: the person's own rows -----------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """A search of one person's log: by e-Service (``client`` is ``clients.id``) and date range.

    ``start`` is inclusive, ``end`` exclusive (the day after the last day asked for).
    """

    client: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class Page:
    rows: list[Disclosure]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def _where(user_id: int, filters: Filters) -> list[Any]:
    where: list[Any] = [Disclosure.user_id == user_id]
    if filters.client is not None:
        where.append(Disclosure.client_id == filters.client)
    if filters.start is not None:
        where.append(Disclosure.at >= filters.start)
    if filters.end is not None:
        where.append(Disclosure.at < filters.end)
    return where


def search(db: Session, user_id: int, filters: Filters, *, page: int = 1) -> Page:
    """One page of the person's disclosures, newest first."""
    where = _where(user_id, filters)
    total = int(db.scalar(select(func.count()).select_from(Disclosure).where(*where)) or 0)
    last = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), last)
    rows = list(db.scalars(select(Disclosure).where(*where).order_by(Disclosure.at.desc(), Disclosure.id.desc())
                           .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return Page(rows=rows, number=page, total=total)


def everything(db: Session, user_id: int, filters: Filters) -> list[Disclosure]:
    """Every row of the search, newest first (the exports)."""
    return list(db.scalars(select(Disclosure).where(*_where(user_id, filters))
                           .order_by(Disclosure.at.desc(), Disclosure.id.desc())))


def services(db: Session, user_id: int) -> list[tuple[int, str]]:
    """The e-Services in the person's log (id, latest name), for the search's list."""
    rows = db.execute(select(Disclosure.client_id, func.max(Disclosure.service_name))
                      .where(Disclosure.user_id == user_id, Disclosure.client_id.is_not(None))
                      .group_by(Disclosure.client_id))
    return sorted(((int(cid), str(name)) for cid, name in rows if cid is not None), key=lambda pair: pair[1].lower())


def display_names(db: Session, client_ids: Iterable[int | None], locale: str) -> dict[int, str]:
    """The e-Services' names in the reader's language, for those that still exist (else the stored name)."""
    ids = {i for i in client_ids if i is not None}
    if not ids:
        return {}
    return {c.id: c.display_name(locale) for c in db.scalars(select(Client).where(Client.id.in_(ids)))}


def _client_ids(db: Session, rows: list[Disclosure]) -> dict[int, str]:
    ids = {r.client_id for r in rows if r.client_id is not None}
    if not ids:
        return {}
    return {i: str(c) for i, c in db.execute(select(Client.id, Client.client_id).where(Client.id.in_(ids)))}


def as_json(db: Session, rows: list[Disclosure], *, now: dt.datetime) -> str:
    """The download: the person's rows as JSON (names of claims only, as the log holds them)."""
    client_ids = _client_ids(db, rows)
    body = {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(timespec="seconds"),
        "disclosures": [{
            "at": r.at.isoformat(timespec="seconds"), "e_service": r.service_name,
            "client_id": client_ids.get(r.client_id) if r.client_id is not None else None,
            "claims": list(r.claims), "acr": r.acr, "via": r.via, "reference": r.reference,
            "authorization_details": r.details} for r in rows],
    }
    return json.dumps(body, ensure_ascii=False, indent=2)


def csv_lines(db: Session, rows: list[Disclosure]) -> Iterator[str]:
    """The header, then one line per disclosure (RFC 4180, CRLF), every cell formula-safe."""
    client_ids = _client_ids(db, rows)
    return csv_export.lines(CSV_HEADER, (
        (r.at.strftime("%Y-%m-%dT%H:%M:%SZ"), r.service_name,
         client_ids.get(r.client_id) if r.client_id is not None else "", " ".join(r.claims), r.acr,
         r.via, r.reference, json.dumps(r.details, ensure_ascii=False) if r.details else "") for r in rows))


# -- retention ------------------------------------------------------------------------------------


def retention(config: Mapping[str, Any]) -> dt.timedelta:
    return dt.timedelta(days=int(config.get("DISCLOSURE_RETENTION_DAYS", 365)))


def prune(db: Session, *, now: dt.datetime, retention_days: int) -> int:
    """Delete the rows older than ``retention_days`` (and only those); how many. Committed."""
    result = db.execute(delete(Disclosure).where(Disclosure.at < now - dt.timedelta(days=retention_days))
                        .execution_options(synchronize_session=False))
    db.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
