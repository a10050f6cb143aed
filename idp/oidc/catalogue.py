"""Blueprint ``catalogue``: the public list of e-Services that use this ID (``/services``).

For each active e-Service: its name, what it may ask for (the consent page's own words) and the
minimum assurance its operator set (``default_acr_values``), in plain words. Nothing that helps an
attacker (client ids, redirect URIs, secrets) and no disabled e-Service is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import render_template
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import levels
from idp import wording
from idp.db import get_session
from idp.http import CSP
from idp.oidc.consent import describe
from idp.oidc.models import Client

bp = Blueprint("catalogue", __name__)

# Protocol scopes that release nothing about the person by themselves, and the national ID (its own note).
_NOT_LISTED = ("openid", "offline_access", "national_id")


@dataclass(frozen=True)
class Service:
    name: str
    asks_for: list[str]
    national_id: bool
    # Alternatives (any one is enough); each is the lines that make it up.
    assurance: list[list[str]]
    trusted: bool
    shared_identifier: bool
    logo_uri: str | None = None


def assurance_words(acr_values: list[str]) -> list[list[str]]:
    """The minimum an e-Service needs, as alternatives of plain lines (:func:`idp.wording.assurance_lines`)."""
    return wording.assurance_lines(acr_values, levels.policy())


def list_services(db: Session, locale: str | None = None) -> list[Service]:
    """Active e-Services by name in the reader's language, with what each may ask for and needs."""
    clients = sorted(db.scalars(select(Client).where(Client.active)),
                     key=lambda c: (c.display_name(locale).casefold(), c.id))
    out = []
    for client in clients:
        meta = client.client_metadata or {}
        national_id = bool(meta.get("national_id_allowed"))
        acr = meta.get("default_acr_values") or []
        out.append(Service(
            name=client.display_name(locale),
            logo_uri=client.logo_uri,
            asks_for=[describe(s) for s in dict.fromkeys(client.scopes) if s not in _NOT_LISTED],
            national_id=national_id,
            assurance=assurance_words(list(acr) if isinstance(acr, list) else []),
            trusted=client.trusted,
            shared_identifier=client.subject_type == "public",
        ))
    return out


@bp.get("/services")
def index() -> Response:
    response = Response(render_template("catalogue/index.html",
                                        services=list_services(get_session(), str(get_locale()))),
                        mimetype="text/html")
    # Not ``public``: every page carries the session's CSRF token (base.html) and may set the session
    # cookie, which a shared cache must never hand to someone else. The browser may keep it for 5 minutes.
    response.headers["Cache-Control"] = "private, max-age=300"
    # e-Services' logos live on their own https hosts; the images are sent no referrer.
    response.headers["Content-Security-Policy"] = CSP.replace("img-src 'self' data:", "img-src 'self' data: https:")
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response
