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
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import wording
from idp.assurance.policy import parse_acr
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


def ial_words(ial: int) -> str | None:
    """The identity an e-Service needs, in the words every page uses for the level, and how it is got."""
    if ial >= 3:
        return _("%(level)s: at a service counter, an officer checks your card and compares you with its photo",
                 level=wording.ial_words(3))
    if ial == 2:
        return _("%(level)s: your national ID card checked against the national registry",
                 level=wording.ial_words(2))
    return None


def aal_words(aal: int) -> str:
    if aal >= 3:
        return _("%(level)s, unlocked with a PIN or fingerprint", level=wording.aal_words(3))
    if aal == 2:
        return _("%(level)s: a second factor or a passkey", level=wording.aal_words(2))
    return _("Any sign-in")


def assurance_words(acr_values: list[str]) -> list[list[str]]:
    """The minimum an e-Service needs, as alternatives of plain lines (AAL1 for none or unknown)."""
    pairs = list(dict.fromkeys(p for p in (parse_acr(str(v)) for v in acr_values) if p))
    out: list[list[str]] = []
    for ial, aal in pairs or [(1, 1)]:
        identity = ial_words(ial)
        out.append([identity, aal_words(aal)] if identity else [aal_words(aal)])
    return out


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
